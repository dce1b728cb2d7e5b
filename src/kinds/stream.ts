/**
 * The `stream` kind: one input packaged for adaptive streaming (HLS, DASH, or CMAF: one set of fMP4 segments under
 * both an HLS master playlist and a DASH MPD). The plan is src/media/stream-plan.ts (one decode, one scaler per rung,
 * aligned GOPs); ffmpeg writes the segments and media playlists, and `finish` writes what must be measured first:
 * the HLS master playlist with BANDWIDTH / AVERAGE-BANDWIDTH from the segments as written and CODECS read from the
 * initialisation segments, and the MPD's bandwidths likewise.
 */
import type { JobOutput } from '../db/schema.js';
import { planStream, streamInputs, validateStream, type PlannedRung, type StreamPlan } from '../media/stream-plan.js';
import { LIBVMAF } from '../media/quality.js';
import { isSample, verifiedVmaf, verifyLog, vmafFrames, type QualityMeasurements } from '../media/stream-quality.js';
import { codecsFromInit, h264Codecs } from '../media/stream-formats.js';
import type { StreamRequest } from '../schemas/stream.js';
import { makeZip } from 'client-zip';
import type { AttemptRecord, Kind, MadeOutput, PassRecord } from './kind.js';

const M3U8 = 'application/vnd.apple.mpegurl';
const MPD = 'application/dash+xml';

export const streamKind: Kind<StreamRequest, StreamPlan> = {
  name: 'stream',
  inputs: (request) => streamInputs(request),
  validate: (request, limits) => validateStream(request, limits),
  plan: (request, probes, limits, measurements) => planStream(request, probes, limits, measurements as QualityMeasurements),
  measure: (pass, measurements) => ({ ...measureQualityPass(pass, measurements as QualityMeasurements) }),
  finish: (record) => finishPackage(record),
  result: ({ probes, plan }, { warnings, ...measured }) => ({ input: probes[0], ...measured, warnings: [...plan.warnings, ...((warnings as string[] | undefined) ?? [])] }),
  forcedEngine: (request) => (request.options.engine === 'auto' ? null : request.options.engine),
  routeHints: {
    pointer: (missing, request) => (missing.name === LIBVMAF && request.quality ? '/quality' : undefined),
    suggestions: { [LIBVMAF]: 'leave quality out and give the rungs their bitrates, or use a deployment whose engine has libvmaf' },
  },
};

/**
 * What a pass of a ladder by quality left (src/media/stream-quality.ts), for the next plan: the samples' sizes, the
 * scores of a scoring run, or the package's files. An ordinary ladder has one pass, and nothing to measure.
 */
function measureQualityPass(pass: PassRecord, before: QualityMeasurements): QualityMeasurements {
  const sampleBytes = { ...before.sampleBytes };
  const frames = { ...before.vmafFrames };
  const packageFiles: string[] = [];
  for (const [path, size] of pass.written) {
    if (pass.scratch.has(path)) frames[path] = vmafFrames(pass.scratch.get(path)!);
    else if (isSample(path)) sampleBytes[path] = size;
    else packageFiles.push(path);
  }
  return { sampleBytes, vmafFrames: frames, ...(packageFiles.length > 0 ? { packageFiles } : {}) };
}

/** A rung's quality as the result reports it: its target, the samples and choice, and the VMAF of the rung as written. */
function rungQuality(record: AttemptRecord<StreamRequest, StreamPlan>, rung: PlannedRung, warnings: string[]) {
  const choice = rung.quality;
  const verify = record.plan.verify?.find((v) => v.rung === rung.name);
  const log = record.scratch.get(verifyLog(rung.name));
  if (!choice || !verify || log === undefined) throw new Error(`the quality of rung ${rung.name} was not measured`);
  const vmaf = verifiedVmaf(log);
  if (choice.note) warnings.push(`rung ${rung.name}: ${choice.note}`);
  if (vmaf.mean < choice.target) warnings.push(`rung ${rung.name} scored VMAF ${vmaf.mean.toFixed(2)} as written, below its target of ${choice.target}`);
  return {
    target_vmaf: choice.target,
    crf: choice.crf,
    max_bitrate: rung.maxBitrate,
    samples: choice.samples.map((s) => ({ crf: s.crf, bitrate: s.bitrate, vmaf: s.vmaf === null ? null : Math.round(s.vmaf * 1000) / 1000 })),
    // Measured on the rung as written (every segment, or the first ones when `partial`), not on a sample.
    vmaf: { ...vmaf, subsample: verify.subsample, partial: verify.partial },
    met: vmaf.mean >= choice.target,
  };
}

