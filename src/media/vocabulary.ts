/**
 * Words a request may use, as fixed lists: the request schemas (src/schemas/) allow exactly these, and the
 * operations (ops/) turn them into ffmpeg's spelling. A leaf module, so that schemas and planner both read it
 * without depending on each other.
 */

/** Metadata tags a request may set: ffmpeg's common keys, nothing else (not even `__proto__`). */
export const METADATA_KEYS = [
  'title',
  'artist',
  'album',
  'album_artist',
  'composer',
  'genre',
  'date',
  'track',
  'disc',
  'comment',
  'description',
  'synopsis',
  'copyright',
  'publisher',
  'language',
  'encoded_by',
] as const;

/** The fonts `text` may use, by family; ops/text.ts maps each to a fontconfig pattern. */
export const FONTS = ['sans', 'serif', 'mono'] as const;
