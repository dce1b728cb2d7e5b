/**
 * metadata: container tags from a fixed list of keys. Each tag is one argv item `key=value` after -metadata: ffmpeg
 * splits it at the first `=`, and the key is ours, so a value cannot become a key, an option or a file (audit #32).
 * `strip` drops the input's own tags (camera, location) first.
 */
import { normaliseText } from '../text.js';
import type { OperationModule } from './context.js';
import { METADATA_KEYS } from '../vocabulary.js';


export const metadata: OperationModule<'metadata'> = {
  stage: 'tags',
  needs: null,
  apply(op, _at, c) {
    if (op.strip) c.outputArgs.push('-map_metadata', '-1');
    const tags = op.tags ?? {};
    for (const key of METADATA_KEYS) {
      const value = tags[key];
      if (value !== undefined) c.outputArgs.push('-metadata', `${key}=${normaliseText(value)}`);
    }
  },
};
