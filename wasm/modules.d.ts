/** The @ffmpeg/core package ships no types: its module factory, and its .wasm as a module import (workerd, wrangler). */
declare module '@ffmpeg/core' {
  const createFFmpegCore: import('./session.mjs').CreateFFmpegCore;
  export default createFFmpegCore;
}

declare module '@ffmpeg/core/wasm' {
  const wasmModule: WebAssembly.Module;
  export default wasmModule;
}
