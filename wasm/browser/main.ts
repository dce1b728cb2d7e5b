/**
 * The preview page (GET /preview): a request made with a small form or as JSON, checked and planned by the server's
 * own code (request.ts), previewed in this browser by ffmpeg.wasm (engine.ts), then run as a job with the SDK
 * (@ffedge/client: upload, convert, wait over fetch-streamed SSE); the output through its signed link.
 * The key lives in sessionStorage only: it goes in Authorization headers, never in a URL.
 */
import type { Limits } from '../../src/config.js';
import { AUDIO_CODECS, NAMED_RESOLUTIONS, OUTPUT_FORMATS, PICTURE_CODECS } from '../../src/media/formats.js';
import { isPlanProblems } from '../../src/media/plan.js';
import type { Requirements } from '../../src/media/routing.js';
import type { PresetBody } from '../../src/schemas/convert.js';
import { BrowserEngine } from './engine.js';
import { LOCAL_INPUT, checkRequest, forServer, limitsFrom, previewPlan, type Checked } from './request.js';
import { Ffedge, FfedgeProblem, type ConvertBody, type Job } from '@ffedge/client';

/** Set by scripts/build-preview.mjs: where the core is served, relative to the page. */
declare const FFEDGE_CORE_BASE: string;

const KEY_STORAGE = 'ffedge.key';
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const state = {
  limits: null as Limits | null,
  listed: null as Requirements | null,
  presets: new Map<string, PresetBody>(),
  file: null as File | null,
  fileLoaded: null as File | null,
  checked: null as Checked | null,
  previewing: false,
  again: false,
  previewUrl: null as string | null,
  /** The JSON the preview on show was made from. */
  shown: null as string | null,
  /** performance.now() of the first preview frame, and where the time went, for bench/preview.ts. */
  firstFrameMs: null as number | null,
  timings: {} as Record<string, number>,
};

const core = new URL(FFEDGE_CORE_BASE, location.href);
const engine = new BrowserEngine({
  coreURL: new URL('ffmpeg-core.js', core).href,
  wasmURL: new URL('ffmpeg-core.wasm', core).href,
  classWorkerURL: new URL('ffmpeg-worker.js', location.href).href,
});

function client(): Ffedge {
  return new Ffedge({ baseUrl: location.origin, key: $<HTMLInputElement>('key').value.trim() });
}

// ------------------------------------------------------------------------------------------------- the form

function fillSelect(id: string, values: readonly string[]): void {
  const select = $<HTMLSelectElement>(id);
  for (const value of values) select.append(new Option(value, value));
}

/** The request the form describes; the JSON box shows it and may be edited beyond what the form offers. */
function fromForm(): Record<string, unknown> {
  const value = (id: string) => $<HTMLInputElement>(id).value.trim();
  const number = (id: string) => (value(id) === '' ? undefined : Number(value(id)));
  const preset = value('preset');
  const operations: Record<string, unknown>[] = [];
  if (value('trim-start') || value('trim-end')) {
    operations.push({ type: 'trim', ...(value('trim-start') ? { start: value('trim-start') } : {}), ...(value('trim-end') ? { end: value('trim-end') } : {}) });
  }
  if (number('crop-width') !== undefined && number('crop-height') !== undefined) {
    operations.push({ type: 'crop', width: number('crop-width'), height: number('crop-height'), ...(number('crop-x') !== undefined ? { x: number('crop-x') } : {}), ...(number('crop-y') !== undefined ? { y: number('crop-y') } : {}) });
  }
  if (value('size')) operations.push({ type: 'resize', size: value('size') });
  if (value('rotate')) operations.push({ type: 'rotate', degrees: Number(value('rotate')) });
  const video = value('vcodec') ? { codec: value('vcodec') } : undefined;
  const audio = value('acodec') ? { codec: value('acodec') } : undefined;
  const output = video || audio ? { format: value('format'), ...(video ? { video } : {}), ...(audio ? { audio } : {}) } : value('format');
  return { input: LOCAL_INPUT, ...(preset ? { preset } : { output }), ...(preset && (video || audio) ? { output } : {}), ...(operations.length ? { operations } : {}) };
}

function body(): unknown {
  try {
    return JSON.parse($<HTMLTextAreaElement>('json').value);
  } catch {
    return undefined;
  }
}

