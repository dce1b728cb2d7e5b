/**
 * watermark: an image input (its own storage URI, fetched as another input file) overlaid at a grid position with
 * a margin, an opacity, and a width relative to the frame. A still image is one frame; overlay repeats it to the
 * end. Its size is computed here from the two probes.
 */
import { filter } from '../graph.js';
import { frameFits, frameLimitText } from '../limits.js';
import { placement } from './shared.js';
import { evenRound, firstStream, positiveInt, type OperationModule } from './context.js';

export const watermark: OperationModule<'watermark'> = {
  stage: 'edit',
  needs: 'video',
  apply(op, at, c) {
    const video = c.video!;
    const input = c.input(op.image);
    const index = c.inputs.indexOf(input);
    const stream = firstStream(input.probe, 'video');
    if (!stream) {
      c.problem({ code: 'NO_VIDEO_STREAM', pointer: at('image'), message: 'the watermark is not an image' });
      return;
    }
    const imageW = positiveInt(stream.width);
    const imageH = positiveInt(stream.height);
    if (imageW !== null && imageH !== null && !frameFits(imageW, imageH, c.limits)) {
      c.problem({ code: 'LIMIT_EXCEEDED', pointer: at('image'), message: `the watermark is larger than the frame limit (${frameLimitText(c.limits)})` });
      return;
    }

    const prepared = [];
    if (op.scale !== undefined) {
      const frameW = video.frame.width;
      if (frameW === null) {
        if (c.probed) c.problem({ code: 'UNSUPPORTED_INPUT', pointer: at('scale'), message: 'the frame size of the input is unknown, so the watermark cannot be scaled to it' });
        return;
      }
      const width = evenRound(frameW * op.scale);
      const height = imageW !== null && imageH !== null ? evenRound((width * imageH) / imageW) : -2;
      prepared.push(filter('scale', { w: width, h: height }));
    }
    // RGBA keeps the image's transparency through the opacity change and into overlay.
    prepared.push(filter('format', { pix_fmts: 'rgba' }));
    const opacity = op.opacity ?? 1;
    if (opacity < 1) prepared.push(filter('colorchannelmixer', { aa: opacity }));

    if (stream.codec) c.decoders.add(stream.codec);
    const label = c.graph.label('wm');
    c.graph.add({ inputs: [`${index}:${stream.index}`], filters: prepared, outputs: [label] });
    const { x, y } = placement(op.position ?? 'bottom-right', op.margin ?? 16, {
      frameW: 'main_w',
      frameH: 'main_h',
      boxW: 'overlay_w',
      boxH: 'overlay_h',
    });
    video.join([label], filter('overlay', { x, y }));
  },
};
