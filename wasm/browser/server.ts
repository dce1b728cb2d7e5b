/**
 * The page's server part: upload, submit, follow, download, over fetch with the key in the Authorization header
 * (never in a URL). Shaped like the SDK (`@ffedge/client`, packages/client on branch issue11-sdk) so that it can be
 * swapped for it: one client per key, `upload(blob)`, `convert(body)`, `wait(id, { onProgress, signal })` over SSE,
 * `download(job, name)`, problems thrown as FfedgeProblem.
 */

export interface JobOutput {
  name: string;
  url: string;
  content_type?: string;
  size?: number | null;
}

export interface Job {
  id: string;
  status: 'queued' | 'processing' | 'completed' | 'failed' | 'cancelled';
  engine?: string | null;
  progress?: { percentage: number | null; stage: string | null } | null;
  error?: { code: string; message: string } | null;
  outputs: JobOutput[];
}

export class FfedgeProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly detail: string,
    readonly errors: { pointer: string; message: string }[] = [],
  ) {
    super(detail);
    this.name = 'FfedgeProblem';
  }
}

export interface Client {
  upload(file: Blob, filename: string): Promise<{ id: string; uri: string }>;
  convert(body: unknown): Promise<Job>;
  wait(id: string, options?: { onProgress?: (job: Partial<Job> & { event: string }) => void; signal?: AbortSignal }): Promise<Job>;
  download(job: Job, name: string): Promise<Blob>;
}

export function createClient(options: { baseUrl: string; key: string }): Client {
  const auth = { authorization: `Bearer ${options.key}` };
  const url = (path: string) => new URL(path, options.baseUrl).href;

  async function call(path: string, init: RequestInit = {}): Promise<Response> {
    const response = await fetch(url(path), { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });
    if (!response.ok) throw await problemOf(response);
    return response;
  }

  return {
    async upload(file, filename) {
      const response = await call(`/api/v1/uploads?filename=${encodeURIComponent(filename)}`, {
        method: 'POST',
        headers: { 'content-type': file.type || 'application/octet-stream' },
        body: file,
      });
      return (await response.json()) as { id: string; uri: string };
    },
    async convert(body) {
      const response = await call('/api/v1/convert', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return (await response.json()) as Job;
    },
    async wait(id, { onProgress, signal } = {}) {
      // EventSource cannot send the key, so the stream is read over fetch; a dropped stream resumes from its last id.
      let lastId: string | undefined;
      for (;;) {
        const headers: Record<string, string> = { accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) };
        const response = await call(`/api/v1/jobs/${encodeURIComponent(id)}/events`, { headers, ...(signal ? { signal } : {}) });
        for await (const event of readEvents(response.body!)) {
          if (event.id) lastId = event.id;
          const data = event.data ? (JSON.parse(event.data) as Partial<Job>) : {};
          if (event.event === 'done') return data as Job;
          onProgress?.({ ...data, event: event.event });
        }
        signal?.throwIfAborted();
      }
    },
    async download(job, name) {
      const output = job.outputs.find((o) => o.name === name);
      if (!output) throw new Error(`the job has no output ${name}`);
      return (await call(output.url)).blob();
    },
  };
}

async function problemOf(response: Response): Promise<FfedgeProblem> {
  const body = (await response.json().catch(() => ({}))) as { code?: string; detail?: string; title?: string; errors?: { pointer: string; message: string }[] };
  return new FfedgeProblem(response.status, body.code, body.detail ?? body.title ?? `HTTP ${response.status}`, body.errors ?? []);
}

interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** Server-Sent Events from a response body (the text/event-stream format: blocks of field lines, comments skipped). */
async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: SseEvent = { event: 'message', data: '' };
        let fields = 0;
        for (const line of block.split('\n')) {
          if (line === '' || line.startsWith(':')) continue;
          fields++;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event.event = value;
          else if (field === 'data') event.data += (event.data ? '\n' : '') + value;
          else if (field === 'id') event.id = value;
        }
        if (fields > 0) yield event;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
