/**
 * The ffedge client: one object per base URL and key. The request layer is openapi-fetch over the generated types
 * (openapi.ts), so every path, body and answer is the server's own document; this file adds what a document cannot
 * say: problems as errors, retries after Retry-After, following a job over SSE with resume, and downloads.
 */
import createClient from 'openapi-fetch';
import { FfedgeProblem } from './problem.js';
import { retryingFetch, type RetryOptions } from './retry.js';
import { followEvents, type EventsOptions, type JobEvent } from './events.js';
import type { AnalyzeBody, ConvertBody, Estimate, EstimateBody, Job, JobList, ListJobsQuery, Progress, ProbeBody, StreamBody, Upload, paths } from './types.js';

export interface FfedgeOptions {
  /** The service's origin, e.g. `https://ffedge.example.com` (paths start with /api/v1). */
  baseUrl: string;
  /** An API key `ffe_<id>_<secret>`, sent as `Authorization: Bearer`. */
  key: string;
  /** Another fetch (a Worker's service binding, a proxy agent, a test's recorder); the global one by default. */
  fetch?: (input: Request, init?: RequestInit) => Promise<Response>;
  /** How many times a 429/503 is retried after its Retry-After (default 3; 0 turns it off). */
  retries?: number;
  /** The longest Retry-After waited for (default 60 s); a longer one is thrown as the FfedgeProblem. */
  maxRetryDelayMs?: number;
}

export interface WaitOptions {
  onProgress?: (progress: Progress, job: { id: string }) => void;
  signal?: AbortSignal;
}

export interface UploadOptions {
  filename?: string;
  contentType?: string;
  signal?: AbortSignal;
}

/** A job as the server answered, with `wait()` to follow it to its end. */
export type JobHandle = Job & { wait(options?: WaitOptions): Promise<Job> };

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The data of a 2xx answer, or the answer's FfedgeProblem. */
function ok<T>({ data, error, response }: Answer<T>): T {
  if (!response.ok) throw new FfedgeProblem(response.status, error, response.headers);
  return data as T;
}

export class Ffedge {
  /** The typed openapi-fetch client, for anything this class has no method for. */
  readonly api: ReturnType<typeof createClient<paths>>;
  readonly jobs: ReturnType<Ffedge['jobsApi']>;
  readonly #fetch: (input: Request, init?: RequestInit) => Promise<Response>;
  readonly #rawFetch: (input: Request, init?: RequestInit) => Promise<Response>;
  readonly #baseUrl: string;

  constructor(options: FfedgeOptions) {
    const base = options.fetch ?? ((input: Request, init?: RequestInit) => globalThis.fetch(input, init));
    const retry: RetryOptions = { retries: options.retries ?? 3, maxDelayMs: options.maxRetryDelayMs ?? 60_000, baseDelayMs: 1_000 };
    this.#rawFetch = base;
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#fetch = retryingFetch(base, retry);
    this.api = createClient<paths>({
      baseUrl: this.#baseUrl,
      headers: { authorization: `Bearer ${options.key}` },
      fetch: this.#fetch,
    });
    this.jobs = this.jobsApi();
  }

