/**
 * An engine service that misbehaves on request, in front of a real one: every request is passed through to
 * `target` byte for byte (an abort on either side reaches the other), except a run whose ffmpeg arguments name a
 * fault (a job with `metadata.tags.title` set to one of FAULTS' markers puts it there). Both runtimes' tests drive
 * their jobs through it (test/e2e/engine-faults.test.ts on the Node fleet, test/workers/jobs/faults.test.ts on
 * Workers), so one table says what a job makes of each fault, whichever path it runs on.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Fault {
  name: string;
  /** The run's arguments carry this (as `-metadata title=<marker>`). */
  marker: string;
  /** The status event that ends the job's first attempt: failed for good, or queued again for another attempt. */
  outcome: { status: 'failed' | 'queued'; error_code: string };
}

export const FAULTS: readonly Fault[] = [
  { name: 'answers 413', marker: 'fault-413', outcome: { status: 'failed', error_code: 'RESOURCE_LIMIT' } },
  { name: 'answers 503', marker: 'fault-503', outcome: { status: 'queued', error_code: 'ENGINE_UNAVAILABLE' } },
  { name: 'answers 422 FFMPEG_FAILED', marker: 'fault-422', outcome: { status: 'failed', error_code: 'FFMPEG_FAILED' } },
  { name: 'dies in the middle of the run', marker: 'fault-cut', outcome: { status: 'queued', error_code: 'ENGINE_UNAVAILABLE' } },
  { name: 'sends garbage', marker: 'fault-garbage', outcome: { status: 'queued', error_code: 'ENGINE_UNAVAILABLE' } },
  { name: 'reports an ffmpeg error', marker: 'fault-error-line', outcome: { status: 'failed', error_code: 'FFMPEG_FAILED' } },
];

const line = (value: unknown) => `${JSON.stringify(value)}\n`;

function misbehave(marker: string, res: ServerResponse): void {
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  switch (marker) {
    case 'fault-413':
      return json(413, { code: 'INPUT_TOO_LARGE', message: 'too large' });
    case 'fault-503':
      return json(503, { code: 'BUSY', message: 'busy' });
    case 'fault-422':
      return json(422, { code: 'FFMPEG_FAILED', message: 'ffmpeg failed' });
    case 'fault-garbage':
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      return void res.end('<html>this is not the protocol</html>\n');
    case 'fault-error-line':
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      return void res.end(line({ type: 'started', v: 1 }) + line({ type: 'error', code: 'FFMPEG_FAILED', message: 'x', log_tail: '/srv/secret/path: Invalid data' }));
    case 'fault-cut':
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(line({ type: 'started', v: 1 }));
      res.write(line({ type: 'progress', progress: { percentage: 10, stage: 'processing', fps: null, speed: null, out_time_s: 0.1, eta_s: null } }));
      // The connection goes away before the run says how it ended.
      setTimeout(() => res.socket?.destroy(), 50);
      return;
  }
}

/** Reads the body up to its first newline (the protocol's header line); what was read is kept for passing on. */
function headerLine(req: IncomingMessage): Promise<{ header: string; buffered: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const buffered: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer) => {
      buffered.push(chunk);
      length += chunk.length;
      const all = Buffer.concat(buffered);
      const newline = all.indexOf(10);
      if (newline >= 0 || length > 1024 * 1024) {
        req.off('data', onData);
        req.pause();
        resolve({ header: all.subarray(0, Math.max(0, newline)).toString('utf8'), buffered });
      }
    };
    req.on('data', onData);
    req.once('end', () => resolve({ header: Buffer.concat(buffered).toString('utf8'), buffered }));
    req.once('error', reject);
  });
}

export async function startFaultyEngine(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const server = createServer(async (req, res) => {
    let buffered: Buffer[] = [];
    if (req.method === 'POST' && req.url === '/v1/run') {
      const read = await headerLine(req).catch(() => null);
      if (!read) return void res.destroy();
      buffered = read.buffered;
      const args = (() => {
        try {
          return (JSON.parse(read.header) as { args?: unknown }).args;
        } catch {
          return undefined;
        }
      })();
      const marker = Array.isArray(args) ? FAULTS.find((fault) => args.some((arg) => String(arg).includes(`title=${fault.marker}`)))?.marker : undefined;
      if (marker) {
        req.resume();
        return misbehave(marker, res);
      }
    }
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.once('error', () => res.destroy());
      },
    );
    forward.once('error', () => res.destroy());
    // Either side going away ends the other: a cancel reaches the engine, which kills ffmpeg.
    res.once('close', () => {
      if (!res.writableFinished) forward.destroy();
    });
    for (const chunk of buffered) forward.write(chunk);
    req.pipe(forward);
    req.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The status a job's first attempt ended in, from its SSE events: the first status event after `processing`. */
export function firstOutcome(events: { event: string; data: string }[]): { status: string; error_code: string | null } | null {
  const statuses = events.filter((e) => e.event === 'status').map((e) => JSON.parse(e.data) as { status: string; error_code?: string | null });
  const started = statuses.findIndex((s) => s.status === 'processing');
  const next = started >= 0 ? statuses[started + 1] : undefined;
  return next ? { status: next.status, error_code: next.error_code ?? null } : null;
}

/** A job that runs on native ffmpeg (wasm has no VP9 encoder) and carries a fault's marker in its arguments. */
export function faultyJob(input: string, marker: string): Record<string, unknown> {
  return {
    input,
    output: { format: 'webm', video: { codec: 'vp9' }, audio: false },
    operations: [{ type: 'metadata', tags: { title: marker } }],
  };
}
