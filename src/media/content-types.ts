/**
 * The content type of a file a job keeps by its path rather than by the plan's own list (a streaming package's
 * playlists and segments, an analysis's per-frame files), from its extension; players and browsers rely on these.
 */
const BY_EXTENSION: Readonly<Record<string, string>> = {
  m3u8: 'application/vnd.apple.mpegurl',
  mpd: 'application/dash+xml',
  m4s: 'video/iso.segment',
  mp4: 'video/mp4',
  m4a: 'audio/mp4',
  ts: 'video/mp2t',
  aac: 'audio/aac',
  vtt: 'text/vtt; charset=utf-8',
  jpg: 'image/jpeg',
  png: 'image/png',
  json: 'application/json',
  csv: 'text/csv; charset=utf-8',
  zip: 'application/zip',
};

export function contentTypeOf(path: string): string {
  const extension = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase() ?? '';
  return BY_EXTENSION[extension] ?? 'application/octet-stream';
}
