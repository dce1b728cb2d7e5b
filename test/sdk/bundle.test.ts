/**
 * @ffedge/client's main entry bundles for a browser: esbuild with platform "browser" cannot resolve a node: module,
 * so a Node-only import there fails this test (the Node helpers live in the ./node entry). Prints the size.
 */
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { expect, it } from 'vitest';

it('the main entry bundles for browsers with no node: import; the node entry is the one that has them', async () => {
  const bundle = async (entry: string) =>
    build({ entryPoints: [new URL(`../../packages/client/src/${entry}`, import.meta.url).pathname], bundle: true, platform: 'browser', format: 'esm', minify: true, write: false, logLevel: 'silent' });
  const main = await bundle('index.ts');
  const code = main.outputFiles[0]!.contents;
  expect(new TextDecoder().decode(code)).not.toMatch(/["']node:/);
  console.log(`@ffedge/client browser bundle: ${code.byteLength} bytes, ${gzipSync(code).byteLength} gzipped`);
  await expect(bundle('node.ts')).rejects.toThrow(/node:fs/);
});
