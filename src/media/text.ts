/**
 * Free text from a request that ends up in an ffmpeg argument: drawtext captions and metadata values. It is
 * NFC-normalised, and refused (not stripped, so what is shown is what was sent) when it holds control characters
 * other than a line break, bidirectional controls, or broken UTF-16. Escaping for the place it goes is done there:
 * graph.ts for filter options; metadata values are one argv item of their own and need none.
 */

// C0 except \n, DEL, C1, and the Unicode line/paragraph separators.
const CONTROL = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u2028\u2029]/u;
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
const LONE_SURROGATE = /\p{Cs}/u;

export type TextProblem = 'CONTROL_CHARACTER' | 'BIDI_CONTROL' | 'INVALID_UNICODE';

export const TEXT_PROBLEM_MESSAGES: Readonly<Record<TextProblem, string>> = {
  CONTROL_CHARACTER: 'text must not contain control characters other than a line break',
  BIDI_CONTROL: 'text must not contain bidirectional control characters',
  INVALID_UNICODE: 'text is not valid Unicode',
};

export function textProblem(text: string): TextProblem | null {
  if (LONE_SURROGATE.test(text)) return 'INVALID_UNICODE';
  if (CONTROL.test(text)) return 'CONTROL_CHARACTER';
  if (BIDI.test(text)) return 'BIDI_CONTROL';
  return null;
}

/** The form a checked text is used in. */
export function normaliseText(text: string): string {
  return text.normalize('NFC');
}
