import { describe, expect, it } from 'vitest';
import {
  FilenameError,
  MAX_FILENAME_BYTES,
  contentDisposition,
  normalizeFilename,
  type FilenameErrorCode,
} from '../../../src/storage/filename.js';

function refusedCode(name: string): FilenameErrorCode {
  try {
    normalizeFilename(name);
  } catch (error) {
    expect(error).toBeInstanceOf(FilenameError);
    // Fixed, client-safe text: never the name that was refused.
    if (name.trim().length > 2) expect((error as FilenameError).message).not.toContain(name);
    return (error as FilenameError).code;
  }
  throw new Error(`${JSON.stringify(name)} was accepted`);
}

/** The filename* value decoded back, as a user agent would. */
function extendedName(header: string): string {
  const match = /filename\*=UTF-8''([^;\s]+)$/.exec(header);
  if (!match?.[1]) throw new Error(`no filename* in ${header}`);
  return decodeURIComponent(match[1]);
}

function fallbackName(header: string): string {
  const match = /filename="([^"\\]*)"/.exec(header);
  if (!match || match[1] === undefined) throw new Error(`no filename= in ${header}`);
  return match[1];
}

describe('file names', () => {
  it('audit #22: unicode names are NFC-normalised and kept; control and bidi characters are refused; Content-Disposition is safe', () => {
    // Every script, marks, emoji (with joiners, modifiers, variation selectors, tag sequences) is kept as given.
    const kept = [
      '動画ファイル 2024.mp4',
      'فيديو العائلة.mkv',
      'Видео (финал) [1080p].webm',
      'ملف‌نهایی.mp4', // Persian with a zero-width non-joiner, which the word needs
      'clip 🎬🔥.mov',
      'family 👨‍👩‍👧 trip 👋🏽.mp4',
      'flag 🏴󠁧󠁢󠁥󠁮󠁧󠁿.mp4',
      '한국어 비디오.mp4',
      'हिन्दी वीडियो.mp4',
      "Tom's cut, v2 - final!.mp4",
      'a.b.c_d-e (1) [2] {3} #4 +5 =6 @7 ~8 €9 %10.mp4',
      '.hidden',
      'no extension',
    ];
    for (const name of kept) expect(normalizeFilename(name)).toBe(name.normalize('NFC'));

    // NFD input (as macOS produces) becomes NFC: one name, one spelling.
    const nfd = 'Cafe\u0301 Ame\u0301lie\u0301 — re\u0301sume\u0301.mp4';
    expect(nfd).not.toBe(nfd.normalize('NFC'));
    expect(normalizeFilename(nfd)).toBe('Café Amélié — résumé.mp4');
    expect(normalizeFilename('\u1112\u1161\u11AB.mp4')).toBe('한.mp4');
    // Idempotent, so stored names re-normalise to themselves.
    for (const name of kept) expect(normalizeFilename(normalizeFilename(name))).toBe(normalizeFilename(name));

    // Characters common file systems refuse on save are replaced; surrounding spaces are trimmed.
    expect(normalizeFilename('what? a "clip": <1|2>*.mp4')).toBe('what_ a _clip__ _1_2__.mp4');
    expect(normalizeFilename('  padded name.mp4 \u3000')).toBe('padded name.mp4');

    // Refused, not stripped: removing the character would make a different, misleading name.
    expect(refusedCode('invoice\u202Egnp.exe')).toBe('BIDI_CONTROL');
    for (const bidi of ['\u202A', '\u202B', '\u202C', '\u202D', '\u202E', '\u2066', '\u2067', '\u2068', '\u2069', '\u200E', '\u200F', '\u061C']) {
      expect(refusedCode(`report${bidi}.pdf`)).toBe('BIDI_CONTROL');
    }
    for (const control of ['\u0000', '\u0001', '\t', '\n', '\r', '\u001B', '\u007F', '\u0080', '\u0085', '\u009F', '\u2028', '\u2029']) {
      expect(refusedCode(`a${control}b.mp4`)).toBe('CONTROL_CHARACTER');
    }
    for (const invisible of ['\u200B', '\u00AD', '\uFEFF', '\u2060', '\u{E0041}']) {
      expect(refusedCode(`pay${invisible}pal.mp4`)).toBe('INVISIBLE_CHARACTER');
    }
    for (const name of ['../etc/passwd', 'dir/file.mp4', 'C:\\x.mp4', 'a\u2215b.mp4', 'a\uFF0Fb.mp4', 'a\u2044b']) {
      expect(refusedCode(name)).toBe('PATH_SEPARATOR');
    }
    expect(refusedCode('')).toBe('EMPTY');
    expect(refusedCode('   ')).toBe('EMPTY');
    expect(refusedCode('.')).toBe('DOT_ONLY');
    expect(refusedCode('..')).toBe('DOT_ONLY');
    expect(refusedCode(' . . ')).toBe('DOT_ONLY');
    expect(refusedCode('bad\uD800.mp4')).toBe('INVALID_UNICODE');

    // The 255-byte limit counts UTF-8 bytes after NFC, not characters.
    expect(normalizeFilename('a'.repeat(MAX_FILENAME_BYTES))).toHaveLength(MAX_FILENAME_BYTES);
    expect(refusedCode('a'.repeat(MAX_FILENAME_BYTES + 1))).toBe('TOO_LONG');
    expect(normalizeFilename('日'.repeat(85))).toHaveLength(85); // 255 bytes
    expect(refusedCode('日'.repeat(86))).toBe('TOO_LONG'); // 258 bytes
    expect(normalizeFilename('e\u0301'.repeat(127))).toHaveLength(127); // 381 code units in NFD, 254 bytes in NFC
    expect(refusedCode('x'.repeat(100_000))).toBe('TOO_LONG');

    // Content-Disposition: an ASCII fallback that cannot break out of its quotes, and the exact name in filename*.
    expect(contentDisposition('report.pdf')).toBe(`attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`);
    expect(contentDisposition('動画.mp4', 'inline')).toBe(
      `inline; filename="__.mp4"; filename*=UTF-8''%E5%8B%95%E7%94%BB.mp4`,
    );
    for (const name of [...kept, nfd, `it's (100%) "done"; x=y.mp4`, 'back\u0060tick|pipe*star.mp4']) {
      const header = contentDisposition(name);
      // Header-safe: printable ASCII only, one line, nothing a parser could take for another parameter.
      expect(header).toMatch(/^attachment; filename="[\x20-\x7E]*"; filename\*=UTF-8''[A-Za-z0-9!#$&+\-.^_`|~%]+$/);
      expect(fallbackName(header)).not.toMatch(/["\\%]/);
      expect(extendedName(header)).toBe(normalizeFilename(name));
      expect(() => new Headers({ 'content-disposition': header })).not.toThrow();
    }
    expect(fallbackName(contentDisposition('Видео.mp4'))).toBe('_____.mp4');
    expect(fallbackName(contentDisposition('Café.mp4'.normalize('NFD')))).toBe('Caf_.mp4');
    expect(() => contentDisposition('invoice\u202Egnp.exe')).toThrow(FilenameError);
    expect(() => contentDisposition('a\r\nSet-Cookie: x=1')).toThrow(FilenameError);
  });
});