/** What one rendition's segments measure, in bits per second: the largest segment's rate and the whole one's. */
interface Measured {
  peak: number;
  average: number;
  segments: number;
  bytes: number;
}

interface Rendition {
  /** The media playlist, relative to the master. */
  uri: string;
  codecs: string;
  measured: Measured;
}

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

async function finishPackage(record: AttemptRecord<StreamRequest, StreamPlan>): Promise<{ outputs: MadeOutput[]; measured: Record<string, unknown> }> {
  const { plan, request } = record;
  const sizes = new Map(record.outputs.map((o) => [o.name, o.size]));
  const outputs: (MadeOutput & { text: string })[] = [];
  const manifests: Record<string, string> = {};
  let video: Rendition[] = [];
  let audio: Rendition | null = null;

  if (request.format === 'hls') {
    const fmp4 = request.segment_format === 'fmp4';
    video = await Promise.all(
      plan.rungs.map(async (rung) => {
        const media = await playlistOf(record, `${plan.folder}/${rung.name}/index.m3u8`);
        const codecs = fmp4 && media.init ? codecsFromInit(await record.read(`${plan.folder}/${rung.name}/${media.init}`)) : null;
        return { uri: `${rung.name}/index.m3u8`, codecs: codecs ?? fallbackCodecs(rung), measured: measure(media.segments, (uri) => sizes.get(`${plan.folder}/${rung.name}/${uri}`)) };
      }),
    );
    if (plan.audio) {
      const media = await playlistOf(record, `${plan.folder}/audio/index.m3u8`);
      const codecs = fmp4 && media.init ? codecsFromInit(await record.read(`${plan.folder}/audio/${media.init}`)) : null;
      audio = { uri: 'audio/index.m3u8', codecs: codecs ?? audioCodecs(plan), measured: measure(media.segments, (uri) => sizes.get(`${plan.folder}/audio/${uri}`)) };
    }
    manifests.hls = `${plan.folder}/master.m3u8`;
    outputs.push({ name: manifests.hls, contentType: M3U8, text: masterPlaylist(plan, video, audio, fmp4) });
  } else {
    // DASH and CMAF: ffmpeg numbers the representations in stream order, the rungs first and the audio last.
    const ids = plan.rungs.map((_, i) => i);
    const mpdName = `${plan.folder}/manifest.mpd`;
    const mpd = decode(await record.read(mpdName));
    const total = mediaDuration(mpd) ?? plan.expectedDurationS ?? 0;
    const dashMeasure = (id: number) => measureDash(record.outputs, `${plan.folder}/seg-${id}-`, request.segment_duration_s, total);
    const videoIds = await Promise.all(
      ids.map(async (id, i) => ({
        id,
        codecs: codecsFromInit(await record.read(`${plan.folder}/init-${id}.m4s`)) ?? fallbackCodecs(plan.rungs[i]!),
        measured: dashMeasure(id),
      })),
    );
    const audioId = plan.audio ? plan.rungs.length : null;
    const audioDash =
      audioId !== null
        ? { id: audioId, codecs: codecsFromInit(await record.read(`${plan.folder}/init-${audioId}.m4s`)) ?? audioCodecs(plan), measured: dashMeasure(audioId) }
        : null;
    manifests.dash = mpdName;
    outputs.push({ name: mpdName, contentType: MPD, text: rewriteMpd(mpd, [...videoIds, ...(audioDash ? [audioDash] : [])], plan) });
    if (request.format === 'cmaf') {
      // The dash muxer's HLS playlists (media_<id>.m3u8) name the same segments.
      video = videoIds.map((v) => ({ uri: `media_${v.id}.m3u8`, codecs: v.codecs, measured: v.measured }));
      audio = audioDash ? { uri: `media_${audioDash.id}.m3u8`, codecs: audioDash.codecs, measured: audioDash.measured } : null;
      manifests.hls = `${plan.folder}/master.m3u8`;
      outputs.push({ name: manifests.hls, contentType: M3U8, text: masterPlaylist(plan, video, audio, true) });
    } else {
      video = videoIds.map((v) => ({ uri: '', codecs: v.codecs, measured: v.measured }));
      audio = audioDash ? { uri: '', codecs: audioDash.codecs, measured: audioDash.measured } : null;
    }
  }

  const written = new Map(outputs.map((o) => [o.name, new TextEncoder().encode(o.text).byteLength]));
  const made: MadeOutput[] = [...outputs];
  if (request.options.archive) made.push({ name: `${plan.folder}.zip`, contentType: 'application/zip', stream: () => archive(record, outputs) });
  const warnings: string[] = [];
  const quality = request.quality ? plan.rungs.map((rung) => rungQuality(record, rung, warnings)) : null;
  const totalBytes = [...sizes].reduce((sum, [name, size]) => sum + (written.has(name) ? 0 : size), 0) + [...written.values()].reduce((a, b) => a + b, 0);
  return {
    outputs: made,
    measured: {
      ...(request.options.archive ? { archive: `${plan.folder}.zip` } : {}),
      format: request.format,
      segment_format: request.segment_format,
      segment_duration_s: request.segment_duration_s,
      manifests,
      rungs: plan.rungs.map((rung, i) => ({
        name: rung.name,
        codec: rung.codec,
        width: rung.width,
        height: rung.height,
        fps: rung.fps,
        codecs: video[i]!.codecs,
        bitrate: { target: rung.bitrate, peak: video[i]!.measured.peak, average: video[i]!.measured.average },
        segments: video[i]!.measured.segments,
        bytes: video[i]!.measured.bytes,
        ...(quality ? { quality: quality[i] } : {}),
      })),
      audio: audio && plan.audio ? { codec: plan.audio.codec, codecs: audio.codecs, channels: plan.audio.channels, bitrate: { target: plan.audio.bitrate, peak: audio.measured.peak, average: audio.measured.average }, segments: audio.measured.segments } : null,
      thumbnails: plan.thumbnails ? { sprite: plan.thumbnails.sprite, vtt: plan.thumbnails.vtt, ...(request.format !== 'dash' ? { playlist: plan.thumbnails.playlist } : {}) } : null,
      total_bytes: totalBytes,
      warnings,
    },
  };
}

