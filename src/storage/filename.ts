/**
 * Display names of uploads and outputs. They are never used as paths or keys (keys.ts makes those); they are
 * stored, listed and sent back in Content-Disposition, so what matters is that a name means one thing
 * (NFC), keeps every script, and cannot hide what it is (control and bidi characters are refused, not stripped,
 * so `invoice\u202Egnp.exe` never becomes a plausible `invoicegnp.exe`).
 */

export const MAX_FILENAME_BYTES = 255;
/** Refuse absurd inputs before normalising them; NFC can shrink a string, but not by more than this factor. */
const MAX_RAW_LENGTH = MAX_FILENAME_BYTES * 4;

export type FilenameErrorCode =
  | 'EMPTY'
  | 'DOT_ONLY'
  | 'TOO_LONG'
  | 'CONTROL_CHARACTER'
  | 'BIDI_CONTROL'
  | 'INVISIBLE_CHARACTER'
  | 'PATH_SEPARATOR'
  | 'INVALID_UNICODE';

const MESSAGES: Record<FilenameErrorCode, string> = {
  EMPTY: 'file name is empty',
  DOT_ONLY: 'file name must not consist only of dots',
  TOO_LONG: `file name is longer than ${MAX_FILENAME_BYTES} UTF-8 bytes`,
  CONTROL_CHARACTER: 'file name contains control characters',
  BIDI_CONTROL: 'file name contains bidirectional control characters',
  INVISIBLE_CHARACTER: 'file name contains invisible formatting characters',
  PATH_SEPARATOR: 'file name contains a path separator',
  INVALID_UNICODE: 'file name is not valid Unicode',
};

/** The message is fixed per code and safe for clients; it does not echo the name. */
export class FilenameError extends Error {
  constructor(readonly code: FilenameErrorCode) {
    super(MESSAGES[code]);
    this.name = 'FilenameError';
  }
}

// C0, DEL, C1, and the line/paragraph separators that act as line breaks in headers and logs.
const CONTROL = /[\p{Cc}\u2028\u2029]/u;
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
// `/` and `\`, and the look-alikes a viewer would read as one (division/fraction slash, fullwidth solidi, big solidi).
const PATH_SEPARATOR = /[/\\\u2044\u2215\u29F8\u29F9\uFF0F\uFF3C]/u;
const LONE_SURROGATE = /\p{Cs}/u;
// ZWNJ and ZWJ are format characters that Persian, Indic scripts and emoji sequences need; tag characters are
// allowed only inside an emoji tag sequence (subdivision flags such as England's).
const EMOJI_TAG_SEQUENCE = /\u{1F3F4}[\u{E0020}-\u{E007E}]+\u{E007F}/gu;
const JOINERS = /[\u200C\u200D]/gu;
const FORMAT = /\p{Cf}/u;
// Not dangerous in a header, but refused by common file systems when the user saves the file.
const RESERVED_ON_SAVE = /[<>:"|?*]/gu;
const EDGE_WHITESPACE = /^[\p{Zs}]+|[\p{Zs}]+$/gu;
const DOTS_AND_SPACES_ONLY = /^[.\p{Zs}]+$/u;

const utf8 = new TextEncoder();

/**
 * Returns the NFC form of a display name, with characters that common file systems refuse (`<>:"|?*`) replaced
 * by `_` and surrounding spaces trimmed; letters, digits, marks, punctuation and symbols of every script are kept.
 * Throws FilenameError for control, bidi and invisible characters, path separators, empty or dot-only names, and
 * names longer than 255 UTF-8 bytes. Idempotent: a normalised name normalises to itself.
 */
export function normalizeFilename(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new FilenameError('EMPTY');
  if (name.length > MAX_RAW_LENGTH) throw new FilenameError('TOO_LONG');
  if (LONE_SURROGATE.test(name)) throw new FilenameError('INVALID_UNICODE');
  const nfc = name.normalize('NFC');
  if (CONTROL.test(nfc)) throw new FilenameError('CONTROL_CHARACTER');
  if (BIDI.test(nfc)) throw new FilenameError('BIDI_CONTROL');
  if (PATH_SEPARATOR.test(nfc)) throw new FilenameError('PATH_SEPARATOR');
  if (FORMAT.test(nfc.replace(EMOJI_TAG_SEQUENCE, '').replace(JOINERS, ''))) throw new FilenameError('INVISIBLE_CHARACTER');

  const normalized = nfc.replace(RESERVED_ON_SAVE, '_').replace(EDGE_WHITESPACE, '');
  if (normalized.length === 0) throw new FilenameError('EMPTY');
  if (DOTS_AND_SPACES_ONLY.test(normalized)) throw new FilenameError('DOT_ONLY');
  if (utf8.encode(normalized).byteLength > MAX_FILENAME_BYTES) throw new FilenameError('TOO_LONG');
  return normalized;
}

/** Printable ASCII for the legacy `filename=` parameter: no quote or backslash to break out of the quoted string,
 * and no `%` that some user agents would wrongly percent-decode (RFC 6266 appendix D). */
function asciiFallback(name: string): string {
  let out = '';
  for (const char of name) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"' || char === '\\') continue;
    out += code >= 0x20 && code <= 0x7e && char !== '%' ? char : '_';
  }
  return out;
}

// attr-char of RFC 8187: everything else is percent-encoded, byte by byte, from UTF-8.
const ATTR_CHAR = /^[A-Za-z0-9!#$&+\-.^_`|~]$/;

function encodeExtValue(name: string): string {
  let out = '';
  for (const byte of utf8.encode(name)) {
    const char = String.fromCharCode(byte);
    out += byte < 0x80 && ATTR_CHAR.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * A Content-Disposition value per RFC 6266 and RFC 8187: an ASCII `filename="..."` for old clients and
 * `filename*=UTF-8''...` carrying the exact name. The name is normalised first (throws FilenameError when refused),
 * so no header can carry a control character, a line break or a bidi trick.
 */
export function contentDisposition(name: string, type: 'attachment' | 'inline' = 'attachment'): string {
  const normalized = normalizeFilename(name);
  return `${type}; filename="${asciiFallback(normalized)}"; filename*=UTF-8''${encodeExtValue(normalized)}`;
}
