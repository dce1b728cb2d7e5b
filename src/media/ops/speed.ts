/**
 * speed: play faster or slower, video and audio together. Video timestamps are divided by the factor (setpts);
 * audio is time-stretched without a pitch change (atempo, which takes 0.5..100 per instance, so slower than half
 * speed is two instances).
 */
import { filter, formatNumber } from '../graph.js';
import { round6, type OperationModule } from './context.js';

export const speed: OperationModule<'speed'> = {
  stage: 'edit',
  needs: null,
  apply(op, _at, c) {
    const factor = op.factor;
    c.video?.add(filter('setpts', { expr: `PTS/${formatNumber(factor)}` }));
    if (factor >= 0.5) c.audio?.add(filter('atempo', { tempo: factor }));
    else c.audio?.add(filter('atempo', { tempo: 0.5 }), filter('atempo', { tempo: factor / 0.5 }));
    if (c.duration !== null) c.duration = round6(c.duration / factor);
  },
};
