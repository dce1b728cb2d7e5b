/**
 * The preview page's check of a request (wasm/browser/request.ts): the server's schema, preset merge and planner,
 * and routing's capability check against the wasm core, named before anything runs.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../../src/config.js';
import { LIMIT_NAMES } from '../../../src/limit-names.js';
import { BUILTIN_PRESETS } from '../../../src/media/presets.js';
import { LOCAL_INPUT, checkRequest, forServer, limitsFrom } from '../../../wasm/browser/request.js';

const listed = { encoders: ['libx264', 'libvpx', 'aac', 'libopus', 'libmp3lame'], decoders: ['h264', 'aac'], filters: ['scale', 'crop', 'loudnorm'], muxers: ['mp4', 'webm', 'mp3'] };

describe('preview request check', () => {
  it('names the known failures of the core before its listing is known', () => {
    const checked = checkRequest({ input: LOCAL_INPUT, output: { format: 'webm', video: { codec: 'vp9' } } }, null, DEFAULT_LIMITS, null);
    expect(checked.ok && checked.cannot.map((m) => m.name)).toEqual(['libvpx-vp9']);
    const text = checkRequest({ input: LOCAL_INPUT, output: 'mp4', operations: [{ type: 'text', text: 'hi' }] }, null, DEFAULT_LIMITS, null);
    expect(text.ok && text.cannot.map((m) => m.reason)).toEqual(['no working filter drawtext (ffmpeg.wasm has no fonts for drawtext)']);
  });

  it('names what the listing lacks once it is known, and nothing for what the core runs', () => {
    const vp8 = { input: LOCAL_INPUT, output: { format: 'webm', video: { codec: 'vp8' }, audio: { codec: 'opus' } } };
    expect(checkRequest(vp8, null, DEFAULT_LIMITS, listed)).toMatchObject({ ok: true, cannot: [] });
    // WebM's default video codec is VP9, so a plain "webm" is one the page cannot preview.
    const webm = checkRequest({ input: LOCAL_INPUT, output: 'webm' }, null, DEFAULT_LIMITS, listed);
    expect(webm.ok && webm.cannot.map((m) => m.name)).toEqual(['libvpx-vp9']);
    const flac = checkRequest({ input: LOCAL_INPUT, output: 'flac' }, null, DEFAULT_LIMITS, listed);
    expect(flac.ok && flac.cannot.map((m) => m.reason)).toEqual(['no encoder flac', 'no muxer flac']);
  });

  it('merges a preset as POST /convert does, and refuses what the server would refuse', () => {
    const hevc = checkRequest({ input: LOCAL_INPUT, preset: 'archive-hevc' }, BUILTIN_PRESETS['archive-hevc']!, DEFAULT_LIMITS, null);
    expect(hevc.ok && hevc.cannot.map((m) => m.name)).toEqual(['libx265']);
    const bad = checkRequest({ input: LOCAL_INPUT, output: { format: 'mp3', video: { codec: 'h264' } } }, null, DEFAULT_LIMITS, null);
    expect(bad).toMatchObject({ ok: false, problems: [{ pointer: '/output/video' }] });
    const two = checkRequest({ input: LOCAL_INPUT, output: 'mp4', operations: [{ type: 'watermark', image: 'upload:0190c5a4-7d4e-7c1a-9f5e-00000000000a' }] }, null, DEFAULT_LIMITS, null);
    expect(two.ok).toBe(false);
  });

  it('sends the upload in place of the local file, and reads the limits GET /capabilities names', () => {
    expect(forServer({ input: LOCAL_INPUT, output: 'mp4' }, 'upload:abc')).toEqual({ input: 'upload:abc', output: 'mp4' });
    const view = Object.fromEntries(Object.values(LIMIT_NAMES).map((name, k) => [name, k + 1]));
    const limits = limitsFrom(view);
    expect(limits.bodyBytes).toBe(view.body_bytes);
    expect(limits.windowS).toBe(view.window_s);
    expect(Object.values(limits)).toEqual(Object.values(view));
  });
});
