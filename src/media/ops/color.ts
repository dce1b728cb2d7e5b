/** color: brightness, contrast, saturation and gamma with eq (only the values given are set). */
import { filter } from '../graph.js';
import type { OperationModule } from './context.js';

export const color: OperationModule<'color'> = {
  stage: 'edit',
  needs: 'video',
  apply(op, _at, c) {
    c.video!.add(filter('eq', { brightness: op.brightness, contrast: op.contrast, saturation: op.saturation, gamma: op.gamma }));
  },
};
