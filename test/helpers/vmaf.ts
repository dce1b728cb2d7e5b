/**
 * The ffmpeg with libvmaf the tests use, as the container image does: the static build of @ffmpeg-installer/linux-x64
 * (a devDependency; libvmaf 1.3.7) and the models in container/vmaf.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

export const VMAF_FFMPEG = join(dirname(require.resolve('@ffmpeg-installer/linux-x64/package.json')), 'ffmpeg');
export const VMAF_MODEL_DIR = fileURLToPath(new URL('../../container/vmaf', import.meta.url));

/** The environment that gives a server or a worker the VMAF engine. */
export const VMAF_ENV: Record<string, string> = { FFEDGE_VMAF_FFMPEG_PATH: VMAF_FFMPEG, FFEDGE_VMAF_MODEL_DIR: VMAF_MODEL_DIR };
