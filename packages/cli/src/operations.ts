/** `--op trim:start=1,end=4` -> `{ type: 'trim', start: 1, end: 4 }`; `--op remove_audio` -> `{ type: 'remove_audio' }`. */
import { UsageError } from './exit-codes.js';

export function parseOperation(text: string): Record<string, unknown> & { type: string } {
  const colon = text.indexOf(':');
  const type = (colon < 0 ? text : text.slice(0, colon)).trim();
  if (!/^[a-z_]+$/.test(type)) throw new UsageError(`--op ${text}: expected type:key=value,key=value`);
  const operation: Record<string, unknown> & { type: string } = { type };
  if (colon < 0) return operation;
  for (const pair of text.slice(colon + 1).split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--op ${text}: "${pair}" is not key=value`);
    operation[pair.slice(0, eq).trim()] = scalar(pair.slice(eq + 1).trim());
  }
  return operation;
}

/** Numbers and booleans as JSON has them; anything else (a time like 00:00:04.5, a colour) stays text. */
function scalar(value: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (value === 'true' || value === 'false') return value === 'true';
  return value;
}
