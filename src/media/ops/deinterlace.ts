/** deinterlace: bwdif, one frame per frame, or one per field (which doubles the frame rate). */
import { filter } from '../graph.js';
import type { OperationModule } from './context.js';

export const deinterlace: OperationModule<'deinterlace'> = {
  stage: 'edit',
  needs: 'video',
  apply(op, at, c) {
    const video = c.video!;
    const perField = op.mode === 'field';
    if (perField && video.frame.fps !== null && video.frame.fps * 2 > c.limits.maxFps) {
      c.problem({ code: 'LIMIT_EXCEEDED', pointer: at('mode'), message: `one frame per field would exceed the fps limit of ${c.limits.maxFps}` });
      return;
    }
    video.add(filter('bwdif', { mode: perField ? 'send_field' : 'send_frame' }));
    if (perField && video.frame.fps !== null) video.frame = { ...video.frame, fps: video.frame.fps * 2 };
  },
};