/**
 * The whole package as one ZIP, streamed as it is stored: every file under the package's folder, the playlists
 * written after the run in place of ffmpeg's, under their paths in the job.
 */
function archive(record: AttemptRecord<StreamRequest, StreamPlan>, texts: readonly (MadeOutput & { text: string })[]): ReadableStream<Uint8Array> {
  const folder = `${record.plan.folder}/`;
  const replaced = new Set(texts.map((t) => t.name));
  async function* entries() {
    for (const output of record.outputs) {
      if (!output.name.startsWith(folder) || replaced.has(output.name)) continue;
      yield { name: output.name, input: await record.open(output.name), size: output.size };
    }
    for (const text of texts) yield { name: text.name, input: new TextEncoder().encode(text.text) };
  }
  return makeZip(entries());
}

interface MediaPlaylist {
  init: string | null;
  segments: { uri: string; duration: number }[];
}

/** The segments of a media playlist ffmpeg wrote: each #EXTINF duration with the URI that follows it. */
async function playlistOf(record: AttemptRecord<StreamRequest, StreamPlan>, name: string): Promise<MediaPlaylist> {
  const text = decode(await record.read(name));
  const segments: MediaPlaylist['segments'] = [];
  let init: string | null = null;
  let duration: number | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const map = /^#EXT-X-MAP:.*URI="([^"]+)"/.exec(line);
    if (map) init = map[1]!;
    const extinf = /^#EXTINF:([\d.]+)/.exec(line);
    if (extinf) duration = Number(extinf[1]);
    else if (line && !line.startsWith('#') && duration !== null) {
      segments.push({ uri: line, duration });
      duration = null;
    }
  }
  return { init, segments };
}

function measure(segments: MediaPlaylist['segments'], sizeOf: (uri: string) => number | undefined): Measured {
  let peak = 0;
  let bytes = 0;
  let seconds = 0;
  for (const segment of segments) {
    const size = sizeOf(segment.uri) ?? 0;
    bytes += size;
    seconds += segment.duration;
    if (segment.duration > 0) peak = Math.max(peak, (size * 8) / segment.duration);
  }
  return { peak: Math.ceil(peak), average: seconds > 0 ? Math.ceil((bytes * 8) / seconds) : 0, segments: segments.length, bytes };
}

