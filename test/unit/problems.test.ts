/** Validation problems: every enum or union item names the field, lists what it may be, and suggests a close value. */
import { describe, expect, it } from 'vitest';
import { closest } from '../../src/closest.js';
import { fromZodError, type ProblemItem } from '../../src/problems.js';
import { ConvertBodySchema } from '../../src/schemas/convert.js';
import { ListJobsQuery } from '../../src/schemas/job.js';

const INPUT = 'upload:0190c5a4-7d4e-7c1a-9f5e-2b8f6a1d3c4e';

function itemsFor(body: Record<string, unknown>): ProblemItem[] {
  const request = { input: INPUT, ...body };
  const parsed = ConvertBodySchema.safeParse(request);
  if (parsed.success) throw new Error('expected the body to be refused');
  return fromZodError(parsed.error, 'json', request).errors ?? [];
}

describe('fromZodError', () => {
  it.each([
    ['an output format', { output: 'mp5' }, '/output', 'mp4', 'mp4'],
    ['a video codec inside the output object', { output: { format: 'mp4', video: { codec: 'h246' } } }, '/output/video/codec', 'h264', 'h264'],
    ['literal degrees of rotate', { output: 'mp4', operations: [{ type: 'rotate', degrees: 45 }] }, '/operations/0/degrees', 90, 90],
    ['an operation type (a discriminated union)', { output: 'mp4', operations: [{ type: 'resise', width: 640 }] }, '/operations/0/type', 'resize', 'resize'],
    ['an enum field of an operation', { output: 'mp4', operations: [{ type: 'flip', direction: 'horizontl' }] }, '/operations/0/direction', 'horizontal', 'horizontal'],
    ['a colour name or #RRGGBB', { output: 'mp4', operations: [{ type: 'text', text: 'hi', color: 'reed' }] }, '/operations/0/color', 'red', 'red'],
    ['a job option', { output: 'mp4', options: { engine: 'nativ' } }, '/options/engine', 'native', 'native'],
    ['a metadata tag key', { output: 'mp4', operations: [{ type: 'metadata', tags: { titel: 'x' } }] }, '/operations/0/tags/titel', 'title', 'title'],
  ])('lists the allowed values and suggests the close one: %s', (_name, body, pointer, allowedValue, suggestion) => {
    const items = itemsFor(body);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ pointer, allowed: expect.arrayContaining([allowedValue]), suggestion });
    expect(items[0]!.message).not.toMatch(/^Invalid input$/);
  });

  it('lists the allowed values without a suggestion when none is close', () => {
    const [item] = itemsFor({ output: { format: 'mp4', video: { codec: 'divx' } } });
    expect(item).toMatchObject({ pointer: '/output/video/codec', allowed: ['h264', 'h265', 'vp9', 'vp8', 'gif', 'webp', 'png', 'jpeg'] });
    expect(item).not.toHaveProperty('suggestion');
    expect(item!.message).toBe('must be one of h264, h265, vp9, vp8, gif, webp, png, jpeg');
  });

  it('lists every operation type when the type is unknown', () => {
    const [item] = itemsFor({ output: 'mp4', operations: [{ type: 'explode' }] });
    expect(item!.pointer).toBe('/operations/0/type');
    expect(item!.allowed).toEqual(expect.arrayContaining(['trim', 'resize', 'rotate', 'metadata', 'sprite']));
    expect(item!.allowed).toHaveLength(24);
  });

  it('names the alternatives a union of types takes, and reports the branch the value reached', () => {
    expect(itemsFor({ output: { format: 'mp4', video: 'fast' } })).toEqual([{ pointer: '/output/video', message: 'must be an object or false' }]);
    expect(itemsFor({ output: { format: 'mp4', video: { bitrate: true } } })).toEqual([{ pointer: '/output/video/bitrate', message: 'must be a number or a string' }]);
    // The value got past the union's type: the object's own problem, not the union's.
    expect(itemsFor({ output: { format: 'mp4', vidoe: {} } })).toEqual([{ pointer: '/output', message: 'Unknown field(s): vidoe.' }]);
    expect(itemsFor({ output: { format: 'mp4', video: { bitrate: 'fast' } } })).toMatchObject([{ pointer: '/output/video/bitrate', message: expect.stringMatching(/bitrate/) }]);
  });

  it('names query parameters and suggests for them too', () => {
    const query = { status: 'queud', sort: 'created' };
    const parsed = ListJobsQuery.safeParse(query);
    expect(parsed.success).toBe(false);
    const items = fromZodError(parsed.error!, 'query', query).errors;
    expect(items).toEqual([
      expect.objectContaining({ parameter: 'status', allowed: expect.arrayContaining(['queued']), suggestion: 'queued' }),
      expect.objectContaining({ parameter: 'sort', allowed: ['-created_at', 'created_at'], suggestion: 'created_at' }),
    ]);
  });
});

describe('closest', () => {
  it('finds a different case, a prefix either way, a small edit, a swap, and the nearest number', () => {
    expect(closest('MP4', ['webm', 'mp4'])).toBe('mp4');
    expect(closest('we', ['mp4', 'webm'])).toBe('webm');
    expect(closest('native2', ['auto', 'native'])).toBe('native');
    expect(closest('mp5', ['webm', 'mp4'])).toBe('mp4');
    expect(closest('h246', ['h265', 'h264'])).toBe('h264');
    expect(closest(100, [90, 180, 270])).toBe(90);
    expect(closest('200', [90, 180, 270])).toBe(180);
  });

  it('suggests nothing far away, empty or not text', () => {
    expect(closest('divx', ['h264', 'h265', 'vp9'])).toBeUndefined();
    expect(closest('', ['mp4'])).toBeUndefined();
    expect(closest({}, ['mp4'])).toBeUndefined();
    expect(closest(undefined, ['mp4'])).toBeUndefined();
  });
});
