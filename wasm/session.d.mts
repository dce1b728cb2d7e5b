/** Types of session.mjs: an @ffmpeg/core instance and the jobs run on it. */

/** The parts of the Emscripten module of @ffmpeg/core 0.12 that ffedge uses. */
export interface FFmpegCore {
  exec(...args: string[]): number;
  ffprobe(...args: string[]): number;
  reset(): void;
  setTimeout(ms: number): void;
  setLogger(logger: (entry: { type: 'stdout' | 'stderr'; message: string }) => void): void;
  HEAPU8: Uint8Array;
  FS: {
    mkdir(path: string): void;
    chdir(path: string): void;
    readdir(path: string): string[];
    stat(path: string): { mode: number; size: number };
    isDir(mode: number): boolean;
    isFile(mode: number): boolean;
    analyzePath(path: string): { exists: boolean };
    writeFile(path: string, data: Uint8Array, options?: { canOwn?: boolean }): void;
    lookupPath(path: string): { node: { contents?: unknown; usedBytes?: number } | null };
    readFile(path: string): Uint8Array;
    unlink(path: string): void;
    rmdir(path: string): void;
  };
}

export type CreateFFmpegCore = (moduleOverrides: Record<string, unknown>) => Promise<FFmpegCore>;
export type Tool = 'ffmpeg' | 'ffprobe';

export const WORK_DIR: string;
export function withLogLevel(args: readonly string[]): string[];
export function instantiateCore(createFFmpegCore: CreateFFmpegCore, wasmModule: WebAssembly.Module): Promise<FFmpegCore>;
export function execute(
  core: FFmpegCore,
  tool: Tool,
  args: readonly string[],
  onStdout: (line: string) => void,
  onStderr: (line: string) => void,
  timeoutMs?: number,
): number;
export function makeDirs(core: FFmpegCore, dirs: Iterable<string>): void;
export function writeFiles(core: FFmpegCore, files: Iterable<readonly [string, Uint8Array]>): void;
export function listFiles(core: FFmpegCore): [string, number][];
export function readFile(core: FFmpegCore, path: string): Uint8Array;
export function clearWorkDir(core: FFmpegCore): void;
export function memoryBytes(core: FFmpegCore): number;
