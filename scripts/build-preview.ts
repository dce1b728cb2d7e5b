/**
 * Builds the preview page as static files (npm run build:preview -> dist/preview/): the page's module with the
 * server's planner bundled in, @ffmpeg/ffmpeg's worker, and the single-thread core under a versioned path, each
 * with a gzip copy next to it (the core's 32 MB wasm is 10 MB gzipped) so that the server never compresses at
 * request time. Rebuilding skips the core when its copies are newer than node_modules'.
 */
import { build } from 'esbuild';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import { createGzip, constants } from 'node:zlib';
import { createRequire } from 'node:module';
import { ASSETS } from '../src/api/assets.js';

const ROOT = resolve(import.meta.dirname, '..');
export const PREVIEW_DIR = join(ROOT, 'dist/preview');
const require = createRequire(import.meta.url);

/** The package's root (its exports name no package.json): its main file is dist/umd/ffmpeg-core.js. */
const CORE_PACKAGE = resolve(dirname(require.resolve('@ffmpeg/core')), '../..');

/** The core's version, which names its directory: its files are cached for a year under that name. */
export async function coreVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(CORE_PACKAGE, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export async function buildPreview(outDir = PREVIEW_DIR): Promise<{ outDir: string; coreBase: string }> {
  const version = await coreVersion();
  const coreBase = `core/${version}/`;
  await mkdir(join(outDir, coreBase), { recursive: true });

  const common = { bundle: true, format: 'esm', platform: 'browser', target: 'es2022', minify: true, legalComments: 'none', logLevel: 'warning' } as const;
  await build({
    ...common,
    entryPoints: [join(ROOT, 'wasm/browser/main.ts')],
    outfile: join(outDir, 'preview.js'),
    // The core's location, relative to the page; a deployment may serve it elsewhere on the same origin.
    define: { FFEDGE_CORE_BASE: JSON.stringify(process.env.FFEDGE_PREVIEW_CORE_BASE ?? coreBase) },
  });
  await build({ ...common, entryPoints: [require.resolve('@ffmpeg/ffmpeg/worker')], outfile: join(outDir, 'ffmpeg-worker.js') });
  for (const file of ['index.html', 'preview.css']) await copyFile(join(ROOT, 'wasm/browser', file), join(outDir, file));
  for (const file of ['index.html', 'preview.css', 'preview.js', 'ffmpeg-worker.js']) await gzip(join(outDir, file));

  // The ES module build: @ffmpeg/ffmpeg's module worker imports the core.
  const coreDir = join(CORE_PACKAGE, 'dist/esm');
  for (const file of ['ffmpeg-core.js', 'ffmpeg-core.wasm']) {
    const from = join(coreDir, file);
    const to = join(outDir, coreBase, file);
    if (await newer(to, from)) continue;
    await copyFile(from, to);
    await gzip(to);
  }
  // The pages' other assets (the /docs script): under assets/, for runtimes that serve them from this build (Workers).
  for (const asset of ASSETS) {
    const to = join(outDir, 'assets', asset.path);
    const from = join(ROOT, 'node_modules', asset.package, asset.file);
    if (await newer(to, from)) continue;
    await mkdir(dirname(to), { recursive: true });
    await copyFile(from, to);
    await gzip(to);
  }
  await writeFile(join(outDir, 'BUILT'), `${new Date().toISOString()}\n`);
  return { outDir, coreBase };
}

async function gzip(file: string): Promise<void> {
  await pipeline(createReadStream(file), createGzip({ level: constants.Z_BEST_COMPRESSION }), createWriteStream(`${file}.gz`));
}

/** Whether `target` and its gzip copy exist and are newer than `source`. */
async function newer(target: string, source: string): Promise<boolean> {
  const [t, g, s] = await Promise.all([stat(target).catch(() => null), stat(`${target}.gz`).catch(() => null), stat(source)]);
  return t !== null && g !== null && t.size === s.size && t.mtimeMs >= s.mtimeMs && g.mtimeMs >= t.mtimeMs;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { outDir } = await buildPreview(process.argv[2] ? resolve(process.argv[2]) : PREVIEW_DIR);
  console.log(`preview built in ${outDir}`);
}
