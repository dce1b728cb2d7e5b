/**
 * ffmpeg.wasm in the page: @ffmpeg/ffmpeg's worker running the single-thread @ffmpeg/core, both served by this
 * origin (no CDN: the page works offline and under its CSP). Runs a plan's passes as the server's wasm engine does:
 * the same probe argv and parser (src/engine/ffmpeg-output.ts), the plan's argv, the measuring passes re-planned.
 */
import { FFmpeg } from '@ffmpeg/ffmpeg';
import { fetchFile } from '@ffmpeg/util';
import type { ProbeResult } from '../../src/engine/engine.js';
import { acceptProbe, parseListing, probeArgs } from '../../src/engine/ffmpeg-output.js';
import { INPUT_FILE, isPlanProblems, measurementsFrom, type ConvertPlan, type PlanProblem } from '../../src/media/plan.js';
import type { Requirements } from '../../src/media/routing.js';
import { WASM_EXCLUDED } from '../capabilities.js';
import { withLogLevel } from '../session.mjs';

export interface CoreUrls {
  /** The core's ES module and its wasm (absolute URLs: the worker resolves them against its own URL otherwise). */
  coreURL: string;
  wasmURL: string;
  /** @ffmpeg/ffmpeg's worker, bundled by scripts/build-preview.mjs. */
  classWorkerURL: string;
}

export interface PreviewOutput {
  bytes: Uint8Array;
  name: string;
  contentType: string;
  args: string[];
}

/** A run is given this long before the core gives up: a preview is seconds of output, never minutes. */
const RUN_TIMEOUT_MS = 120_000;

export class BrowserEngine {
  private ffmpeg = new FFmpeg();
  private stdout: string[] = [];
  private stderr: string[] = [];
  private loaded: Promise<void> | null = null;

  constructor(private readonly urls: CoreUrls) {
    this.listen();
  }

  private listen(): void {
    this.ffmpeg.on('log', ({ type, message }) => {
      if (type === 'stdout') this.stdout.push(message);
      else if (message !== 'Aborted()') this.stderr.push(message);
    });
  }

  /** A fresh core after a failed run: a trap (out of memory, a crash) leaves the old instance unusable. */
  reset(): void {
    this.ffmpeg.terminate();
    this.ffmpeg = new FFmpeg();
    this.listen();
    this.loaded = null;
  }

  load(): Promise<void> {
    this.loaded ??= this.ffmpeg.load(this.urls).then(() => undefined);
    return this.loaded;
  }

  /** The core's encoders, decoders, filters and muxers, without those it lists but cannot run. */
  async listing(): Promise<Requirements> {
    // On an instance of its own: after a listing the core's log goes to stdout, which the probe reads.
    const lister = new BrowserEngine(this.urls);
    try {
      await lister.load();
      const list = async (flag: string) => {
        lister.stdout = [];
        await lister.ffmpeg.exec(['-hide_banner', flag]);
        return parseListing(lister.stdout.join('\n'));
      };
      const drop = (kind: string, names: string[]) => names.filter((name) => !WASM_EXCLUDED.some((e) => e.kind === kind && e.name === name));
      return {
        encoders: drop('encoder', await list('-encoders')),
        decoders: drop('decoder', await list('-decoders')),
        filters: drop('filter', await list('-filters')),
        muxers: drop('muxer', await list('-muxers')),
      };
    } finally {
      lister.ffmpeg.terminate();
    }
  }

  /** Puts the picked file where the plan reads its input. */
  async setInput(file: Blob): Promise<void> {
    await this.load();
    await this.ffmpeg.writeFile(INPUT_FILE, await fetchFile(file));
  }

  async probe(): Promise<ProbeResult> {
    this.stdout = [];
    this.stderr = [];
    await this.ffmpeg.ffprobe(probeArgs(INPUT_FILE), RUN_TIMEOUT_MS);
    // The core's ffprobe does not report an exit status; what it printed decides (as wasm/node-engine.ts).
    return acceptProbe(this.stdout.join('\n'), this.stderr.slice(-20).join('\n'));
  }

  /**
   * Runs every pass of the plan; `replan` makes the plan again with what a measuring pass measured. Returns the
   * encode's output (a preview writes one file: thumbnails and sprites are previewed by their first image).
   */
  async run(first: ConvertPlan, replan: (measurements: object) => ConvertPlan | PlanProblem[], onPass: (args: string[]) => void): Promise<PreviewOutput> {
    let plan = first;
    for (let index = 0; index < plan.passes.length; index++) {
      const pass = plan.passes[index]!;
      onPass(pass.args);
      this.stderr = [];
      // The core adds -nostdin -y itself and prints progress to stdout; the plan's flags are harmless repeats.
      const code = await this.ffmpeg.exec(withLogLevel(pass.args), RUN_TIMEOUT_MS);
      if (code !== 0) throw new Error(`ffmpeg exited with ${code}: ${this.stderr.slice(-6).join(' / ')}`);
      if (pass.kind === 'measure') {
        const again = replan(measurementsFrom(this.stderr.slice(-200).join('\n')));
        if (isPlanProblems(again)) throw new Error(again.map((p) => p.message).join('; '));
        plan = again;
      }
    }
    const output = plan.outputs[0];
    if (!output) throw new Error('the plan writes no file');
    const bytes = (await this.ffmpeg.readFile(output.file)) as Uint8Array;
    for (const file of plan.outputs) await this.ffmpeg.deleteFile(file.file).catch(() => undefined);
    return { bytes, name: output.name, contentType: output.contentType, args: plan.args };
  }
}
