/**
 * stabilize: vid.stab in two runs. The measuring run ends the video at vidstabdetect, which writes the camera
 * motion to a file of the job's temp dir; the final run's vidstabtransform reads it back and smooths it. The file
 * name is fixed here, so only one stabilize per job.
 */
import { filter } from '../graph.js';
import type { OperationModule } from './context.js';

export const STABILIZE_FILE = 'transforms.trf';

const STRENGTHS = {
  light: { shakiness: 4, smoothing: 6 },
  medium: { shakiness: 6, smoothing: 12 },
  strong: { shakiness: 9, smoothing: 30 },
} as const;

export const stabilize: OperationModule<'stabilize'> = {
  stage: 'edit',
  needs: 'video',
  apply(op, _at, c) {
    const video = c.video!;
    const strength = STRENGTHS[op.strength ?? 'medium'];
    c.measuring.video = true;
    c.measuring.durationS = Math.max(c.measuring.durationS ?? 0, c.duration ?? 0) || null;
    if (c.mode === 'measure') {
      video.add(filter('vidstabdetect', { shakiness: strength.shakiness, accuracy: 15, result: STABILIZE_FILE }));
      video.closed = true;
      return;
    }
    video.add(
      filter('vidstabtransform', { input: STABILIZE_FILE, smoothing: strength.smoothing, zoom: 0, optzoom: 1 }),
      // The transform softens the picture a little; vid.stab's own recommendation restores it.
      filter('unsharp', { luma_msize_x: 5, luma_msize_y: 5, luma_amount: 0.8, chroma_msize_x: 3, chroma_msize_y: 3, chroma_amount: 0.4 }),
    );
  },
};
