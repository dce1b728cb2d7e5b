-- A job's webhook deliveries are made by the database, in the statement that writes the event they deliver (one
-- event log: the SSE stream and the webhooks are the same rows, and an event cannot exist without its delivery).
-- The event names here are src/delivery/events.ts's (a test holds them together). `webhook_events` is resolved at
-- submission (the request's list, or the terminal events); progress is thinned to one delivery per 10 s and per
-- 10 %. A job whose receiver answered 410 Gone has `webhook_stopped_at` set and gets no more.
CREATE TRIGGER job_event_webhook AFTER INSERT ON job_events
WHEN EXISTS (SELECT 1 FROM jobs WHERE id = NEW.job_id AND webhook_url IS NOT NULL AND webhook_stopped_at IS NULL)
BEGIN
  INSERT INTO webhook_deliveries (event_id, job_id, event, url, status, attempts, next_attempt_at, percentage, created_at, updated_at)
  SELECT NEW.id, j.id, e.name, j.webhook_url, 'pending', 0, NEW.created_at, json_extract(NEW.data, '$.percentage'), NEW.created_at, NEW.created_at
  FROM jobs j,
    (SELECT CASE
      WHEN NEW.type = 'progress' THEN 'job.progress'
      WHEN json_extract(NEW.data, '$.status') = 'queued' AND json_extract(NEW.data, '$.attempt') > 0 THEN 'job.retrying'
      WHEN json_extract(NEW.data, '$.status') = 'processing' THEN 'job.started'
      ELSE 'job.' || json_extract(NEW.data, '$.status')
    END AS name) e
  WHERE j.id = NEW.job_id
    AND EXISTS (SELECT 1 FROM json_each(j.webhook_events) WHERE value = e.name)
    AND (e.name != 'job.progress' OR (
      json_extract(NEW.data, '$.percentage') IS NOT NULL
      AND NOT EXISTS (
        SELECT 1 FROM webhook_deliveries p
        WHERE p.job_id = j.id AND p.event = 'job.progress'
          AND (p.created_at > NEW.created_at - 10000 OR p.percentage > json_extract(NEW.data, '$.percentage') - 10)
      )
    ));
END;
