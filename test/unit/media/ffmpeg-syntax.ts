/**
 * How ffmpeg 5.1 reads what the planner writes, re-implemented for tests: its command line (options and their
 * arities), its filter-graph parser (libavfilter/graphparser.c) and a filter's `key=value:...` option parser
 * (libavutil/opt.c), both on top of av_get_token (libavutil/avstring.c). The property tests use these to check that
 * request text stays inside the one value it was put in.
 */

const WHITESPACES = ' \n\t\r';

/** av_get_token: reads up to an unescaped, unquoted `term` character; returns the token and the rest. */
export function getToken(text: string, term: string): { token: string; rest: string } {
  let p = 0;
  while (p < text.length && WHITESPACES.includes(text[p]!)) p++;
  const out: string[] = [];
  let end = 0;
  while (p < text.length && !term.includes(text[p]!)) {
    const c = text[p++]!;
    if (c === '\\' && p < text.length) {
      out.push(text[p++]!);
      end = out.length;
    } else if (c === "'") {
      while (p < text.length && text[p] !== "'") out.push(text[p++]!);
      if (p < text.length) {
        p++;
        end = out.length;
      }
    } else {
      out.push(c);
    }
  }
  // Trailing whitespace that was neither escaped nor quoted is dropped.
  let length = out.length;
  while (length > end && WHITESPACES.includes(out[length - 1]!)) length--;
  return { token: out.slice(0, length).join(''), rest: text.slice(p) };
}

export interface ParsedFilter {
  name: string;
  /** The argument string after `=` as the filter receives it, or null. */
  args: string | null;
}

export interface ParsedChain {
  inputs: string[];
  filters: ParsedFilter[];
  outputs: string[];
}

function linkNames(text: string): { names: string[]; rest: string } {
  const names: string[] = [];
  let rest = text;
  while (rest.startsWith('[')) {
    const { token, rest: after } = getToken(rest.slice(1), ']');
    if (!token || !after.startsWith(']')) throw new Error('bad link label');
    names.push(token);
    rest = after.slice(1);
    rest = rest.slice(rest.length - rest.trimStart().length);
  }
  return { names, rest };
}

/** avfilter_graph_parse2: chains separated by `;`, filters by `,`, labels in brackets. */
export function parseGraph(graph: string): ParsedChain[] {
  const chains: ParsedChain[] = [];
  let rest = graph;
  let chain: ParsedChain = { inputs: [], filters: [], outputs: [] };
  for (;;) {
    rest = rest.trimStart();
    const inputs = linkNames(rest);
    rest = inputs.rest;
    if (chain.filters.length === 0) chain.inputs.push(...inputs.names);
    else if (inputs.names.length > 0) throw new Error('labels inside a chain');
    const name = getToken(rest, '=,;[');
    if (!name.token) throw new Error('no filter name');
    rest = name.rest;
    let args: string | null = null;
    if (rest.startsWith('=')) {
      const value = getToken(rest.slice(1), '[],;');
      args = value.token;
      rest = value.rest;
    }
    chain.filters.push({ name: name.token, args });
    const outputs = linkNames(rest);
    rest = outputs.rest.trimStart();
    const separator = rest[0];
    rest = rest.slice(1);
    if (outputs.names.length > 0) chain.outputs.push(...outputs.names);
    if (separator === ',') {
      if (outputs.names.length > 0) throw new Error('labels inside a chain');
      continue;
    }
    chains.push(chain);
    chain = { inputs: [], filters: [], outputs: [] };
    if (separator === ';') continue;
    if (separator === undefined) return chains;
    throw new Error(`unparsed graph text at ${JSON.stringify(separator + rest)}`);
  }
}

const KEY_CHAR = /[A-Za-z0-9_\-/.]/;

/** A filter's `key=value:key=value` options, as av_opt_get_key_value reads them (all keys named). */
export function parseOptions(args: string): [string, string][] {
  const options: [string, string][] = [];
  let rest = args;
  while (rest.length > 0) {
    rest = rest.trimStart();
    let i = 0;
    while (i < rest.length && KEY_CHAR.test(rest[i]!)) i++;
    const key = rest.slice(0, i);
    if (rest[i] !== '=' || key === '') throw new Error(`not key=value at ${JSON.stringify(rest)}`);
    const { token, rest: after } = getToken(rest.slice(i + 1), ':');
    options.push([key, token]);
    rest = after.startsWith(':') ? after.slice(1) : after;
  }
  return options;
}

/** Every option the planner may write, with the number of values it takes. */
const OPTIONS: Readonly<Record<string, 0 | 1>> = {
  '-hide_banner': 0,
  '-nostdin': 0,
  '-y': 0,
  '-nostats': 0,
  '-vn': 0,
  '-an': 0,
  '-progress': 1,
  '-protocol_whitelist': 1,
  '-ss': 1,
  '-to': 1,
  '-t': 1,
  '-i': 1,
  '-filter_complex': 1,
  '-map': 1,
  '-c': 1,
  '-c:v': 1,
  '-c:a': 1,
  '-crf': 1,
  '-preset': 1,
  '-pix_fmt': 1,
  '-vf': 1,
  '-af': 1,
  '-r': 1,
  '-b:v': 1,
  '-b:a': 1,
  '-maxrate': 1,
  '-bufsize': 1,
  '-deadline': 1,
  '-cpu-used': 1,
  '-row-mt': 1,
  '-tag:v': 1,
  '-x265-params': 1,
  '-ac': 1,
  '-ar': 1,
  '-movflags': 1,
  '-f': 1,
  '-loop': 1,
  '-quality': 1,
  '-q:v': 1,
  '-frames:v': 1,
  '-update': 1,
  '-fps_mode': 1,
  '-metadata': 1,
  '-map_metadata': 1,
  '-avoid_negative_ts': 1,
};

export interface ParsedArgv {
  /** Option and value pairs in order (value null for flags). */
  options: [string, string | null][];
  /** Everything not an option or its value: output files. */
  positionals: string[];
}

/** Reads an argv as ffmpeg does; throws on an option the planner never writes. */
export function parseArgv(argv: readonly string[]): ParsedArgv {
  const options: [string, string | null][] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const item = argv[i]!;
    if (item === '-' || !item.startsWith('-')) {
      positionals.push(item);
      continue;
    }
    const arity = OPTIONS[item];
    if (arity === undefined) throw new Error(`unexpected option ${JSON.stringify(item)}`);
    if (arity === 0) options.push([item, null]);
    else {
      if (i + 1 >= argv.length) throw new Error(`${item} without a value`);
      options.push([item, argv[++i]!]);
    }
  }
  return { options, positionals };
}

/** The filter graphs of an argv: -filter_complex, -vf and -af. */
export function graphsOf(argv: readonly string[]): { option: string; chains: ParsedChain[] }[] {
  return parseArgv(argv)
    .options.filter(([option]) => option === '-filter_complex' || option === '-vf' || option === '-af')
    .map(([option, value]) => ({ option, chains: parseGraph(value!) }));
}