/** Checks the request as the server would and names what the browser's core cannot run, before anything starts. */
function refresh(): void {
  const list = $<HTMLUListElement>('checks');
  list.replaceChildren();
  const item = (kind: string, text: string) => {
    const li = document.createElement('li');
    li.className = kind;
    li.textContent = text;
    list.append(li);
  };
  const parsed = body();
  if (parsed === undefined) {
    state.checked = null;
    item('invalid', 'The JSON does not parse.');
  } else if (!state.limits) {
    state.checked = null;
    item('invalid', 'Waiting for the server’s limits (GET /api/v1/capabilities)…');
  } else {
    const name = (parsed as { preset?: unknown }).preset;
    const preset = typeof name === 'string' ? (state.presets.get(name) ?? null) : null;
    if (typeof name === 'string' && !preset) {
      state.checked = null;
      item('invalid', `Unknown preset ${name}: enter the key to load the presets.`);
    } else {
      state.checked = checkRequest(parsed, preset, state.limits, state.listed);
      if (!state.checked.ok) for (const p of state.checked.problems) item('invalid', `${p.pointer}: ${p.message}`);
      else if (state.checked.cannot.length > 0) {
        for (const m of state.checked.cannot) item('cannot', `Cannot preview in the browser: ${m.reason}. A server with native ffmpeg still runs it.`);
      } else item('ok', 'The browser can preview this request.');
    }
  }
  const checks = !state.checked?.ok ? 'invalid' : state.checked.cannot.length > 0 ? 'cannot' : 'ok';
  document.body.dataset.checks = checks;
  if (state.file && checks !== 'ok' && !state.previewing) {
    $<HTMLParagraphElement>('preview-status').textContent = 'Not previewed: see the checks under the request.';
  }
  const hasKey = $<HTMLInputElement>('key').value.trim() !== '';
  $<HTMLButtonElement>('preview-button').disabled = !(checks === 'ok' && state.file);
  $<HTMLButtonElement>('run-button').disabled = !(checks !== 'invalid' && hasKey && state.file);
}

function formChanged(): void {
  $<HTMLTextAreaElement>('json').value = JSON.stringify(fromForm(), null, 2);
  requestChanged();
}

function requestChanged(): void {
  refresh();
  schedulePreview();
}

// ---------------------------------------------------------------------------------------------- the preview

let timer: ReturnType<typeof setTimeout> | undefined;
function schedulePreview(): void {
  clearTimeout(timer);
  timer = setTimeout(() => void preview(), 300);
}

async function preview(): Promise<void> {
  const checked = state.checked;
  if (!checked?.ok || checked.cannot.length > 0 || !state.file || !state.limits) return;
  if (state.previewing) {
    state.again = true;
    return;
  }
  state.previewing = true;
  const source = $<HTMLTextAreaElement>('json').value;
  const status = $<HTMLParagraphElement>('preview-status');
  document.body.dataset.preview = 'running';
  try {
    status.textContent = 'Converting the first seconds in the browser…';
    const began = performance.now();
    if (state.fileLoaded !== state.file) {
      await engine.setInput(state.file);
      state.fileLoaded = state.file;
    }
    const loaded = performance.now();
    const probe = await engine.probe();
    state.timings = { startMs: began, inputMs: loaded - began, probeMs: performance.now() - loaded };
    const limits = state.limits;
    const plan = previewPlan(checked.request, probe, limits);
    if (isPlanProblems(plan)) throw new Error(plan.map((p) => `${p.pointer}: ${p.message}`).join('; '));
    const started = performance.now();
    const output = await engine.run(plan, (measured) => previewPlan(checked.request, probe, limits, measured), (args) => {
      $<HTMLPreElement>('argv').textContent = ['ffmpeg', ...args].join(' ');
    });
    state.timings.runMs = performance.now() - started;
    show(output.bytes, output.contentType);
    status.textContent = `Preview of ${output.name} (${(output.bytes.byteLength / 1024).toFixed(0)} KiB) made in ${((performance.now() - started) / 1000).toFixed(1)} s.`;
    state.shown = source;
    document.body.dataset.preview = state.again ? 'running' : 'done';
  } catch (error) {
    status.textContent = `The preview failed: ${error instanceof Error ? error.message : String(error)}`;
    document.body.dataset.preview = 'failed';
    engine.reset();
    state.fileLoaded = null;
  } finally {
    state.previewing = false;
    if (state.again) {
      state.again = false;
      void preview();
    }
  }
}

/** Images (stills, GIF, animated WebP) in an <img>, the rest in the <video>, which also plays audio. */
function show(bytes: Uint8Array, contentType: string): void {
  if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
  state.previewUrl = URL.createObjectURL(new Blob([bytes as BlobPart], { type: contentType }));
  const video = $<HTMLVideoElement>('video');
  const still = $<HTMLImageElement>('still');
  const image = contentType.startsWith('image/');
  video.hidden = image;
  still.hidden = !image;
  if (image) {
    video.removeAttribute('src');
    still.src = state.previewUrl;
    return;
  }
  video.addEventListener('loadeddata', () => (state.firstFrameMs ??= performance.now()), { once: true });
  // The job is still what it is: a container this browser does not play (Matroska, QuickTime...) is only said so.
  video.addEventListener('error', () => ($<HTMLParagraphElement>('preview-status').textContent += ` This browser cannot play ${contentType}; the job makes it all the same.`), { once: true });
  video.src = state.previewUrl;
}

// -------------------------------------------------------------------------------------------- the server

