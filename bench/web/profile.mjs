// Where the page's time goes from a click on a demo photo to its heatmap, by wasm function:
// Chrome's sampling profiler over a number of clicks, self time summed by function name, beside
// each click's time and the analysis time the page shows. On the CPU backend (no WebGPU).
//
// node bench/web/profile.mjs [--clicks 8]
// dist/'s wasm has no function names (wasm-opt drops them); for names, profile a copy linked
// without it, with XAI_DIST:
//   cp -r dist /tmp/dist-named && wasm-bindgen --target web --no-typescript --out-name xai-app \
//     --out-dir /tmp/dist-named $CARGO_TARGET_DIR/wasm32-unknown-unknown/web/xai-app.wasm
//   XAI_DIST=/tmp/dist-named node bench/web/profile.mjs
import { launch, openPage, runDemo, serveDist } from '../../tests/e2e/harness.mjs';

const clicks = Number(process.argv[process.argv.indexOf('--clicks') + 1] || 8);
const { server, origin } = await serveDist();
const browser = await launch({ webgpu: false });
try {
  const page = await openPage(browser, `${origin}/`);
  await runDemo(page, 'chelsea');
  const profiler = await page.context().newCDPSession(page);
  await profiler.send('Profiler.enable');
  await profiler.send('Profiler.setSamplingInterval', { interval: 200 });
  await profiler.send('Profiler.start');
  for (let click = 0; click < clicks; click++) {
    const timed = await page.evaluate(async (name) => {
      const status = () => document.querySelector('[data-testid=status]');
      const job = () => Number(status().dataset.job);
      const before = job();
      const start = performance.now();
      document.querySelector(`[data-testid=demo-${name}]`).click();
      while (!(job() > before && status().textContent === 'done')) await new Promise(requestAnimationFrame);
      return { ms: performance.now() - start, shown: document.querySelector('.timings')?.textContent };
    }, click % 2 ? 'chelsea' : 'coffee');
    console.log(JSON.stringify(timed));
  }
  const { profile } = await profiler.send('Profiler.stop');
  const nodes = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const self = new Map();
  profile.samples.forEach((id, i) => {
    const frame = nodes.get(id);
    const name = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').pop()}`;
    self.set(name, (self.get(name) ?? 0) + profile.timeDeltas[i] / 1000);
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`${total.toFixed(0)} ms sampled over ${clicks} clicks; self time by function:`);
  for (const [name, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`${ms.toFixed(1).padStart(9)} ms ${(100 * ms / total).toFixed(1).padStart(5)}%  ${name}`);
  }
} finally {
  await browser.close();
  server.close();
}
