/** `ffedge`: the command line on @ffedge/client. Commands parse their flags (commander) and call the SDK. */
import { basename } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { downloadFile } from '@ffedge/client/node';
import type { ConvertBody, ListJobsQuery, StreamBody } from '@ffedge/client';
import { clientFrom, inputUri, jobLine, printError, printJson, type GlobalOptions } from './context.js';
import { EXIT, EXIT_HELP, exitCodeOf, jobExitCode, UsageError } from './exit-codes.js';
import { finish, follow, type FollowOptions } from './follow.js';
import { parseOperation } from './operations.js';

const program = new Command('ffedge')
  .description('FFmpeg jobs on an ffedge server: convert, package, probe, follow and download')
  .addOption(new Option('-u, --url <url>', 'the server').env('FFEDGE_URL').default('http://127.0.0.1:8787'))
  .addOption(new Option('-k, --key <key>', 'the API key').env('FFEDGE_KEY'))
  .option('--json', 'machine-readable output on stdout (errors as JSON on stderr), no progress')
  .addHelpText('after', `\n${EXIT_HELP}`)
  .showHelpAfterError()
  .exitOverride();

const globals = (command: Command) => command.optsWithGlobals<GlobalOptions>();
const collect = (value: string, previous: string[] = []) => [...previous, value];
const waitOptions = (command: Command) =>
  command.option('-w, --wait', 'follow the job to its end with a progress bar').option('-o, --output <path>', 'download the output here (implies --wait)');

let exitCode: number = EXIT.done;

waitOptions(
  program
    .command('convert <input>')
    .description('convert a file (a local path is uploaded first) or a storage URI')
    .requiredOption('-t, --to <format>', 'output format: mp4, webm, mkv, mov, mp3, m4a, ogg, wav, flac, gif, ...')
    .option('--video-codec <codec>', 'e.g. h264, vp9, av1')
    .option('--audio-codec <codec>', 'e.g. aac, opus')
    .option('--resolution <resolution>', 'e.g. 720p')
    .option('--op <type:key=value,...>', 'an operation, repeatable: trim:start=1,end=4  resize:width=640', collect)
    .option('--idempotency-key <key>', 'makes a repeated submission return the first job'),
).action(async (input: string, flags: FollowOptions & { to: string; videoCodec?: string; audioCodec?: string; resolution?: string; op?: string[]; idempotencyKey?: string }, command: Command) => {
  const options = globals(command);
  const ff = clientFrom(options);
  const video = { ...(flags.videoCodec ? { codec: flags.videoCodec } : {}), ...(flags.resolution ? { resolution: flags.resolution } : {}) };
  const output = flags.videoCodec || flags.audioCodec || flags.resolution
    ? { format: flags.to, ...(Object.keys(video).length ? { video } : {}), ...(flags.audioCodec ? { audio: { codec: flags.audioCodec } } : {}) }
    : flags.to;
  const body = { input: '', output, ...(flags.op ? { operations: flags.op.map(parseOperation) } : {}) };
  body.input = await inputUri(ff, input, options);
  const job = await ff.convert(body as ConvertBody, flags.idempotencyKey ? { idempotencyKey: flags.idempotencyKey } : {});
  exitCode = await finish(ff, job, { ...options, ...flags });
});

waitOptions(
  program
    .command('stream <input>')
    .description('package for adaptive streaming (HLS, DASH, CMAF); -o is a directory for every file')
    .addOption(new Option('-f, --format <format>', 'package format').choices(['hls', 'dash', 'cmaf']).default('hls'))
    .option('--codec <codec>', 'video codec of the automatic ladder: h264, h265, vp9, av1')
    .option('--op <type:key=value,...>', 'an operation before the ladder, repeatable', collect),
).action(async (input: string, flags: FollowOptions & { format: string; codec?: string; op?: string[] }, command: Command) => {
  const options = globals(command);
  const ff = clientFrom(options);
  const body = { input: await inputUri(ff, input, options), format: flags.format, ...(flags.codec ? { codec: flags.codec } : {}), ...(flags.op ? { operations: flags.op.map(parseOperation) } : {}) };
  exitCode = await finish(ff, await ff.stream(body as StreamBody), { ...options, ...flags }, true);
});

