// DFF's NMF on WebGPU, as the page runs it for many photos on a GPU, and on the host: the
// benchmark's entry point (`bench_nmf`), once each for 8 photos, for webgpu.test.mjs to compare.
// Served as bench.mjs beside bench/web/index.html, whose element keeps the app unmounted.
import init, { bench_nmf } from './xai-app.js';

window.nmfResult = init({ module_or_path: './xai-app_bg.wasm' })
  .then(() => bench_nmf(Uint32Array.of(8), 0))
  .then((rows) => rows.map(({ photos, host, gpu }) => ({ photos, host, gpu })), (error) => ({ error: String(error) }));
