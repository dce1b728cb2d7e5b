/**
 * audit #32: no string from a request becomes its own ffmpeg option, an output path, or a new filter-graph node.
 * Property tests with hostile text in every place a request string can reach the planner: drawtext captions,
 * metadata values, storage URIs (the "file names" of inputs), and the log a measuring pass feeds back.
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../../src/config.js';
import { filter, renderFilters } from '../../../src/media/graph.js';
import { METADATA_KEYS } from '../../../src/media/vocabulary.js';
import { parseLoudnormMeasurement } from '../../../src/media/ops/loudnorm.js';
import { inputsOf, planConvert, type ConvertPlan } from '../../../src/media/plan.js';
import { textProblem } from '../../../src/media/text.js';
import { ConvertRequestSchema } from '../../../src/schemas/convert.js';
import { getToken, graphsOf, parseArgv, parseGraph, parseOptions, type ParsedChain } from './ffmpeg-syntax.js';
import { LOGO, MAIN, expectPlan, hd, logo, plan, silent720 } from './support.js';

/** Characters that mean something to a shell, ffmpeg's command line, its graph or option parsers, or drawtext. */
const SPECIAL = ["'", '"', '\\', ':', '=', ',', ';', '[', ']', '%', '{', '}', ' ', '\n', '-', '$', '`', '|', '&', '/', '@', '#', '(', ')'];
const FRAGMENTS = ['-i', '-f', 'null', '-y', '/etc/passwd', 'file:', 'pipe:1', '[out]', 'movie=x', ':text=', '%{pts}', '%{eif:1:d}', 'drawbox', 'concat:a|b', '\\n', "'\\''"];

const hostileText = fc
  .array(fc.oneof(fc.constantFrom(...SPECIAL), fc.constantFrom(...FRAGMENTS), fc.string({ unit: 'grapheme', maxLength: 4 })), { minLength: 1, maxLength: 40 })
  .map((parts) => parts.join(''))
  .filter((text) => text.length >= 1 && text.length <= 500 && textProblem(text) === null);

const RUNS = { numRuns: 300 };

/** What a parsed graph looks like without its option values: the nodes and links that must not change. */
function shape(chains: ParsedChain[]): string {
  return chains.map((chain) => `${chain.inputs.join('+')}>${chain.filters.map((f) => f.name).join(',')}>${chain.outputs.join('+')}`).join(';');
}

function drawtextTexts(plan: ConvertPlan): string[] {
  return graphsOf(plan.args).flatMap(({ chains }) =>
    chains.flatMap((chain) =>
      chain.filters.filter((f) => f.name === 'drawtext').map((f) => new Map(parseOptions(f.args ?? '')).get('text') ?? '<missing>'),
    ),
  );
}