program
  .command('probe <input>')
  .description("probe a file or a storage URI and print what ffprobe found (the job's result)")
  .action(async (input: string, _flags: unknown, command: Command) => {
    const options = globals(command);
    const ff = clientFrom(options);
    const job = await ff.probe({ input: await inputUri(ff, input, options) });
    const done = await follow(ff, job.id, { ...options, json: true });
    if (options.json) printJson(done);
    else if (done.status === 'completed') printJson(done.result);
    else process.stderr.write(`${done.status} ${done.id}${done.error ? `: ${done.error.code}: ${done.error.message}` : ''}\n`);
    exitCode = jobExitCode(done.status);
  });

const jobs = program.command('jobs').description('list, show, follow, cancel jobs and read their logs');

jobs
  .command('ls')
  .description('jobs of this key, newest first')
  .option('--status <status>', 'queued, processing, completed, failed or cancelled')
  .option('--kind <kind>', 'convert, probe, stream or analyze')
  .option('--limit <n>', 'how many', (v) => positiveInt(v, '--limit'))
  .option('--cursor <cursor>', 'the next page (next_cursor of the previous one)')
  .action(async (flags: ListJobsQuery, command: Command) => {
    const options = globals(command);
    const page = await clientFrom(options).jobs.list(flags);
    if (options.json) return printJson(page);
    for (const job of page.items) process.stdout.write(`${jobLine(job)}\n`);
    if (page.next_cursor) process.stderr.write(`more: ffedge jobs ls --cursor ${page.next_cursor}\n`);
  });

jobs
  .command('show <id>')
  .description('a job: status, progress, outputs, error')
  .action(async (id: string, _flags: unknown, command: Command) => {
    const options = globals(command);
    const { wait: _wait, ...job } = await clientFrom(options).jobs.get(id);
    if (options.json) return printJson(job);
    process.stdout.write(`${jobLine(job)}\n`);
    for (const output of job.outputs) process.stdout.write(`  ${output.name}  ${output.size} bytes  ${output.content_type}\n`);
    if (job.error) process.stdout.write(`  error: ${job.error.code}: ${job.error.message}\n`);
  });

waitOptions(jobs.command('wait <id>').description('follow a job to its end')).action(async (id: string, flags: FollowOptions, command: Command) => {
  const options = globals(command);
  const ff = clientFrom(options);
  exitCode = await finish(ff, await ff.jobs.get(id), { ...options, ...flags, wait: true });
});

jobs
  .command('cancel <id>')
  .description('cancel a queued or processing job')
  .action(async (id: string, _flags: unknown, command: Command) => {
    const options = globals(command);
    const job = await clientFrom(options).jobs.cancel(id);
    if (options.json) printJson(job);
    else process.stdout.write(`${job.id} ${job.status}\n`);
  });

jobs
  .command('logs <id>')
  .description("the tail of ffmpeg's log for the job's last attempt")
  .action(async (id: string, _flags: unknown, command: Command) => {
    const options = globals(command);
    const text = await clientFrom(options).jobs.logs(id);
    if (options.json) printJson({ id, logs: text });
    else process.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
  });

program
  .command('download <id> [name]')
  .description("download an output of a completed job (the first unless name says which)")
  .option('-o, --output <path>', 'where to write it (default: the output name in this directory)')
  .action(async (id: string, name: string | undefined, flags: { output?: string }, command: Command) => {
    const options = globals(command);
    const ff = clientFrom(options);
    const job = await ff.jobs.get(id);
    const chosen = name ?? job.outputs[0]?.name;
    const path = flags.output ?? basename(chosen ?? 'output');
    const bytes = await downloadFile(ff, job, path, chosen);
    if (options.json) printJson({ id, name: chosen, path, bytes });
    else process.stdout.write(`${path} (${bytes} bytes)\n`);
  });

function positiveInt(value: string, flag: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${flag} takes a whole number above 0`);
  return Number(value);
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and --version end with code 0; any other parse error is a usage error (commander printed it).
    exitCode = error.exitCode === 0 ? EXIT.done : EXIT.usage;
  } else {
    printError(error, program.opts<GlobalOptions>().json);
    exitCode = exitCodeOf(error);
  }
}
process.exitCode = exitCode;
