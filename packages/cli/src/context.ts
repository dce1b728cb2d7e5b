/** What every command shares: the client from flags or the environment, output for humans or --json, inputs. */
import { Ffedge, FfedgeProblem, type Job } from '@ffedge/client';
import { uploadFile } from '@ffedge/client/node';
import { MissingKeyError } from './exit-codes.js';

export interface GlobalOptions {
  url: string;
  key?: string;
  json?: boolean;
}

export function clientFrom(options: GlobalOptions): Ffedge {
  if (!options.key) throw new MissingKeyError('no API key: pass --key or set FFEDGE_KEY');
  return new Ffedge({ baseUrl: options.url, key: options.key });
}

const URI = /^(upload:|https?:\/\/|s3:\/\/|r2:\/\/|local:)/;

/** A storage URI goes as it is; anything else is a local file, uploaded first. */
export async function inputUri(ff: Ffedge, input: string, options: GlobalOptions): Promise<string> {
  if (URI.test(input)) return input;
  const up = await uploadFile(ff, input);
  if (!options.json) process.stderr.write(`uploaded ${input} (${up.size} bytes) as ${up.uri}\n`);
  return up.uri;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function jobLine(job: Job): string {
  const percentage = job.progress.percentage === null ? '' : ` ${Math.floor(job.progress.percentage)}%`;
  return `${job.id}  ${job.kind.padEnd(8)}  ${job.status.padEnd(10)}${percentage}  ${job.created_at}`;
}

/** An error for a human on stderr (or as JSON with --json): the problem's title, detail, code, request id, fields. */
export function printError(error: unknown, json: boolean | undefined): void {
  if (error instanceof FfedgeProblem) {
    const { status, code, title, detail, instance, errors } = error;
    if (json) {
      process.stderr.write(`${JSON.stringify({ error: { status, code, title, detail, instance, errors } })}\n`);
      return;
    }
    process.stderr.write(`error: ${title}${detail ? `: ${detail}` : ''} (${code}, HTTP ${status}${instance ? `, request ${instance}` : ''})\n`);
    for (const item of errors) {
      const where = item.pointer ?? item.parameter ?? '';
      const allowed = item.allowed?.length ? ` (allowed: ${item.allowed.join(', ')})` : '';
      process.stderr.write(`  ${where}: ${item.message}${allowed}\n`);
    }
    return;
  }
  // fetch says only "fetch failed"; the reason (ECONNREFUSED, a DNS failure) is its cause.
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${(error.cause as NodeJS.ErrnoException).code ?? error.cause.message}` : '';
  const message = (error instanceof Error ? error.message : String(error)) + cause;
  process.stderr.write(json ? `${JSON.stringify({ error: { message } })}\n` : `error: ${message}\n`);
}
