/**
 * zod issues -> problem items. zod reports a value outside a union as one "Invalid input" wrapping every branch's
 * issues; a client needs the field at fault, the values it may take and, when one is close to what it sent, a
 * suggestion. So a union is unwrapped: when some branch got past the value's type (it failed deeper, or on unknown
 * fields), that branch's issues are the answer; when every branch refused the value itself (an enum, literals, a
 * pattern, a type), they are merged into one item listing every allowed value.
 */
import type { core } from 'zod';
import { closest } from './closest.js';

type Issue = core.$ZodIssue;
type Allowed = string | number;

/** One problem item before it is addressed by pointer or parameter name. */
export interface IssueItem {
  path: PropertyKey[];
  message: string;
  allowed?: Allowed[];
  suggestion?: Allowed;
}

/** `input` is the value that was validated, for suggestions; without it items carry no suggestion. */
export function itemsOf(issues: readonly Issue[], input: unknown): IssueItem[] {
  return issues.flatMap((issue) => describe(issue, [], input));
}

function describe(issue: Issue, prefix: PropertyKey[], input: unknown): IssueItem[] {
  const path = [...prefix, ...issue.path];
  switch (issue.code) {
    case 'invalid_union': {
      if (issue.errors.length === 0) {
        // A discriminated union whose discriminator matched no option: the options are the allowed values.
        const allowed = allowedOf('options' in issue ? issue.options : undefined);
        return [withAllowed({ path, message: generic(issue.message) ? expected(allowed, []) : issue.message }, allowed, valueAt(input, path))];
      }
      const matched = issue.errors.filter((branch) => !refusedAtRoot(branch));
      if (matched.length > 0) {
        const best = matched.reduce((a, b) => (b.length < a.length ? b : a));
        return best.flatMap((inner) => describe(inner, path, input));
      }
      return [merge(issue.errors.flat(), path, input)];
    }
    case 'invalid_value': {
      const allowed = allowedOf(issue.values);
      const message = generic(issue.message) ? expected(allowed, describedLiterals(issue.values)) : issue.message;
      return [withAllowed({ path, message }, allowed, valueAt(input, path))];
    }
    case 'invalid_key': {
      // A record key outside its allowed set: what was sent is the key itself, the last step of the path.
      const allowed = allowedOf(issue.issues.flatMap((inner) => (inner.code === 'invalid_value' ? inner.values : [])));
      const key = path[path.length - 1];
      const message = generic(issue.message) ? `${String(key).slice(0, 64)} is not an allowed key` : issue.message;
      return [withAllowed({ path, message }, allowed, key)];
    }
    case 'unrecognized_keys':
      return [{ path, message: `Unknown field(s): ${issue.keys.join(', ')}.` }];
    default:
      return [{ path, message: issue.message }];
  }
}

/** A branch that refused the value itself (its type or identity), not something inside it. */
function refusedAtRoot(branch: readonly Issue[]): boolean {
  return branch.every(
    (issue) =>
      issue.path.length === 0 &&
      issue.code !== 'unrecognized_keys' &&
      (issue.code !== 'invalid_union' || issue.errors.every((inner) => refusedAtRoot(inner))),
  );
}

/** One item for a value every branch refused: the allowed values of all of them, and what else would do. */
function merge(issues: readonly Issue[], path: PropertyKey[], input: unknown): IssueItem {
  const values: unknown[] = [];
  const types: string[] = [];
  const messages: string[] = [];
  const collect = (issue: Issue) => {
    if (issue.code === 'invalid_union') issue.errors.flat().forEach(collect);
    else if (issue.code === 'invalid_value') values.push(...issue.values);
    else if (issue.code === 'invalid_type') types.push(issue.expected);
    // A pattern or a parser's message says what the other branch wanted (e.g. "a name or #RRGGBB").
    else if (!generic(issue.message)) messages.push(issue.message);
  };
  issues.forEach(collect);
  const allowed = allowedOf(values);
  const others = [...new Set([...types.map(article), ...describedLiterals(values)])];
  return withAllowed({ path, message: messages[0] ?? expected(allowed, others) }, allowed, valueAt(input, path));
}

function withAllowed(item: IssueItem, allowed: Allowed[], sent: unknown): IssueItem {
  if (allowed.length === 0) return item;
  const suggestion = closest(sent, allowed);
  return { ...item, allowed, ...(suggestion === undefined ? {} : { suggestion }) };
}

function allowedOf(values: readonly unknown[] | undefined): Allowed[] {
  const kept = (values ?? []).filter((value): value is Allowed => typeof value === 'string' || typeof value === 'number');
  return [...new Set(kept)];
}

/** Literals a client can send that `allowed` cannot carry (false, null). */
function describedLiterals(values: readonly unknown[]): string[] {
  return values.filter((value) => typeof value === 'boolean' || value === null).map((value) => String(value));
}

function expected(allowed: Allowed[], others: string[]): string {
  const alternatives = [...(allowed.length > 0 ? [`one of ${allowed.join(', ')}`] : []), ...others];
  if (alternatives.length === 0) return 'Invalid value.';
  return `must be ${alternatives.length === 1 ? alternatives[0] : `${alternatives.slice(0, -1).join(', ')} or ${alternatives[alternatives.length - 1]}`}`;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** zod's own wording, which names no field or value: replaced by ours. */
function generic(message: string): boolean {
  return /^Invalid (input|option|discriminator|key)/.test(message);
}

/** The value at a zod path of the validated input; own properties only. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const step of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, step)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[step];
  }
  return value;
}
