// What a click on a demo photo asks of WebGPU in the page: its dispatches, passes, submits,
// readbacks, and anything it creates, counted by wrapping the API's methods before the page loads.
// Counted on the third click (two warm-ups first, on two photos: pipelines and buffers exist by
// then). Launches are what a real GPU pays for per kernel, which SwiftShader's timings hide.
//
// node bench/web/gpu_calls.mjs   (XAI_DIST=DIR counts another build; prints one JSON line)
import { launch, openPage, runDemo, serveDist } from '../../tests/e2e/harness.mjs';

function countCalls() {
  const calls = {};
  window.__gpuCalls = calls;
  const methods = {
    GPUCommandEncoder: ['beginComputePass'],
    GPUComputePassEncoder: ['dispatchWorkgroups'],
    GPUQueue: ['submit', 'writeBuffer'],
    GPUDevice: ['createBuffer', 'createBindGroup', 'createShaderModule', 'createComputePipeline'],
    GPUBuffer: ['mapAsync'],
  };
  for (const [type, names] of Object.entries(methods)) {
    const prototype = globalThis[type]?.prototype;
    for (const name of names) {
      const original = prototype?.[name];
      if (!original) continue;
      prototype[name] = function (...args) {
        calls[name] = (calls[name] ?? 0) + 1;
        return original.apply(this, args);
      };
    }
  }
}

const { server, origin } = await serveDist();
const browser = await launch({ webgpu: true });
try {
  const page = await openPage(browser, `${origin}/index.html`, { beforeLoad: countCalls });
  for (const photo of ['chelsea', 'coffee']) await runDemo(page, photo);
  await page.evaluate(() => { for (const name in window.__gpuCalls) delete window.__gpuCalls[name]; });
  await runDemo(page, 'chelsea');
  const backend = await page.textContent('[data-testid=backend]');
  console.log(JSON.stringify({ backend, click: await page.evaluate(() => window.__gpuCalls) }));
} finally {
  await browser.close();
  server.close();
}
