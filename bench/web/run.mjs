// The browser benchmark: opens bench/web/index.html (as /bench.html) in Debian's headless Chromium (WebGPU on,
// as the e2e tests) once per backend and prints one JSON line per comparison, with the logits
// of both checked against each other. Run by `cargo xtask bench`, after `cargo xtask build` and
// bench/onnx_resnet.py have written dist/ and target/resnet50.onnx.
//
// node bench/web/run.mjs [--runs 10]
import { fileURLToPath } from 'node:url';
import { launch, openPage, serveDist } from '../../tests/e2e/harness.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 10);
const CASES = [['webgpu', 'webgpu_forward_vs_ort_webgpu'], ['cpu', 'cpu_wasm_forward_vs_ort_wasm']];

const median = (times) => [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];
const argmax = (values) => values.indexOf(Math.max(...values));

const { server, origin } = await serveDist({
  // At the root beside dist/'s files, which the app's wasm fetches by relative URL.
  'bench.html': here('./index.html'),
  'bench.mjs': here('./bench.mjs'),
  'ort/': here('./node_modules/onnxruntime-web/dist/'),
  'resnet50.onnx': here('../../target/resnet50.onnx'),
});
const browser = await launch({ webgpu: true });
try {
  for (const [backend, name] of CASES) {
    const page = await openPage(browser, `${origin}/bench.html?backend=${backend}&runs=${runs}`);
    const result = await page.evaluate(() => window.benchResult);
    await page.close();
    if (result.error) throw new Error(`${name}: ${result.error}`);
    const { ours, peer } = result;
    const difference = Math.max(...ours.logits.map((logit, i) => Math.abs(logit - peer.logits[i])));
    console.log(JSON.stringify({
      name, ours_ms: median(ours.times), peer: peer.name, peer_ms: median(peer.times),
      ratio: median(ours.times) / median(peer.times),
      ours_min_ms: Math.min(...ours.times), ours_max_ms: Math.max(...ours.times),
      peer_min_ms: Math.min(...peer.times), peer_max_ms: Math.max(...peer.times),
      top1: [argmax(ours.logits), argmax(peer.logits)], max_logit_difference: difference,
    }));
  }
} finally {
  await browser.close();
  server.close();
}
