/** rotate: 90/180/270 degrees clockwise with transpose / hflip+vflip; 90 and 270 swap the frame's sides. */
import { filter } from '../graph.js';
import type { OperationModule } from './context.js';

export const rotate: OperationModule<'rotate'> = {
  stage: 'edit',
  needs: 'video',
  apply(op, _at, c) {
    const video = c.video!;
    if (op.degrees === 180) {
      video.add(filter('hflip'), filter('vflip'));
      return;
    }
    video.add(filter('transpose', { dir: op.degrees === 90 ? 'clock' : 'cclock' }));
    video.frame = { ...video.frame, width: video.frame.height, height: video.frame.width };
  },
};
