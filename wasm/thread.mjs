/**
 * The worker thread of the wasm engine on Node (node-engine.ts starts it). It holds one @ffmpeg/core instance and
 * runs one job at a time: copies the job's files from its temp dir into the core's memory, runs ffmpeg or ffprobe,
 * streams the log lines to the parent as they come, writes the files ffmpeg created back into the temp dir.
 *
 * ffmpeg runs synchronously on this thread, so the parent cannot ask it anything during a run: it can only read
 * what the thread posts, and stop it with worker.terminate(), which also interrupts WebAssembly. The thread posts
 * its memory use while a job runs so that the parent can stop a job that outgrows the cap.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import createFFmpegCore from '@ffmpeg/core';
import { clearWorkDir, execute, instantiateCore, listFiles, makeDirs, memoryBytes, readFile as readCoreFile, writeFiles } from './session.mjs';

const MEMORY_REPORT_MS = workerData.memoryReportMs ?? 200;

// The core is built for browser workers and reads self.location when it starts; it loads nothing from there, since
// the compiled module is handed over.
globalThis.self ??= { location: { href: import.meta.url } };
const core = await instantiateCore(createFFmpegCore, workerData.wasmModule);
parentPort.postMessage({ type: 'ready', memory: memoryBytes(core) });

parentPort.on('message', (message) => {
  if (message?.type === 'run') void run(message);
});

async function run({ id, tool, args, cwd, files, dirs, collectOutputs }) {
  let started = false;
  try {
    makeDirs(core, dirs);
    const contents = await Promise.all(files.map(async (path) => [path, await readFile(join(cwd, path))]));
    writeFiles(core, contents);
    contents.length = 0;

    let lastReport = 0;
    const reportMemory = () => {
      const now = Date.now();
      if (now - lastReport < MEMORY_REPORT_MS) return;
      lastReport = now;
      parentPort.postMessage({ type: 'memory', id, bytes: memoryBytes(core) });
    };
    const line = (stream) => (text) => {
      parentPort.postMessage({ type: 'line', id, stream, text });
      reportMemory();
    };
    started = true;
    const status = execute(core, tool, args, line('stdout'), line('stderr'));
    const memory = memoryBytes(core);

    const outputs = [];
    if (collectOutputs) {
      const inputs = new Set(files);
      for (const [path] of listFiles(core)) {
        if (inputs.has(path)) continue;
        const target = join(cwd, path);
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, readCoreFile(core, path));
        outputs.push(path);
      }
    }
    clearWorkDir(core);
    parentPort.postMessage({ type: 'done', id, status, outputs, memory });
  } catch (error) {
    // A trap inside the core (e.g. "memory access out of bounds") leaves the instance unusable: say so, and the
    // parent ends this thread. A failure before the run (an unreadable file) leaves it intact.
    const message = error instanceof Error ? error.message : String(error);
    if (started) {
      parentPort.postMessage({ type: 'crashed', id, message });
    } else {
      try {
        clearWorkDir(core);
      } catch {
        // nothing to add: the parent is told below
      }
      parentPort.postMessage({ type: 'failed', id, message });
    }
  }
}
