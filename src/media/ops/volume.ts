/** volume: a gain in dB. */
import { filter, formatNumber } from '../graph.js';
import type { OperationModule } from './context.js';

export const volume: OperationModule<'volume'> = {
  stage: 'edit',
  needs: 'audio',
  apply(op, _at, c) {
    c.audio!.add(filter('volume', { volume: `${formatNumber(op.db)}dB` }));
  },
};
