// In the page: our forward pass (the app's wasm, `bench_forward`) and onnxruntime-web's on the
// same network (bench/onnx_resnet.py) and the same preprocessed photo, one after the other.
// `?backend=webgpu` compares WebGPU with ORT's WebGPU provider, `?backend=cpu` our wasm CPU
// fallback with ORT's wasm provider. `?nmf=1,8,50` times DFF's NMF instead, on the host and on
// WebGPU, for that many copies of the photo. Leaves the result in `window.benchResult`.
import init, { bench_forward, bench_nmf } from './xai-app.js';
import * as ort from './ort/ort.webgpu.min.mjs';

const params = new URLSearchParams(location.search);
const backend = params.get('backend');
const warmup = Number(params.get('warmup') ?? 3);
const runs = Number(params.get('runs') ?? 10);

async function ortForward(provider, input) {
  ort.env.wasm.wasmPaths = new URL('./ort/', location.href).href;
  const session = await ort.InferenceSession.create('./resnet50.onnx', { executionProviders: [provider] });
  const feeds = { input: new ort.Tensor('float32', input, [1, 3, 224, 224]) };
  const times = [];
  let logits;
  for (let run = 0; run < warmup + runs; run++) {
    const start = performance.now();
    const outputs = await session.run(feeds);
    logits = await outputs.logits.getData(); // on the host, as ours
    if (run >= warmup) times.push(performance.now() - start);
  }
  await session.release();
  return { times, logits: Array.from(logits) };
}

async function run() {
  await init({ module_or_path: './xai-app_bg.wasm' });
  if (params.has('nmf')) {
    const rows = await bench_nmf(Uint32Array.from(params.get('nmf').split(',').map(Number)), runs);
    return { nmf: rows.map((row) => ({ ...row, host_ms: Array.from(row.host_ms), gpu_ms: Array.from(row.gpu_ms) })) };
  }
  const ours = await bench_forward(backend, warmup, runs);
  const peer = await ortForward(backend === 'webgpu' ? 'webgpu' : 'wasm', ours.input);
  return {
    ours: { times: Array.from(ours.times_ms), logits: Array.from(ours.logits) },
    peer: { ...peer, name: `onnxruntime-web ${ort.env.versions.web} (${backend === 'webgpu' ? 'webgpu' : `wasm, ${ort.env.wasm.numThreads} threads`})` },
  };
}

window.benchResult = run().then(
  (result) => { document.getElementById('bench').textContent = 'done'; return result; },
  (error) => ({ error: String(error?.stack ?? error) }),
);
