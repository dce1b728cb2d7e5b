/**
 * concat: the main input followed by further inputs, joined by the concat filter into one timeline that the other
 * operations then work on. Each part is first made alike: scaled and padded to the first input's frame, square
 * pixels, the first input's frame rate, 4:2:0; audio at 48 kHz stereo, and silence of the part's length for a part
 * without sound.
 */
import { filter, type Filter } from '../graph.js';
import { firstStream, knownDuration, positiveInt, round6, type OperationModule } from './context.js';

const RATE = 48000;

export const concat: OperationModule<'concat'> = {
  stage: 'source',
  needs: null,
  apply(op, at, c) {
    const parts = [c.inputs[0]!, ...op.inputs.map((uri) => c.input(uri))];
    const pointers = ['/input', ...op.inputs.map((_uri, j) => at(`inputs/${j}`))];
    const video = c.video;
    const audio = c.audio;

    let target: { width: number; height: number; fps: number | null } | null = null;
    if (video) {
      const { width, height, fps } = video.frame;
      if (width !== null && height !== null) target = { width, height, fps };
      else if (c.probed) {
        c.problem({ code: 'UNSUPPORTED_INPUT', pointer: '/input', message: 'the frame size of the input is unknown, so other inputs cannot be joined to it' });
        return;
      }
    }

    const links: string[] = [];
    let total: number | null = 0;
    let failed = false;
    parts.forEach((part, k) => {
      const duration = knownDuration(part.probe);
      total = total !== null && duration !== null ? total + duration : null;
      if (video) {
        const stream = firstStream(part.probe, 'video');
        if (!stream) {
          c.problem({ code: 'NO_VIDEO_STREAM', pointer: pointers[k]!, message: 'this input has no video to join' });
          failed = true;
          return;
        }
        if (stream.codec) c.decoders.add(stream.codec);
        const label = c.graph.label('cv');
        const source = k === 0 ? video.source : `${c.inputs.indexOf(part)}:${stream.index}`;
        c.graph.add({ inputs: [source], filters: target ? normaliseVideo(target) : [filter('null')], outputs: [label] });
        links.push(label);
      }
      if (audio) {
        const stream = firstStream(part.probe, 'audio');
        const label = c.graph.label('ca');
        if (stream) {
          if (stream.codec) c.decoders.add(stream.codec);
          const source = k === 0 ? audio.source : `${c.inputs.indexOf(part)}:${stream.index}`;
          c.graph.add({ inputs: [source], filters: normaliseAudio(), outputs: [label] });
        } else if (duration !== null) {
          c.graph.add({ inputs: [], filters: [filter('anullsrc', { r: RATE, cl: 'stereo' }), filter('atrim', { duration })], outputs: [label] });
        } else {
          c.problem({ code: 'NO_AUDIO_STREAM', pointer: pointers[k]!, message: 'this input has no audio and no known duration to fill with silence' });
          failed = true;
          return;
        }
        links.push(label);
      }
    });
    if (failed) return;

    const outputs: string[] = [];
    const joinedVideo = video ? c.graph.label('v') : null;
    const joinedAudio = audio ? c.graph.label('a') : null;
    if (joinedVideo) outputs.push(joinedVideo);
    if (joinedAudio) outputs.push(joinedAudio);
    c.graph.add({ inputs: links, filters: [filter('concat', { n: parts.length, v: video ? 1 : 0, a: audio ? 1 : 0 })], outputs });
    if (video && joinedVideo) {
      video.continueFrom(joinedVideo);
      if (target) video.frame = { ...video.frame, width: target.width, height: target.height };
    }
    if (audio && joinedAudio) {
      audio.continueFrom(joinedAudio);
      c.audioRate = RATE;
    }
    c.joined = true;
    c.duration = total === null ? null : round6(total);
  },
};

function normaliseVideo(target: { width: number; height: number; fps: number | null }): Filter[] {
  const { width, height, fps } = target;
  const filters = [
    filter('scale', { w: width, h: height, force_original_aspect_ratio: 'decrease' }),
    filter('pad', { w: width, h: height, x: '(ow-iw)/2', y: '(oh-ih)/2' }),
    filter('setsar', { sar: 1 }),
  ];
  if (positiveInt(fps === null ? null : Math.round(fps * 1000)) !== null) filters.push(filter('fps', { fps: fps! }));
  filters.push(filter('format', { pix_fmts: 'yuv420p' }));
  return filters;
}

function normaliseAudio(): Filter[] {
  return [filter('aresample', { osr: RATE }), filter('aformat', { sample_fmts: 'fltp', channel_layouts: 'stereo' })];
}
