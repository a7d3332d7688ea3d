// The browser benchmark, in Debian's headless Chromium (WebGPU on as in the e2e tests; off for
// the CPU), once per backend. Prints one JSON line per comparison:
// - bench/web/index.html (served as /bench.html): our forward pass against onnxruntime-web's,
//   their logits checked against each other; on WebGPU also DFF's NMF on the GPU against the
//   host (wasm) in the same page, by number of photos (`bench_nmf`), the two checked to agree;
// - the app itself: the time from a click on a demo photo to its painted heatmap, and its folder
//   audit's time per photo (from the time the page shows) on a folder of the demo photos.
// Run by `cargo xtask bench`, after `cargo xtask build` and bench/onnx_resnet.py have written
// dist/ and target/resnet50.onnx.
//
// node bench/web/run.mjs [--runs 10] [--backend cpu|webgpu] [--nmf-photos 1,8,50]
// (XAI_DIST=DIR times another build)
import { fileURLToPath } from 'node:url';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST, launch, openPage, runDemo, serveDist } from '../../tests/e2e/harness.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 10);
const only = process.argv.includes('--backend') ? process.argv[process.argv.indexOf('--backend') + 1] : null;
const CASES = [['webgpu', 'webgpu_forward_vs_ort_webgpu'], ['cpu', 'cpu_wasm_forward_vs_ort_wasm']];
// Copies of the photo whose activations DFF's NMF factorises, as `xai bench --nmf-photos` does.
const NMF_PHOTOS = process.argv.includes('--nmf-photos') ? process.argv[process.argv.indexOf('--nmf-photos') + 1] : '1,8,50';

const median = (times) => [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];
const argmax = (values) => values.indexOf(Math.max(...values));

const { server, origin } = await serveDist({
  // At the root beside dist/'s files, which the app's wasm fetches by relative URL.
  'bench.html': here('./index.html'),
  'bench.mjs': here('./bench.mjs'),
  'ort/': here('./node_modules/onnxruntime-web/dist/'),
  'resnet50.onnx': here('../../target/resnet50.onnx'),
});
// The time from a click on a demo photo to its heatmap painted, in the app itself.
async function photoToHeatmap(page) {
  const times = [];
  for (let run = 0; run < runs; run++) {
    times.push(await page.evaluate(async (name) => {
      const status = () => document.querySelector('[data-testid=status]');
      const job = () => Number(status().dataset.job);
      const before = job();
      const start = performance.now();
      document.querySelector(`[data-testid=demo-${name}]`).click();
      while (!(job() > before && status().textContent === 'done')) {
        await new Promise(requestAnimationFrame);
      }
      return performance.now() - start;
    }, run % 2 ? 'chelsea' : 'coffee'));
  }
  return times;
}

// The audit's folder: the four demo photos twice, in folders named after their classes.
const folder = join(await mkdtemp(join(tmpdir(), 'xai-bench-audit-')), 'photos');
for (const [demo, class_] of [['chelsea', 'Egyptian_cat'], ['coffee', 'espresso'], ['rocket', 'space_shuttle'], ['astronaut', 'astronaut']]) {
  await mkdir(join(folder, class_), { recursive: true });
  for (const copy of [1, 2]) await copyFile(join(DIST, 'demo', `${demo}.png`), join(folder, class_, `${demo}-${copy}.png`));
}

// The milliseconds per photo of the page's folder audit, from the time it shows when done
// (classification alone, at the batch it picks for its backend; its rate has one decimal).
async function auditPerPhoto(page) {
  await page.setInputFiles('[data-testid=audit-folder]', folder);
  const progress = await page.waitForFunction(() => {
    const shown = document.querySelector('[data-testid=audit-progress]')?.textContent ?? '';
    return / classified in /.test(shown) && shown;
  }, null, { timeout: 900_000 });
  const [, photos, seconds] = (await progress.jsonValue()).match(/(\d+) photos of .* classified in ([\d.]+) s/);
  return [(1000 * Number(seconds)) / Number(photos)];
}

const row = (name, ours, peerName, peer) => ({
  name, ours_ms: median(ours), peer: peerName, peer_ms: median(peer), ratio: median(ours) / median(peer),
  ours_min_ms: Math.min(...ours), ours_max_ms: Math.max(...ours),
  peer_min_ms: Math.min(...peer), peer_max_ms: Math.max(...peer),
});

// DFF's NMF on WebGPU against the host in the same page: where the GPU starts to pay. The two
// must agree (the same stopping rule on the same errors), or the timing would compare unlike work.
async function nmfRows(browser) {
  // Three runs at most: on SwiftShader the GPU's take seconds each.
  const page = await openPage(browser, `${origin}/bench.html?nmf=${NMF_PHOTOS}&runs=${Math.min(runs, 3)}`);
  const result = await page.evaluate(() => window.benchResult);
  await page.close();
  if (result.error) throw new Error(`page_nmf: ${result.error}`);
  for (const { photos, host_ms, gpu_ms, host, gpu } of result.nmf) {
    if (Math.abs(host.iterations - gpu.iterations) > 10 || Math.abs(host.rel_error - gpu.rel_error) > 1e-4) {
      throw new Error(`page_nmf, ${photos} photos: the GPU's NMF ${JSON.stringify(gpu)} differs from the host's ${JSON.stringify(host)}`);
    }
    const peer = 'DFF\'s NMF on the host (wasm) in the same page';
    console.log(JSON.stringify({ ...row(`page_nmf_gpu_${photos}_vs_host`, gpu_ms, peer, host_ms), host, gpu }));
  }
}

// One browser per backend, closed before the next starts: a WebGPU (SwiftShader) browser left
// open took CPU from the wasm case that followed (423 ms a forward pass instead of 303).
try {
  for (const [backend, name] of CASES.filter(([backend]) => !only || backend === only)) {
    const browser = await launch({ webgpu: backend === 'webgpu' });
    try {
      const page = await openPage(browser, `${origin}/bench.html?backend=${backend}&runs=${runs}`);
      const result = await page.evaluate(() => window.benchResult);
      await page.close();
      if (result.error) throw new Error(`${name}: ${result.error}`);
      const { ours, peer } = result;
      const difference = Math.max(...ours.logits.map((logit, i) => Math.abs(logit - peer.logits[i])));
      console.log(JSON.stringify({
        ...row(name, ours.times, peer.name, peer.times),
        top1: [argmax(ours.logits), argmax(peer.logits)], max_logit_difference: difference,
      }));

      const app = await openPage(browser, origin);
      await runDemo(app, 'chelsea'); // loads the weights, warms the kernels up
      const shown = await app.textContent('[data-testid=backend]');
      if (shown.toLowerCase() !== backend) throw new Error(`the app ran on ${shown}, not ${backend}`);
      const clicks = await photoToHeatmap(app);
      const audit = await auditPerPhoto(app);
      await app.close();
      const forward = `one forward pass of ours in the page (${backend})`;
      console.log(JSON.stringify(row(`page_photo_to_heatmap_${backend}_vs_forward`, clicks, forward, ours.times)));
      console.log(JSON.stringify(row(`page_audit_per_photo_${backend}_vs_forward`, audit, forward, ours.times)));
      if (backend === 'webgpu') await nmfRows(browser);
    } finally {
      await browser.close();
    }
  }
} finally {
  server.close();
  await rm(join(folder, '..'), { recursive: true, force: true });
}
