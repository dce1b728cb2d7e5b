/**
 * Progress of a job on stderr (stdout stays for results): a bar on a terminal (cli-progress), and on anything else
 * (a CI log, a pipe) one line per change of stage or whole percent, so logs stay readable.
 */
import cliProgress from 'cli-progress';
import type { Progress } from '@ffedge/client';

export interface ProgressView {
  update(progress: Progress): void;
  stop(): void;
}

const eta = (s: number | null) => (s === null ? '--' : s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`);
const fps = (f: number | null) => (f === null ? '--' : f.toFixed(0));

export function progressView(stream: NodeJS.WriteStream = process.stderr): ProgressView {
  return stream.isTTY ? barView(stream) : lineView(stream);
}

function barView(stream: NodeJS.WriteStream): ProgressView {
  const bar = new cliProgress.SingleBar(
    { stream, format: '{stage} |{bar}| {percentage}% | {fps} fps | ETA {remaining}', hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  bar.start(100, 0, { stage: 'queued'.padEnd(10), fps: '--', remaining: '--' });
  return {
    update: (p) => bar.update(Math.floor(p.percentage ?? 0), { stage: p.stage.padEnd(10), fps: fps(p.fps), remaining: eta(p.eta_s) }),
    stop: () => bar.stop(),
  };
}

function lineView(stream: NodeJS.WriteStream): ProgressView {
  let last = '';
  return {
    update(p) {
      const key = `${p.stage} ${Math.floor(p.percentage ?? 0)}`;
      if (key === last) return;
      last = key;
      const percentage = p.percentage === null ? '--' : `${Math.floor(p.percentage)}%`;
      stream.write(`${p.stage} ${percentage} fps=${fps(p.fps)} eta=${eta(p.eta_s)}\n`);
    },
    stop() {},
  };
}
