/** hue: rotate the hue by degrees and/or scale the saturation. */
import { filter } from '../graph.js';
import type { OperationModule } from './context.js';

export const hue: OperationModule<'hue'> = {
  stage: 'edit',
  needs: 'video',
  apply(op, _at, c) {
    c.video!.add(filter('hue', { h: op.degrees, s: op.saturation }));
  },
};
