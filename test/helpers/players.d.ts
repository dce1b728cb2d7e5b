// The playlist parsers players use ship no types; the tests read their plain objects.
declare module 'm3u8-parser' {
  export class Parser {
    push(text: string): void;
    end(): void;
    manifest: unknown;
  }
}
declare module 'mpd-parser' {
  export function parse(text: string, options: { manifestUri: string }): unknown;
}
