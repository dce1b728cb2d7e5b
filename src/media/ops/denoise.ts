/** denoise: hqdn3d at one of three fixed strengths (spatial and temporal, luma and chroma). */
import { filter } from '../graph.js';
import type { OperationModule } from './context.js';

const STRENGTHS = {
  light: { luma_spatial: 2, chroma_spatial: 1.5, luma_tmp: 3, chroma_tmp: 2.25 },
  medium: { luma_spatial: 4, chroma_spatial: 3, luma_tmp: 6, chroma_tmp: 4.5 },
  strong: { luma_spatial: 8, chroma_spatial: 6, luma_tmp: 12, chroma_tmp: 9 },
} as const;

export const denoise: OperationModule<'denoise'> = {
  stage: 'edit',
  needs: 'video',
  apply(op, _at, c) {
    c.video!.add(filter('hqdn3d', STRENGTHS[op.strength ?? 'medium']));
  },
};
