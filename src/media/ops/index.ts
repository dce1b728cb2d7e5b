/** Every operation and the module that validates it and makes its part of the ffmpeg run: ops/<type>.ts. */
import type { OperationType } from '../../schemas/operations.js';
import { blur } from './blur.js';
import { color } from './color.js';
import { concat } from './concat.js';
import type { OperationModule } from './context.js';
import { crop } from './crop.js';
import { deinterlace } from './deinterlace.js';
import { denoise } from './denoise.js';
import { extractAudio } from './extract-audio.js';
import { flip } from './flip.js';
import { fps } from './fps.js';
import { hue } from './hue.js';
import { loudnorm } from './loudnorm.js';
import { metadata } from './metadata.js';
import { removeAudio } from './remove-audio.js';
import { resize } from './resize.js';
import { rotate } from './rotate.js';
import { sharpen } from './sharpen.js';
import { speed } from './speed.js';
import { sprite } from './sprite.js';
import { stabilize } from './stabilize.js';
import { text } from './text.js';
import { thumbnails } from './thumbnails.js';
import { trim } from './trim.js';
import { volume } from './volume.js';
import { watermark } from './watermark.js';

export const OPERATIONS: { readonly [T in OperationType]: OperationModule<T> } = {
  trim,
  resize,
  crop,
  rotate,
  flip,
  fps,
  speed,
  watermark,
  text,
  denoise,
  deinterlace,
  sharpen,
  blur,
  color,
  hue,
  stabilize,
  loudnorm,
  volume,
  remove_audio: removeAudio,
  extract_audio: extractAudio,
  concat,
  thumbnails,
  sprite,
  metadata,
};

/** Operations that may appear more than once (each adds its own overlay). */
export const REPEATABLE: ReadonlySet<OperationType> = new Set<OperationType>(['text', 'watermark']);
