// The app on WebGPU (SwiftShader in headless Chromium: slow, so one purposeful path).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { serveDist, launch, openPage, runDemo, heatByHalf, text } from './harness.mjs';

let server, origin, browser;
before(async () => ({ server, origin } = await serveDist()));
after(async () => { await browser?.close(); server?.close(); });

test('a demo photo is classified and explained on WebGPU, with no request off the origin', { timeout: 1_200_000 }, async () => {
  browser = await launch({ webgpu: true });
  let start = Date.now();
  const page = await openPage(browser, origin);
  await page.waitForFunction(() => document.querySelector('[data-testid=backend]')?.textContent, null, { timeout: 300_000 });
  assert.equal(await text(page, 'backend'), 'WebGPU');
  await runDemo(page, 'chelsea');
  console.log(`WebGPU, cold cache: page open to first heatmap ${Date.now() - start} ms`);
  assert.equal(await page.isHidden('[data-testid=error]'), true, await text(page, 'error'));
  assert.equal(await text(page, 'prediction'), 'Egyptian cat');
  const heat = await heatByHalf(page);
  // As pytorch-grad-cam's map: mostly in the bottom half (cheeks and whiskers).
  assert.ok(heat.bottom > heat.top, JSON.stringify(heat));

  start = Date.now();
  await page.reload();
  await runDemo(page, 'chelsea');
  console.log(`WebGPU, warm cache: page open to first heatmap ${Date.now() - start} ms`);
  assert.equal(await text(page, 'prediction'), 'Egyptian cat');
  const foreign = page.requests.filter((url) => !url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:'));
  assert.deepEqual(foreign, []);
});
