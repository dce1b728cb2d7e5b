/**
 * The SDK suite in Deno (`deno test`, started by test/sdk/deno.test.ts): the servers' URLs and keys come in
 * FFEDGE_SDK_TARGET, the clip is read from FFEDGE_SDK_CLIP.
 */
import { sdkSuite, type SdkTarget } from './suite.js';

/** The part of the Deno namespace this file uses; typed here so the Node type check needs no Deno types. */
declare const Deno: {
  env: { get(name: string): string | undefined };
  readFile(path: string): Promise<Uint8Array<ArrayBuffer>>;
  test(definition: { name: string; fn: () => Promise<void>; sanitizeOps: boolean; sanitizeResources: boolean }): void;
};

const target = { ...JSON.parse(Deno.env.get('FFEDGE_SDK_TARGET')!), clip: await Deno.readFile(Deno.env.get('FFEDGE_SDK_CLIP')!) } as SdkTarget;

// The sanitizers would flag the kept-alive connections of fetch's pool, which belong to the runtime, not a test.
sdkSuite((name, fn) => Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false }), () => target);
