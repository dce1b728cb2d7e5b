/**
 * Filter graphs as data, rendered to ffmpeg's syntax in one place. Every option value goes through two escapes,
 * one per parser ffmpeg runs on a graph: the option parser of the filter (`key=value:key=value`, where `'`, `\`
 * and `:` are special) and the graph parser around it (where `'`, `\`, `[`, `]`, `,` and `;` are). So a request's
 * text, once it is an option value, stays that one value: it cannot end the option, the filter or the chain, nor
 * add a filter or a link (audit #32). Filter names, option keys and link labels come only from the planner.
 */

export type OptionValue = string | number;

export interface Filter {
  readonly name: string;
  readonly options: readonly (readonly [key: string, value: OptionValue])[];
}

/** One chain of the graph: `[in1][in2]filter,filter[out1][out2]`. */
export interface Chain {
  readonly inputs: readonly string[];
  readonly filters: readonly Filter[];
  readonly outputs: readonly string[];
}

const NAME = /^[a-z][a-z0-9_]*$/;
const KEY = /^[A-Za-z][A-Za-z0-9_]*$/;
// Input stream specifiers (0:1) and the planner's own link labels (v1, wm0, vout).
const LABEL = /^(?:\d{1,3}:\d{1,4}|[a-z][a-z0-9_]*)$/;

/** A filter with named options; undefined options are left out. */
export function filter(name: string, options: Record<string, OptionValue | undefined> = {}): Filter {
  if (!NAME.test(name)) throw new Error(`not a filter name: ${name}`);
  const entries: (readonly [string, OptionValue])[] = [];
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!KEY.test(key)) throw new Error(`not an option name: ${key}`);
    entries.push([key, value]);
  }
  return { name, options: entries };
}

/**
 * A number as ffmpeg reads it: an integer, or a decimal with at most 6 places; never an exponent, NaN or infinity.
 */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) throw new Error('not a finite number');
  if (Number.isInteger(value)) {
    if (!Number.isSafeInteger(value)) throw new Error('number out of range');
    return String(value);
  }
  if (Math.abs(value) >= 1e15) throw new Error('number out of range');
  const fixed = value.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
  return fixed === '-0' ? '0' : fixed;
}

const WHITESPACE = ' \n\t\r';

/**
 * Backslash-escapes `special` characters, and whitespace at either end (which ffmpeg's tokenizer would trim), so
 * that av_get_token() gives back exactly `text`.
 */
function escapeToken(text: string, special: string): string {
  const chars = [...text];
  let first = 0;
  while (first < chars.length && WHITESPACE.includes(chars[first]!)) first++;
  let last = chars.length - 1;
  while (last >= 0 && WHITESPACE.includes(chars[last]!)) last--;
  let out = '';
  chars.forEach((char, index) => {
    const edge = index < first || index > last;
    out += special.includes(char) || edge ? `\\${char}` : char;
  });
  return out;
}

/** First level: a value inside a filter's `key=value:key=value` list. */
export function escapeOptionValue(value: string): string {
  return escapeToken(value, "'\\:");
}

/** Second level: a filter's whole argument string inside the graph. */
export function escapeGraphArgs(args: string): string {
  return escapeToken(args, "'\\[],;");
}

function valueText(value: OptionValue): string {
  return typeof value === 'number' ? formatNumber(value) : value;
}

export function renderFilter(f: Filter): string {
  if (f.options.length === 0) return f.name;
  const args = f.options.map(([key, value]) => `${key}=${escapeOptionValue(valueText(value))}`).join(':');
  return `${f.name}=${escapeGraphArgs(args)}`;
}

/** A chain of filters without links, for -vf / -af. */
export function renderFilters(filters: readonly Filter[]): string {
  return filters.map(renderFilter).join(',');
}

export function renderGraph(chains: readonly Chain[]): string {
  return chains
    .map((chain) => {
      for (const label of [...chain.inputs, ...chain.outputs]) {
        if (!LABEL.test(label)) throw new Error(`not a link label: ${label}`);
      }
      const links = (labels: readonly string[]) => labels.map((label) => `[${label}]`).join('');
      return `${links(chain.inputs)}${renderFilters(chain.filters)}${links(chain.outputs)}`;
    })
    .join(';');
}

/** The graph of one ffmpeg run under construction: chains plus fresh link labels. */
export class GraphBuilder {
  readonly chains: Chain[] = [];
  private readonly counters = new Map<string, number>();

  label(prefix: string): string {
    const next = this.counters.get(prefix) ?? 0;
    this.counters.set(prefix, next + 1);
    return `${prefix}${next}`;
  }

  add(chain: Chain): void {
    this.chains.push(chain);
  }

  /** Every filter name used, for the plan's requirements. */
  filterNames(): string[] {
    return this.chains.flatMap((chain) => chain.filters.map((f) => f.name));
  }
}

/**
 * One stream flowing through the graph (the video or the audio of the output). Filters queue up as a chain from
 * the current link; a filter with more inputs (overlay, concat) first closes the chain into a labelled link.
 */
export class StreamPipe {
  private pending: Filter[] = [];
  /** Whether the stream still is the plain input stream `source` (then a simple -vf/-af chain can carry it). */
  private linked = false;
  /** A measuring pass ends a stream at its measuring filter: later filters are not needed there. */
  closed = false;

  constructor(
    readonly kind: 'video' | 'audio',
    private readonly graph: GraphBuilder,
    private current: string,
  ) {}

  get source(): string {
    return this.current;
  }

  get isSimple(): boolean {
    return !this.linked;
  }

  get filters(): readonly Filter[] {
    return this.pending;
  }

  add(...filters: Filter[]): void {
    if (this.closed) return;
    this.pending.push(...filters);
  }

  /**
   * Ends the pending chain in a new link and returns its label; with nothing pending, the current link (which may
   * still be the input stream itself).
   */
  link(): string {
    if (this.pending.length === 0) return this.current;
    const out = this.graph.label(this.kind === 'video' ? 'v' : 'a');
    this.graph.add({ inputs: [this.current], filters: this.pending, outputs: [out] });
    this.pending = [];
    this.current = out;
    this.linked = true;
    return out;
  }

  /** Continues the stream from another link (the output of a multi-input filter). */
  continueFrom(label: string): void {
    if (this.pending.length > 0) throw new Error('pending filters would be lost');
    this.current = label;
    this.linked = true;
  }

  /** Joins this stream with other links through one filter; the stream continues from its output. */
  join(others: readonly string[], f: Filter): void {
    if (this.closed) return;
    const from = this.link();
    const out = this.graph.label(this.kind === 'video' ? 'v' : 'a');
    this.graph.add({ inputs: [from, ...others], filters: [f], outputs: [out] });
    this.current = out;
    this.linked = true;
  }
}
