/** sharpen: an unsharp mask on luma with a 5x5 matrix. */
import { filter } from '../graph.js';
import type { OperationModule } from './context.js';

export const sharpen: OperationModule<'sharpen'> = {
  stage: 'edit',
  needs: 'video',
  apply(op, _at, c) {
    c.video!.add(filter('unsharp', { luma_msize_x: 5, luma_msize_y: 5, luma_amount: op.amount ?? 1 }));
  },
};
