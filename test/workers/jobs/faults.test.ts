/**
 * The table of engine faults (test/helpers/faulty-engine.ts) on Workers: a job routed to the Transcoder, whose
 * container (the native worker behind the faulty engine) answers 413 or 503, dies mid-run or sends garbage, ends its
 * attempt exactly as the same job does on the Node fleet (test/e2e/engine-faults.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { faultyJob, FAULTS, firstOutcome } from '../../helpers/faulty-engine.js';
import type { SseEvent } from '../../helpers/sse.js';
import { api, media, newKey } from './helpers.js';

describe('engine faults on Workers', () => {
  for (const fault of FAULTS) {
    it(`a container that ${fault.name}: ${fault.outcome.status} ${fault.outcome.error_code}`, async () => {
      const { key } = await newKey();
      const c = api(key);
      const input = await c.upload(media('small'), 'small.mp4');
      const job = await c.convert(faultyJob(input, fault.marker));
      expect(job).toMatchObject({ engine: 'native' });
      const seen: SseEvent[] = [];
      await c.events(job.id, (event) => {
        seen.push(event);
        return firstOutcome(seen) !== null || event.event === 'done';
      });
      expect(firstOutcome(seen)).toEqual(fault.outcome);
      await c.fetch(`/api/v1/jobs/${job.id}`, { method: 'DELETE' });
      expect(JSON.stringify(await c.get(job.id))).not.toContain('/srv/secret');
    });
  }
});
