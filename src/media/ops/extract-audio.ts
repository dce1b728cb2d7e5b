/** extract_audio: the output has only the audio (the same as output.video: false); copied when the codec fits. */
import { holdsAudio } from '../formats.js';
import type { OperationModule } from './context.js';

export const extractAudio: OperationModule<'extract_audio'> = {
  stage: 'select',
  needs: null,
  apply(_op, at, c) {
    if (!holdsAudio(c.format.name)) {
      c.problem({
        code: 'INVALID_CODEC_FORMAT',
        pointer: at(),
        message: `${c.format.name} holds no audio`,
        suggestion: 'use an audio format such as m4a, mp3, opus or flac',
      });
      return;
    }
    c.keep.video = false;
  },
};