describe('audit #32: request text cannot break out of its place', () => {
  it('the schema refuses control and bidi characters in captions and metadata', () => {
    fc.assert(
      fc.property(fc.constantFrom('\u0000', '\u0007', '\r', '\u001b', '\u007f', '\u0085', '\u2028', '\u202e', '\u2066', '\ud800'), fc.string(), (bad, text) => {
        const base = { input: MAIN, output: 'mp4' };
        expect(ConvertRequestSchema.safeParse({ ...base, operations: [{ type: 'text', text: text + bad }] }).success).toBe(false);
        expect(ConvertRequestSchema.safeParse({ ...base, operations: [{ type: 'metadata', tags: { title: bad + text } }] }).success).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it('audit #32: metadata tag keys come from the allowed list only, __proto__ and constructor included', () => {
    const base = { input: MAIN, output: 'mp4' };
    const other = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'Title', 'title ', '-f'), fc.string({ maxLength: 64 }));
    fc.assert(
      fc.property(other.filter((key) => !(METADATA_KEYS as readonly string[]).includes(key)), (key) => {
        // As a client's JSON arrives: JSON.parse makes `__proto__` an own key, which a zod record would drop silently.
        const body = JSON.parse(`{"type":"metadata","tags":{${JSON.stringify(key)}:"x","title":"t"}}`);
        const parsed = ConvertRequestSchema.safeParse({ ...base, operations: [body] });
        expect(parsed.success).toBe(false);
        expect(parsed.error!.issues.map((issue) => issue.path.join('/'))).toEqual([`operations/0/tags/${key}`]);
      }),
      { numRuns: 200 },
    );
  });

  it('a caption stays the text value of one drawtext: same graph, same options, same outputs as a harmless caption', () => {
    const withText = (text: string, more: object[]) => expectPlan(plan({ output: 'mp4', operations: [...more, { type: 'text', text }] }));
    fc.assert(
      fc.property(hostileText, fc.boolean(), (text, withWatermark) => {
        const more = withWatermark ? [{ type: 'watermark', image: LOGO }] : [{ type: 'crop', width: 640, height: 360 }];
        const hostile = withText(text, more);
        const harmless = withText('x', more);
        // The command line is the same apart from the graph, and has only the planner's options and outputs.
        const parsed = parseArgv(hostile.args);
        expect(parsed.positionals).toEqual(['output.mp4']);
        expect(parsed.options.map(([option]) => option)).toEqual(parseArgv(harmless.args).options.map(([option]) => option));
        expect(parsed.options.filter(([option]) => option === '-i').map(([, file]) => file)).toEqual(hostile.inputs.map((input) => input.file));
        // The graph has the same nodes and links, and drawtext's text option gives back the caption exactly.
        const graphs = graphsOf(hostile.args);
        expect(graphs.map((g) => shape(g.chains))).toEqual(graphsOf(harmless.args).map((g) => shape(g.chains)));
        expect(drawtextTexts(hostile)).toEqual([text.normalize('NFC')]);
        // Every other filter's options are the harmless plan's.
        const others = (p: ConvertPlan) => graphsOf(p.args).flatMap((g) => g.chains.flatMap((c) => c.filters.filter((f) => f.name !== 'drawtext').map((f) => `${f.name}=${f.args}`)));
        expect(others(hostile)).toEqual(others(harmless));
      }),
      RUNS,
    );
  });

  it('a metadata value is one argv item after -metadata, behind its allowed key', () => {
    const entries = fc.dictionary(fc.constantFrom(...METADATA_KEYS), hostileText, { minKeys: 1, maxKeys: 5 });
    fc.assert(
      fc.property(entries, (tags) => {
        const result = expectPlan(plan({ output: 'mkv', operations: [{ type: 'metadata', tags }] }));
        const parsed = parseArgv(result.args);
        expect(parsed.positionals).toEqual(['output.mkv']);
        const written = parsed.options.filter(([option]) => option === '-metadata').map(([, value]) => value!);
        const expected = METADATA_KEYS.filter((key) => key in tags).map((key) => `${key}=${tags[key]!.normalize('NFC')}`);
        expect(written).toEqual(expected);
        // Without the tags, the command line is the same.
        const bare = expectPlan(plan({ output: 'mkv' }));
        expect(result.args.filter((item, i) => item !== '-metadata' && result.args[i - 1] !== '-metadata')).toEqual(bare.args);
      }),
      RUNS,
    );
  });

  it('storage URIs never reach the command line: inputs are the planner’s own file names', () => {
    const uri = hostileText.map((text) => `hostile-${text}`.slice(0, 2048));
    fc.assert(
      fc.property(uri, uri, uri, (main, image, part) => {
        // A concat part that is the watermark image (or the main input) is that file, silent or not: another plan.
        fc.pre(part !== image && part !== main);
        const body = (a: string, b: string, c: string) =>
          ConvertRequestSchema.parse({ input: a, output: 'mp4', operations: [{ type: 'watermark', image: b }, { type: 'concat', inputs: [c] }] });
        // Probed by URI: a watermark image that is the main input is the main input (one file, read once).
        const probes = (request: ReturnType<typeof body>, [a, b]: string[]) =>
          inputsOf(request).map((input) => (input.uri === a ? hd() : input.uri === b ? logo : silent720));
        const hostile = body(main, image, part);
        const harmless = body(MAIN, LOGO, 'upload:0190c5a4-7d4e-7c1a-9f5e-00000000000b');
        const a = expectPlan(planConvert(hostile, probes(hostile, [main, image]), DEFAULT_LIMITS));
        const b = expectPlan(planConvert(harmless, probes(harmless, [MAIN, LOGO]), DEFAULT_LIMITS));
        if (new Set([main, image, part]).size === 3) expect(a.args).toEqual(b.args);
        expect(a.args.join('\u0000')).not.toContain('hostile-');
        expect(parseArgv(a.args).positionals).toEqual(['output.mp4']);
      }),
      { numRuns: 200 },
    );
  });

  it('a measuring pass’s log (the input’s doing) gives only bounded numbers to the next pass', () => {
    const fakeBlock = fc.record({
      input_i: fc.oneof(hostileText, fc.constantFrom('-23.5', '-inf', 'inf', '1e3', '-99.1', '0', '-0.00')),
      input_tp: fc.oneof(hostileText, fc.constantFrom('-1.0', '150', '-2')),
      input_lra: fc.oneof(hostileText, fc.constantFrom('3.1', '-1', '7')),
      input_thresh: fc.oneof(hostileText, fc.constantFrom('-33.2', '5')),
      target_offset: fc.oneof(hostileText, fc.constantFrom('0.2', '-0.1')),
    });
    fc.assert(
      fc.property(hostileText, fakeBlock, (noise, block) => {
        const log = `${noise}\n[Parsed_loudnorm_0] \n${JSON.stringify(block, null, '\t')}\n`;
        const measured = parseLoudnormMeasurement(log);
        const result = expectPlan(plan({ output: 'mp3', operations: [{ type: 'loudnorm' }] }, { measurements: { loudnorm: measured } }));
        const af = parseArgv(result.args).options.find(([option]) => option === '-af')![1]!;
        const [loudnorm] = parseGraph(af)[0]!.filters;
        for (const [key, value] of parseOptions(loudnorm!.args!)) {
          if (key === 'linear' || key === 'print_format') continue;
          expect(value, key).toMatch(/^-?\d{1,3}(?:\.\d{1,6})?$/);
        }
        if (measured) {
          for (const value of Object.values(measured)) expect(value >= -99 && value <= 99).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('real ffmpeg reads a hostile caption back exactly, as the one option of one drawtext', () => {
    // ffmpeg prints every option it sets at debug level; its own parsers are the final word on the escaping.
    const samples = fc.sample(hostileText.filter((text) => !text.includes("'\n")), { numRuns: 25, seed: 32 });
    for (const text of [...samples, "a'b:c\\d[e]f,g;h", ' both ends ', '\\', "'"]) {
      // drawbox after it logs its own option: were the caption to add a node, drawbox would not be node 1.
      const vf = renderFilters([filter('drawtext', { text, expansion: 'none', fontsize: 12 }), filter('drawbox', { w: 1 })]);
      const run = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'debug', '-f', 'lavfi', '-i', 'color=s=32x32:d=0.04', '-vf', vf, '-f', 'null', '-'], {
        encoding: 'utf8',
      });
      expect(run.status, run.stderr.slice(-500)).toBe(0);
      const set = /Setting 'text' to value '([\s\S]*?)'\n(?=\[)/.exec(run.stderr);
      expect(set?.[1], JSON.stringify(text)).toBe(text);
      const filters = new Set(run.stderr.match(/\[Parsed_\w+? @/g));
      // color_0 is the lavfi source's own graph.
      expect([...filters].sort()).toEqual(['[Parsed_color_0 @', '[Parsed_drawbox_1 @', '[Parsed_drawtext_0 @']);
    }
  });
});

describe('the ffmpeg syntax model the tests rely on', () => {
  it('reads tokens as av_get_token does', () => {
    expect(getToken("  a\\:b'c:d'e : f", ':')).toEqual({ token: 'a:bc:de', rest: ': f' });
    expect(getToken("x\\ '", ':')).toEqual({ token: 'x ', rest: '' });
    expect(getToken('y   ', ':')).toEqual({ token: 'y', rest: '' });
  });
  it('parses graphs and options', () => {
    expect(parseGraph('[0:0]scale=w=2:h=2,crop=w=1[v0];[v0][1:0]overlay=x=1[v1]')).toEqual([
      { inputs: ['0:0'], filters: [{ name: 'scale', args: 'w=2:h=2' }, { name: 'crop', args: 'w=1' }], outputs: ['v0'] },
      { inputs: ['v0', '1:0'], filters: [{ name: 'overlay', args: 'x=1' }], outputs: ['v1'] },
    ]);
    expect(parseOptions('a=1:b=x\\:y:c=')).toEqual([
      ['a', '1'],
      ['b', 'x:y'],
      ['c', ''],
    ]);
    expect(() => parseArgv(['-i', 'input', '-evil', 'x'])).toThrow(/unexpected option/);
  });
});
