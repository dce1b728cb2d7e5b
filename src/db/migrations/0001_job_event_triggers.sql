-- Job events are written by the database itself, in the same statement as the state change they record, so a
-- transition and its event can never be separated (audit #1). Progress events are bounded to the newest 100 per job.
CREATE TRIGGER job_created_event AFTER INSERT ON jobs BEGIN
  INSERT INTO job_events (job_id, type, data, created_at)
  VALUES (NEW.id, 'status', json_object('status', NEW.status, 'attempt', NEW.attempts), NEW.created_at);
END;
--> statement-breakpoint
CREATE TRIGGER job_status_event AFTER UPDATE OF status ON jobs WHEN NEW.status IS NOT OLD.status BEGIN
  INSERT INTO job_events (job_id, type, data, created_at)
  VALUES (NEW.id, 'status', json_object(
    'status', NEW.status,
    'attempt', NEW.attempts,
    'error_code', NEW.error_code,
    'error_message', NEW.error_message
  ), NEW.updated_at);
END;
--> statement-breakpoint
CREATE TRIGGER job_progress_event AFTER UPDATE OF progress_stage, progress_out_time_s, progress_percentage ON jobs
WHEN NEW.status = 'processing' AND (
  NEW.progress_stage IS NOT OLD.progress_stage
  OR NEW.progress_out_time_s IS NOT OLD.progress_out_time_s
  OR NEW.progress_percentage IS NOT OLD.progress_percentage
) BEGIN
  INSERT INTO job_events (job_id, type, data, created_at)
  VALUES (NEW.id, 'progress', json_object(
    'percentage', NEW.progress_percentage,
    'stage', NEW.progress_stage,
    'fps', NEW.progress_fps,
    'speed', NEW.progress_speed,
    'out_time_s', NEW.progress_out_time_s,
    'eta_s', NEW.progress_eta_s
  ), NEW.updated_at);
  DELETE FROM job_events WHERE job_id = NEW.id AND type = 'progress' AND id <= (
    SELECT id FROM job_events WHERE job_id = NEW.id AND type = 'progress' ORDER BY id DESC LIMIT 1 OFFSET 100
  );
END;
