/** remove_audio: the output has no audio stream (the same as output.audio: false). */
import type { OperationModule } from './context.js';

export const removeAudio: OperationModule<'remove_audio'> = {
  stage: 'select',
  needs: null,
  apply(_op, _at, c) {
    c.keep.audio = false;
  },
};