/** A DASH representation's segments (`<prefix>00001.m4s`...): all of `segment` seconds but the last, which ends the media. */
function measureDash(outputs: readonly JobOutput[], prefix: string, segmentS: number, totalS: number): Measured {
  const segments = outputs.filter((o) => o.name.startsWith(prefix)).sort((a, b) => (a.name < b.name ? -1 : 1));
  const list = segments.map((o, k) => ({ uri: o.name, duration: k < segments.length - 1 ? segmentS : Math.max(0.001, totalS - segmentS * (segments.length - 1)) }));
  const sizes = new Map(segments.map((o) => [o.name, o.size]));
  return measure(list, (uri) => sizes.get(uri));
}

function mediaDuration(mpd: string): number | null {
  const match = /mediaPresentationDuration="PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?"/.exec(mpd);
  if (!match) return null;
  return Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
}

function fallbackCodecs(rung: PlannedRung): string {
  return rung.codec === 'h264' ? h264Codecs(rung.profile ?? 'high', rung.level ?? '4.0') : rung.codec;
}

function audioCodecs(plan: StreamPlan): string {
  return plan.audio?.codec === 'opus' ? 'opus' : 'mp4a.40.2';
}

/**
 * The master playlist (RFC 8216): one EXT-X-STREAM-INF per rung with the bandwidth a player may count on (the
 * largest segment rate of the rung plus the audio's, and their averages), its frame, rate and codecs; the audio as
 * one rendition group every rung plays with; the thumbnail track as an image stream.
 */
function masterPlaylist(plan: StreamPlan, video: Rendition[], audio: Rendition | null, fmp4: boolean): string {
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${fmp4 ? 7 : 6}`, '#EXT-X-INDEPENDENT-SEGMENTS'];
  if (audio && plan.audio) {
    lines.push(`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="${plan.audio.channels}",URI="${audio.uri}"`);
  }
  plan.rungs.forEach((rung, i) => {
    const v = video[i]!;
    const attributes = [
      `BANDWIDTH=${v.measured.peak + (audio?.measured.peak ?? 0)}`,
      `AVERAGE-BANDWIDTH=${v.measured.average + (audio?.measured.average ?? 0)}`,
      `RESOLUTION=${rung.width}x${rung.height}`,
      ...(rung.fps ? [`FRAME-RATE=${rung.fps.toFixed(3)}`] : []),
      `CODECS="${[v.codecs, ...(audio ? [audio.codecs] : [])].join(',')}"`,
      ...(audio ? ['AUDIO="audio"'] : []),
    ];
    lines.push(`#EXT-X-STREAM-INF:${attributes.join(',')}`, v.uri);
  });
  const thumbs = plan.thumbnails;
  if (thumbs) {
    const uri = thumbs.playlist.slice(plan.folder.length + 1);
    lines.push(`#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=${Math.ceil((thumbs.width * thumbs.height * 8) / Math.max(1, thumbs.intervalS))},RESOLUTION=${thumbs.width}x${thumbs.height},CODECS="jpeg",URI="${uri}"`);
  }
  return `${lines.join('\n')}\n`;
}

/** The MPD ffmpeg wrote, with each Representation's bandwidth measured, and the thumbnail tiles as an image set. */
function rewriteMpd(mpd: string, representations: { id: number; measured: Measured }[], plan: StreamPlan): string {
  let out = mpd;
  for (const { id, measured } of representations) {
    out = out.replace(new RegExp(`(<Representation id="${id}"[^>]*?bandwidth=")\\d+(")`), `$1${measured.peak}$2`);
  }
  const thumbs = plan.thumbnails;
  if (thumbs) {
    // DASH-IF thumbnail tiles: one image per period, cut in a grid of tiles shown `duration` seconds each.
    const sprite = thumbs.sprite.slice(plan.folder.length + 1);
    const set = [
      `\t\t<AdaptationSet id="${representations.length}" contentType="image" mimeType="image/jpeg">`,
      `\t\t\t<SegmentTemplate media="${sprite}" duration="${Math.ceil((plan.expectedDurationS ?? thumbs.count * thumbs.intervalS) * 1000)}" timescale="1000" startNumber="1"/>`,
      `\t\t\t<Representation id="thumbnails" bandwidth="${Math.ceil((thumbs.width * thumbs.height * 8) / Math.max(1, thumbs.intervalS))}" width="${thumbs.width * thumbs.columns}" height="${thumbs.height * thumbs.rows}">`,
      `\t\t\t\t<EssentialProperty schemeIdUri="http://dashif.org/thumbnail_tile" value="${thumbs.columns}x${thumbs.rows}"/>`,
      '\t\t\t</Representation>',
      '\t\t</AdaptationSet>',
    ].join('\n');
    out = out.replace('\t</Period>', `${set}\n\t</Period>`);
  }
  return out;
}
