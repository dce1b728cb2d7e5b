/** fps: a constant output frame rate (frames dropped or repeated), bounded by the key's fps limit. */
import { filter } from '../graph.js';
import type { OperationModule } from './context.js';

export const fps: OperationModule<'fps'> = {
  stage: 'edit',
  needs: 'video',
  apply(op, at, c) {
    if (op.fps > c.limits.maxFps) {
      c.problem({ code: 'LIMIT_EXCEEDED', pointer: at('fps'), message: `fps must be at most ${c.limits.maxFps}` });
      return;
    }
    c.video!.add(filter('fps', { fps: op.fps }));
    c.video!.frame = { ...c.video!.frame, fps: op.fps };
  },
};
