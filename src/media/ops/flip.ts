/** flip: mirror the frame horizontally, vertically or both. */
import { filter } from '../graph.js';
import type { OperationModule } from './context.js';

export const flip: OperationModule<'flip'> = {
  stage: 'edit',
  needs: 'video',
  apply(op, _at, c) {
    if (op.direction !== 'vertical') c.video!.add(filter('hflip'));
    if (op.direction !== 'horizontal') c.video!.add(filter('vflip'));
  },
};