async function runOnServer(): Promise<void> {
  const file = state.file;
  const parsed = body() as Record<string, unknown> | undefined;
  if (!file || !parsed) return;
  const status = $<HTMLParagraphElement>('job-status');
  const progress = $<HTMLProgressElement>('job-progress');
  const link = $<HTMLAnchorElement>('download');
  link.hidden = true;
  $<HTMLButtonElement>('run-button').disabled = true;
  try {
    const api = client();
    status.textContent = 'Uploading…';
    const upload = await api.upload(file, { filename: file.name });
    const submitted = await api.convert(forServer(parsed, upload.uri) as ConvertBody);
    status.textContent = `Job ${submitted.id} ${submitted.status} (engine ${submitted.engine ?? 'to be chosen'})`;
    document.body.dataset.job = submitted.status;
    const job = await submitted.wait({
      onProgress(update) {
        if (update.percentage != null) progress.value = update.percentage;
        document.body.dataset.job = 'processing';
        status.textContent = `Job ${submitted.id} processing, ${update.stage}${update.percentage != null ? ` ${update.percentage.toFixed(0)} %` : ''}`;
      },
    });
    finished(job);
  } catch (error) {
    status.textContent = error instanceof FfedgeProblem ? `Refused (${error.status} ${error.code}): ${error.detail ?? error.title}` : `Failed: ${String(error)}`;
    document.body.dataset.job = 'error';
  } finally {
    refresh();
  }
}

function finished(job: Job): void {
  const status = $<HTMLParagraphElement>('job-status');
  document.body.dataset.job = job.status;
  if (job.status !== 'completed') {
    status.textContent = `Job ${job.id} ${job.status}${job.error ? `: ${job.error.message}` : ''}`;
    return;
  }
  $<HTMLProgressElement>('job-progress').value = 100;
  const output = job.outputs[0]!;
  status.textContent = `Job ${job.id} completed on ${job.engine ?? 'the server'}: ${output.name}`;
  const link = $<HTMLAnchorElement>('download');
  // The output's url is a signed link (no key, for a while): the browser downloads it itself, nothing held here.
  link.href = new URL(output.url, location.origin).href;
  link.download = output.name;
  link.textContent = `Download ${output.name}${output.size ? ` (${(output.size / 1024).toFixed(0)} KiB)` : ''}`;
  link.hidden = false;
}

// --------------------------------------------------------------------------------------------- start-up

async function loadPresets(): Promise<void> {
  const key = $<HTMLInputElement>('key').value.trim();
  if (!key) return;
  const response = await fetch('/api/v1/presets', { headers: { authorization: `Bearer ${key}` } }).catch(() => null);
  if (!response?.ok) return;
  const { items } = (await response.json()) as { items: (PresetBody & { name: string })[] };
  const select = $<HTMLSelectElement>('preset');
  select.replaceChildren(new Option('none', ''));
  for (const { name, ...preset } of items) {
    state.presets.set(name, preset);
    select.append(new Option(name, name));
  }
  refresh();
}

async function loadCapabilities(): Promise<void> {
  const response = await fetch('/api/v1/capabilities');
  const view = (await response.json()) as { limits: Record<string, number>; engines: ({ name: string } & Requirements)[] };
  state.limits = limitsFrom(view.limits);
  // The server's wasm engine runs the same core: its listing is this core's (the known failures left out).
  const wasm = view.engines.find((e) => e.name === 'wasm');
  if (wasm) state.listed = { encoders: wasm.encoders, decoders: wasm.decoders, filters: wasm.filters, muxers: wasm.muxers };
  refresh();
}

function start(): void {
  fillSelect('format', OUTPUT_FORMATS);
  fillSelect('vcodec', PICTURE_CODECS);
  fillSelect('acodec', AUDIO_CODECS);
  fillSelect('size', Object.keys(NAMED_RESOLUTIONS).reverse());
  const key = $<HTMLInputElement>('key');
  key.value = sessionStorage.getItem(KEY_STORAGE) ?? '';
  key.addEventListener('input', refresh);
  key.addEventListener('change', () => {
    sessionStorage.setItem(KEY_STORAGE, key.value.trim());
    void loadPresets();
    refresh();
  });
  $<HTMLInputElement>('file').addEventListener('change', (event) => {
    state.file = (event.target as HTMLInputElement).files?.[0] ?? null;
    // At once: the debounce is for typing in the request.
    refresh();
    void preview();
  });
  $<HTMLFormElement>('form').addEventListener('input', formChanged);
  $<HTMLSelectElement>('preset').addEventListener('change', formChanged);
  $<HTMLTextAreaElement>('json').addEventListener('input', requestChanged);
  $<HTMLButtonElement>('preview-button').addEventListener('click', () => void preview());
  $<HTMLButtonElement>('run-button').addEventListener('click', () => void runOnServer());
  formChanged();

  const coreStatus = $<HTMLParagraphElement>('core-status');
  const loading = performance.now();
  engine
    .load()
    .then(async () => {
      coreStatus.textContent = `ffmpeg.wasm ready (${((performance.now() - loading) / 1000).toFixed(1)} s).`;
      state.timings.coreReadyMs = performance.now();
      document.body.dataset.core = 'ready';
      if (!state.listed) {
        state.listed = await engine.listing();
        refresh();
      }
    })
    .catch((error: unknown) => {
      coreStatus.textContent = `ffmpeg.wasm did not load: ${String(error)}`;
      document.body.dataset.core = 'failed';
    });
  void loadCapabilities();
  void loadPresets();
}

(window as unknown as { ffedgePreview: typeof state }).ffedgePreview = state;
start();