  /**
   * Stores a file and returns its `upload:` URI for a job's input. A Blob (a browser File, Node's openAsBlob) is
   * retried on 429/503; a ReadableStream is sent once (it cannot be read twice) and is never buffered.
   */
  async upload(body: Blob | ReadableStream<Uint8Array> | ArrayBuffer | Uint8Array, options: UploadOptions = {}): Promise<Upload> {
    const streamed = body instanceof ReadableStream;
    const contentType = options.contentType ?? (body instanceof Blob && body.type ? body.type : 'application/octet-stream');
    const filename = options.filename ?? (typeof File !== 'undefined' && body instanceof File ? body.name : undefined);
    return ok(
      await this.api.POST('/api/v1/uploads', {
        params: { query: filename === undefined ? {} : { filename } },
        body: body as unknown as string,
        bodySerializer: (b: unknown) => b as BodyInit,
        headers: { 'content-type': contentType },
        ...(streamed ? { fetch: this.#rawFetch, duplex: 'half' } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      } as never),
    ) as Upload;
  }

  async convert(body: ConvertBody, options: { idempotencyKey?: string } = {}): Promise<JobHandle> {
    return this.handle(ok(await this.api.POST('/api/v1/convert', { body, headers: idempotency(options) })));
  }

  async stream(body: StreamBody, options: { idempotencyKey?: string } = {}): Promise<JobHandle> {
    return this.handle(ok(await this.api.POST('/api/v1/stream', { body, headers: idempotency(options) })) as Job);
  }

  async probe(body: ProbeBody, options: { idempotencyKey?: string } = {}): Promise<JobHandle> {
    return this.handle(ok(await this.api.POST('/api/v1/probe', { body, headers: idempotency(options) })) as Job);
  }

  async analyze(body: AnalyzeBody, options: { idempotencyKey?: string } = {}): Promise<JobHandle> {
    return this.handle(ok(await this.api.POST('/api/v1/analyze', { body, headers: idempotency(options) })) as Job);
  }

  async estimate(body: EstimateBody): Promise<Estimate> {
    return ok(await this.api.POST('/api/v1/estimate', { body })) as Estimate;
  }

  /** An output's bytes as a streaming Response (the first output unless `name` says which). */
  async download(job: Job | string, name?: string, init: { range?: string; signal?: AbortSignal } = {}): Promise<Response> {
    const current = typeof job === 'string' ? await this.jobs.get(job) : job;
    const output = name === undefined ? current.outputs[0] : current.outputs.find((o) => o.name === name);
    if (!output) throw new FfedgeProblem(404, { type: 'about:blank', title: 'Not found', status: 404, code: 'NOT_FOUND', detail: `The job has no output ${name ?? ''}`.trim() + '.' });
    const response = await this.api.GET('/api/v1/jobs/{id}/outputs/{name}', {
      params: { path: { id: current.id, name: output.name } },
      // The name keeps its folders (a package's hls/720p/seg.m4s): one encoded segment each, as the server's url.
      pathSerializer: () => this.#baseUrl + output.url,
      parseAs: 'stream',
      headers: init.range ? { range: init.range } : {},
      ...(init.signal ? { signal: init.signal } : {}),
    } as never);
    ok(response);
    return response.response;
  }

  private handle(job: Job): JobHandle {
    return { ...job, wait: (options?: WaitOptions) => this.wait(job.id, options) };
  }

  /** Follows the job's events until it ends; resolves with the final job (completed, failed or cancelled). */
  private async wait(id: string, options: WaitOptions = {}): Promise<Job> {
    for await (const event of this.jobs.events(id, options.signal ? { signal: options.signal } : {})) {
      if (event.type === 'progress') options.onProgress?.(event.data, { id });
      if (event.type === 'done') return event.data;
    }
    // The iterator only ends at `done` or by throwing.
    throw new Error('the event stream ended before the job did');
  }

  private jobsApi() {
    const api = () => this.api;
    return {
      get: async (id: string): Promise<JobHandle> => this.handle(ok(await api().GET('/api/v1/jobs/{id}', { params: { path: { id } } }))),
      list: async (query: ListJobsQuery = {}): Promise<JobList> => ok(await api().GET('/api/v1/jobs', { params: { query } })) as JobList,
      cancel: async (id: string): Promise<Job> => ok(await api().DELETE('/api/v1/jobs/{id}', { params: { path: { id } } })) as Job,
      logs: async (id: string): Promise<string> => ok(await api().GET('/api/v1/jobs/{id}/logs', { params: { path: { id } }, parseAs: 'text' })) as string,
      /** The job's events, reconnecting with Last-Event-ID when the stream drops, until `done`. */
      events: (id: string, options: EventsOptions = {}): AsyncGenerator<JobEvent> =>
        followEvents(async (lastEventId, signal) => {
          const answer = await api().GET('/api/v1/jobs/{id}/events', {
            params: { path: { id } },
            parseAs: 'stream',
            headers: lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
            ...(signal ? { signal } : {}),
          });
          ok(answer);
          return answer.response.body!;
        }, options),
    };
  }
}

function idempotency(options: { idempotencyKey?: string }): Record<string, string> {
  return options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {};
}

