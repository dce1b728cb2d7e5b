/**
 * speed: play faster or slower, video and audio together. Video timestamps are divided by the factor (setpts) and
 * the frames re-timed to the frame rate they had; audio is time-stretched without a pitch change (atempo, which
 * takes 0.5..100 per instance, so slower than half speed is two instances).
 */
import { filter, formatNumber } from '../graph.js';
import { round6, type OperationModule } from './context.js';

export const speed: OperationModule<'speed'> = {
  stage: 'edit',
  needs: null,
  apply(op, _at, c) {
    const factor = op.factor;
    const video = c.video;
    if (video) {
      video.add(filter('setpts', { expr: `PTS/${formatNumber(factor)}` }));
      // New timestamps leave the stream's declared rate as it was; fps re-times the frames to it (dropping or
      // repeating), or the encoder would write a wrong duration.
      if (video.frame.fps !== null) video.add(filter('fps', { fps: video.frame.fps }));
    }
    if (factor >= 0.5) c.audio?.add(filter('atempo', { tempo: factor }));
    else c.audio?.add(filter('atempo', { tempo: 0.5 }), filter('atempo', { tempo: factor / 0.5 }));
    if (c.duration !== null) c.duration = round6(c.duration / factor);
  },
};
