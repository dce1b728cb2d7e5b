/** Following a submitted job to its end with a progress view, then downloading its outputs when asked. */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { downloadFile } from '@ffedge/client/node';
import type { Ffedge, Job } from '@ffedge/client';
import { jobExitCode } from './exit-codes.js';
import { printJson, type GlobalOptions } from './context.js';
import { progressView } from './progress.js';

export interface FollowOptions {
  wait?: boolean;
  /** A file for the first output, or (`all`) a directory for every output. */
  output?: string;
}

export async function finish(ff: Ffedge, job: Job, options: FollowOptions & GlobalOptions, all = false): Promise<number> {
  if (!options.wait && !options.output) {
    if (options.json) printJson(job);
    else process.stdout.write(`${job.id} ${job.status}\n`);
    return 0;
  }
  const done = await follow(ff, job.id, options);
  if (done.status === 'completed' && options.output) {
    if (all) {
      for (const output of done.outputs) {
        const path = join(options.output, ...output.name.split('/'));
        await mkdir(dirname(path), { recursive: true });
        await downloadFile(ff, done, path, output.name);
      }
    } else {
      await downloadFile(ff, done, options.output);
    }
  }
  report(done, options);
  return jobExitCode(done.status);
}

export async function follow(ff: Ffedge, id: string, options: GlobalOptions): Promise<Job> {
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort(Object.assign(new Error(`interrupted; the job goes on: ffedge jobs cancel ${id}`), { name: 'AbortError' }));
  process.once('SIGINT', onSigint);
  const view = options.json ? undefined : progressView();
  try {
    const done = await (await ff.jobs.get(id)).wait({ onProgress: (p) => view?.update(p), signal: interrupt.signal });
    // The last progress event may be short of the end; the final job says where it ended (done, 100%).
    if (done.status === 'completed') view?.update(done.progress);
    return done;
  } finally {
    view?.stop();
    process.off('SIGINT', onSigint);
  }
}

function report(job: Job, options: FollowOptions & GlobalOptions): void {
  if (options.json) return printJson(job);
  if (job.status === 'completed') {
    const files = job.outputs.map((o) => `${o.name} (${o.size} bytes)`).join(', ');
    process.stdout.write(`completed ${job.id}${files ? `: ${files}` : ''}${options.output ? ` -> ${options.output}` : ''}\n`);
  } else {
    process.stderr.write(`${job.status} ${job.id}${job.error ? `: ${job.error.code}: ${job.error.message}` : ''}\n`);
  }
}
