/** blur: a Gaussian blur of the given sigma (pixels). */
import { filter } from '../graph.js';
import type { OperationModule } from './context.js';

export const blur: OperationModule<'blur'> = {
  stage: 'edit',
  needs: 'video',
  apply(op, _at, c) {
    c.video!.add(filter('gblur', { sigma: op.sigma ?? 2 }));
  },
};
