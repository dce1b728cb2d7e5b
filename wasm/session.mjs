/**
 * One @ffmpeg/core instance and the jobs run on it, shared by the Node worker thread (thread.mjs) and the workerd
 * module (workerd.ts). Plain JavaScript so that a worker thread can load it without a TypeScript loader; the types
 * are in session.d.mts.
 *
 * The core works on its in-memory file system (MEMFS): a job's files are written into WORK_DIR, ffmpeg runs with
 * WORK_DIR as its working directory (so the planner's relative paths mean the same as on native ffmpeg), and the
 * files it created are read back. Everything a job touches is in memory: callers check sizes against their memory
 * cap before writing.
 */

export const WORK_DIR = '/job';

/**
 * Instantiates the core from an already compiled WebAssembly.Module. Compiling once and instantiating per thread is
 * what makes a new instance cheap (tens of milliseconds), and workerd only allows a module imported as such.
 */
export async function instantiateCore(createFFmpegCore, wasmModule) {
  // The core has no way to report a failed instantiateWasm; the race does.
  let failed;
  const instantiationFailed = new Promise((_, reject) => (failed = reject));
  const core = await Promise.race([
    createFFmpegCore({
      instantiateWasm(imports, receive) {
        WebAssembly.instantiate(wasmModule, imports).then((instance) => receive(instance, wasmModule), failed);
        return {};
      },
    }),
    instantiationFailed,
  ]);
  core.FS.mkdir(WORK_DIR);
  core.FS.chdir(WORK_DIR);
  return core;
}

/**
 * Runs ffmpeg or ffprobe with `args` (without the program name). Lines of stdout and stderr go to the callbacks as
 * they are printed, while the run is still going. Returns the exit status; throws when the core itself failed (a
 * WebAssembly trap such as "memory access out of bounds"), after which the instance must not be used again.
 * `timeoutMs` (optional) is the core's own time limit; where the caller can end the thread, that is more reliable.
 */
export function execute(core, tool, args, onStdout, onStderr, timeoutMs = -1) {
  core.reset();
  // The core's own time limit, checked between frames: ffmpeg then ends with an error and the instance stays usable.
  if (timeoutMs > 0) core.setTimeout(timeoutMs);
  core.setLogger(({ type, message }) => {
    if (type === 'stdout') onStdout(message);
    // The core prints this after every run: it is how it leaves ffmpeg's main(), not an error.
    else if (message !== 'Aborted()') onStderr(message);
  });
  const full = withLogLevel(args);
  try {
    // The core prepends "-nostdin -y" for ffmpeg; ffprobe gets the arguments as they are.
    return tool === 'ffprobe' ? core.ffprobe(...full) : core.exec(...full);
  } finally {
    core.setLogger(() => {});
    core.reset();
  }
}

/**
 * The log level is global state of a core that outlives a run (ffprobe's "-v error" would silence the next ffmpeg,
 * and with it the loudness a measuring pass prints), so a run that does not set it starts from ffmpeg's default.
 * Also used by the browser preview (wasm/browser/engine.ts), whose core is the same.
 */
export function withLogLevel(args) {
  const setsLevel = args.some((arg) => arg === '-v' || arg === '-loglevel');
  return setsLevel ? args : ['-loglevel', 'info', ...args];
}

/** Makes directories (paths relative to WORK_DIR) with their parents. */
export function makeDirs(core, dirs) {
  for (const path of dirs) {
    let dir = WORK_DIR;
    for (const part of path.split('/')) {
      if (part === '' || part === '.' || part === '..') throw new Error('invalid path');
      dir = `${dir}/${part}`;
      if (!core.FS.analyzePath(dir).exists) core.FS.mkdir(dir);
    }
  }
}

/** Writes files (path relative to WORK_DIR, bytes) into the work dir, creating sub-directories. */
export function writeFiles(core, files) {
  for (const [path, bytes] of files) {
    const parent = path.split('/').slice(0, -1).join('/');
    if (parent) makeDirs(core, [parent]);
    // canOwn: the file system keeps these bytes as the file's contents instead of copying them, so an input is in
    // memory once, not twice. The caller must not reuse them.
    core.FS.writeFile(`${WORK_DIR}/${path}`, bytes, { canOwn: true });
  }
}

/** Every regular file under the work dir: [relative path, size]. */
export function listFiles(core) {
  const found = [];
  const walk = (dir, prefix) => {
    for (const name of core.FS.readdir(dir)) {
      if (name === '.' || name === '..') continue;
      const path = `${dir}/${name}`;
      const stat = core.FS.stat(path);
      if (core.FS.isDir(stat.mode)) walk(path, `${prefix}${name}/`);
      else if (core.FS.isFile(stat.mode)) found.push([`${prefix}${name}`, stat.size]);
    }
  };
  walk(WORK_DIR, '');
  return found;
}

/** A file's bytes; a view of the file system's own buffer where it can be had (no copy), valid until the file changes. */
export function readFile(core, path) {
  const full = `${WORK_DIR}/${path}`;
  const node = core.FS.lookupPath(full).node;
  if (node?.contents instanceof Uint8Array && typeof node.usedBytes === 'number') return node.contents.subarray(0, node.usedBytes);
  return core.FS.readFile(full);
}

/** Empties the work dir so that the next job starts clean and the memory of this one's files is released. */
export function clearWorkDir(core) {
  const remove = (dir) => {
    for (const name of core.FS.readdir(dir)) {
      if (name === '.' || name === '..') continue;
      const path = `${dir}/${name}`;
      if (core.FS.isDir(core.FS.stat(path).mode)) {
        remove(path);
        core.FS.rmdir(path);
      } else {
        core.FS.unlink(path);
      }
    }
  };
  remove(WORK_DIR);
}

/** The memory this instance holds: its linear memory (which never shrinks) plus the files in its work dir. */
export function memoryBytes(core) {
  let files = 0;
  for (const [, size] of listFiles(core)) files += size;
  return core.HEAPU8.length + files;
}
