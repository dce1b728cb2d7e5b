/** Built-in presets and the merge of a request over a preset. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../../src/config.js';
import { validateConvert } from '../../../src/media/plan.js';
import { BUILTIN_PRESETS, applyPreset } from '../../../src/media/presets.js';
import { ConvertBodySchema, ConvertRequestSchema, PresetBodySchema } from '../../../src/schemas/convert.js';
import { MAIN, expectPlan, plan } from './support.js';

const merge = (name: string, body: Record<string, unknown>) => {
  const parsed = ConvertBodySchema.parse({ input: MAIN, preset: name, ...body });
  return ConvertRequestSchema.parse(applyPreset(BUILTIN_PRESETS[name]!, parsed));
};

describe('built-in presets', () => {
  it('are the documented seven', () => {
    expect(Object.keys(BUILTIN_PRESETS).sort()).toEqual(['archive-hevc', 'gif-preview', 'mobile-480p', 'podcast-audio', 'thumbnails', 'web-1080p', 'web-720p']);
  });

  it.each(Object.keys(BUILTIN_PRESETS))('%s is a valid request and plans on a 1080p input', (name) => {
    const { description, ...body } = PresetBodySchema.parse(BUILTIN_PRESETS[name]);
    expect(description).toBeTruthy();
    const request = ConvertRequestSchema.parse({ input: MAIN, ...body });
    expect(validateConvert(request, DEFAULT_LIMITS)).toEqual([]);
    expect(expectPlan(plan(body)).outputs.length).toBeGreaterThan(0);
  });

  it('web presets never upscale', () => {
    const { description: _d, ...web } = BUILTIN_PRESETS['web-1080p']!;
    // Silent, too: a preset's audio settings are for inputs with sound.
    const small = expectPlan(plan({ ...web, preset: 'web-1080p' }, { probes: { [MAIN]: { format: 'mp4', duration_s: 2, size: 1, bit_rate: 1, streams: [{ index: 0, type: 'video', codec: 'h264', width: 320, height: 240 }] } } }));
    expect(small.args.join(' ')).not.toContain('scale=');
  });
});

describe('applyPreset', () => {
  it('overrides the output setting by setting, and keeps the rest of the preset', () => {
    const request = merge('web-720p', { output: { video: { crf: 18 } }, options: { priority: 5 } });
    expect(request.output).toEqual({ format: 'mp4', video: { codec: 'h264', crf: 18, preset: 'medium' }, audio: { codec: 'aac', bitrate: '128k' } });
    expect(request.operations).toEqual([{ type: 'resize', size: '720p' }]);
    expect(request.options).toEqual({ priority: 5, engine: 'auto', stream_copy: 'auto' });
    expect(request.preset).toBe('web-720p');
  });

  it('a stream set to false drops the preset’s settings for it', () => {
    expect(merge('web-720p', { output: { audio: false } }).output).toMatchObject({ format: 'mp4', audio: false });
  });

  it('an operation replaces the preset’s operation of the same type; text and watermark are added', () => {
    const request = merge('gif-preview', { operations: [{ type: 'trim', start: 3, duration: 2 }, { type: 'text', text: 'hi' }] });
    expect(request.operations).toEqual([
      { type: 'resize', width: 320 },
      { type: 'fps', fps: 10 },
      { type: 'trim', start: 3, duration: 2 },
      { type: 'text', text: 'hi' },
    ]);
  });

  it('a size or frame rate given the other way replaces the preset’s', () => {
    expect(merge('web-720p', { output: { video: { resolution: '1280x720' } } }).operations).toBeUndefined();
    expect(merge('gif-preview', { output: { video: { fps: 5 } } }).operations?.map((op) => op.type)).toEqual(['trim', 'resize']);
  });

  it('a resize in the request drops the preset’s resolution together with its upscale', () => {
    const preset = { output: { format: 'mp4' as const, video: { codec: 'h264' as const, resolution: '720p', upscale: true } } };
    const body = ConvertBodySchema.parse({ input: MAIN, preset: 'mine', operations: [{ type: 'resize', width: 640 }] });
    const request = ConvertRequestSchema.parse(applyPreset(preset, body));
    expect(request.output).toEqual({ format: 'mp4', video: { codec: 'h264' } });
    expect(validateConvert(request, DEFAULT_LIMITS)).toEqual([]);
  });

  it('a format change keeps the preset’s codecs, so a clash is reported, not guessed around', () => {
    const request = merge('web-720p', { output: 'webm' });
    expect(validateConvert(request, DEFAULT_LIMITS)).toMatchObject([
      { code: 'INVALID_CODEC_FORMAT', pointer: '/output/video/codec' },
      { code: 'INVALID_CODEC_FORMAT', pointer: '/output/audio/codec' },
    ]);
  });

  it('a body without a preset needs a complete output', () => {
    expect(ConvertBodySchema.safeParse({ input: MAIN }).success).toBe(false);
    expect(ConvertBodySchema.safeParse({ input: MAIN, output: { video: { crf: 20 } } }).success).toBe(false);
    expect(ConvertBodySchema.safeParse({ input: MAIN, preset: 'web-720p' }).success).toBe(true);
    expect(ConvertBodySchema.safeParse({ input: MAIN, preset: 'Web 720p' }).success).toBe(false);
  });
});
