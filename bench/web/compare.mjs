// The page's compare view, timed on one backend in Debian's headless Chromium: one Grad-CAM
// analysis of a demo photo, then the seven one-pass methods' maps (their ratio to that analysis)
// and the whole view with every score, and the longest time the page's thread was held meanwhile.
// Prints one JSON line. Not part of `cargo xtask bench`:
// on WebGPU under SwiftShader (no GPU) the scores take tens of minutes.
//
// node bench/web/compare.mjs [--backend cpu|webgpu] [--photo coffee] [--maps-only]
// (XAI_DIST=dir times another build, as in the e2e tests.)
import { jobNumber, launch, openPage, runDemo, serveDist, settled, text } from '../../tests/e2e/harness.mjs';

const option = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback);
const backend = option('--backend', 'cpu');
const photo = option('--photo', 'coffee');
// Only the maps against one analysis: the comparison is cancelled once they are shown.
const mapsOnly = process.argv.includes('--maps-only');

const { server, origin } = await serveDist();
const browser = await launch({ webgpu: backend === 'webgpu' });
try {
  const page = await openPage(browser, origin);
  await page.waitForFunction(() => document.querySelector('[data-testid=backend]')?.textContent, null, { timeout: 600_000 });
  const shown = await text(page, 'backend');
  if (shown.toLowerCase() !== backend) throw new Error(`the page runs on ${shown}, not ${backend}`);
  await runDemo(page, photo, 3_600_000);
  // The analysis's own timing line ("Classified and explained in N ms").
  const single = Number((await page.textContent('.result .timings')).match(/([\d.]+) ms/)[1]);
  // How long the page's thread is held at a time while it compares (the browser's long tasks).
  await page.evaluate(() => {
    window.longTasks = [];
    new PerformanceObserver((list) => window.longTasks.push(...list.getEntries().map((e) => e.duration)))
      .observe({ type: 'longtask' });
  });
  const before = await jobNumber(page);
  const start = Date.now();
  await page.click('[data-testid=compare]');
  await page.waitForSelector('[data-testid=compare-maps-ms]', { timeout: 3_600_000 });
  const maps = Number((await text(page, 'compare-maps-ms')).match(/in ([\d.]+) ms/)[1]);
  if (mapsOnly) {
    await page.click('[data-testid=compare-cancel]');
    console.log(JSON.stringify({ backend, photo, single_analysis_ms: single, compare_maps_ms: maps, maps_vs_single: +(maps / single).toFixed(2) }));
    process.exit(0);
  }
  await settled(page, { after: before, timeout: 7_200_000 });
  const whole = Date.now() - start;
  const longTasks = await page.evaluate(() => window.longTasks);
  const methods = await page.$$eval('[data-testid^=time-]', (cells) =>
    Object.fromEntries(cells.map((c) => [c.dataset.testid.slice('time-'.length), c.textContent])));
  console.log(JSON.stringify({ backend, photo, single_analysis_ms: single, compare_maps_ms: maps,
    maps_vs_single: +(maps / single).toFixed(2), whole_view_ms: whole, score_time_by_method: methods,
    longest_task_ms: Math.max(0, ...longTasks), tasks_over_1s: longTasks.filter((t) => t > 1000).length }));
} finally {
  await browser.close();
  server.close();
}
