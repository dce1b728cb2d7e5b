/**
 * The native engine's second ffmpeg, for VMAF: Debian's ffmpeg has no libvmaf, so runs whose filter graph uses it go
 * to a build that has (FFEDGE_VMAF_FFMPEG_PATH; the container image ships the static one of
 * @ffmpeg-installer/linux-x64, libvmaf 1.3.7), with the model files of FFEDGE_VMAF_MODEL_DIR linked into the run's
 * dir under the relative name the planner uses (src/media/quality.ts VMAF_MODEL_DIR). So no plan, job or log holds
 * a server path, and the models are read where they are.
 *
 * Which binary runs is decided by the filter names of the run's graphs, read as ffmpeg's graph parser reads them:
 * a drawtext text that says "libvmaf" is an option value, not a filter, and does not count.
 */
import { constants } from 'node:fs';
import { access, readlink, symlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LIBVMAF, VMAF_MODEL_DIR, VMAF_MODEL_FILES } from '../media/quality.js';

export interface VmafBinary {
  /** An ffmpeg built with libvmaf 1.x (the planner's options: model_path to a .pkl, log_fmt, n_subsample...). */
  ffmpegPath: string;
  /** The dir of the .pkl models and their .pkl.model files. */
  modelDir: string;
}

/** The VMAF binary an environment names: both variables, or none. */
export function vmafFromEnv(env: Record<string, string | undefined>): VmafBinary | null {
  const ffmpegPath = env.FFEDGE_VMAF_FFMPEG_PATH;
  const modelDir = env.FFEDGE_VMAF_MODEL_DIR;
  return ffmpegPath && modelDir ? { ffmpegPath, modelDir: resolve(modelDir) } : null;
}

/** The options of libvmaf 1.x the planner sets; a build without them (libvmaf 2.x) cannot run its graphs. */
const PLANNED_OPTIONS = ['model_path', 'log_fmt', 'enable_transform', 'phone_model', 'n_subsample'];

/** Whether `ffmpeg -h filter=libvmaf` describes the libvmaf the planner speaks. */
export function isPlannedLibvmaf(help: string): boolean {
  return PLANNED_OPTIONS.every((option) => new RegExp(`^\\s*${option}\\s`, 'm').test(help));
}

/** Whether every model file the planner may name is readable in `modelDir`. */
export async function modelsPresent(modelDir: string): Promise<boolean> {
  const files = Object.values(VMAF_MODEL_FILES).flatMap((file) => [file, `${file}.model`]);
  try {
    await Promise.all(files.map((file) => access(join(modelDir, file), constants.R_OK)));
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes the models available to a run in `cwd` as VMAF_MODEL_DIR: a link to the model dir. Listings of the run dir
 * skip links, so the models never come back as outputs.
 */
export async function linkModels(cwd: string, modelDir: string): Promise<void> {
  const link = join(cwd, VMAF_MODEL_DIR);
  try {
    await symlink(modelDir, link, 'dir');
  } catch (error) {
    // A second pass in the same dir finds its own link; anything else there is not ours to use.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || (await readlink(link).catch(() => null)) !== modelDir) throw error;
  }
}

/** Whether any filter graph of an ffmpeg argv uses libvmaf. */
export function usesLibvmaf(args: readonly string[]): boolean {
  return graphsOf(args).some((graph) => filterNames(graph).includes(LIBVMAF));
}

const GRAPH_FLAGS = /^-(?:filter_complex|lavfi|vf|af|filter(?::[va](?::\d+)?)?)$/;

function graphsOf(args: readonly string[]): string[] {
  const graphs: string[] = [];
  args.forEach((arg, k) => {
    if (GRAPH_FLAGS.test(arg) && k + 1 < args.length) graphs.push(args[k + 1]!);
  });
  return graphs;
}

/**
 * The filter names of a graph, as libavfilter's parser reads it: chains split on `;`, filters on `,`, each one
 * `[in]...name=args[out]...`, where args end at an unquoted, unescaped `[`, `]`, `,` or `;` (av_get_token: a
 * backslash escapes one character, single quotes hold anything up to the next one).
 */
export function filterNames(graph: string): string[] {
  const names: string[] = [];
  const n = graph.length;
  let i = 0;
  const space = () => {
    while (i < n && ' \t\n\r'.includes(graph[i]!)) i++;
  };
  const labels = () => {
    for (space(); graph[i] === '['; space()) {
      const end = graph.indexOf(']', i);
      i = end < 0 ? n : end + 1;
    }
  };
  while (i < n) {
    labels();
    const start = i;
    while (i < n && !'=,;[] \t\n\r'.includes(graph[i]!)) i++;
    if (i > start) names.push(graph.slice(start, i));
    if (graph[i] === '=') {
      i++;
      while (i < n && !'[],;'.includes(graph[i]!)) {
        if (graph[i] === '\\') i += 2;
        else if (graph[i] === "'") {
          const end = graph.indexOf("'", i + 1);
          i = end < 0 ? n : end + 1;
        } else i++;
      }
    }
    labels();
    // The separator, or one character the parser would refuse (so the scan always moves on).
    if (i < n && (graph[i] === ',' || graph[i] === ';' || i === start)) i++;
  }
  return names;
}
