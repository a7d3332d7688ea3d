// The app on WebGPU (SwiftShader in headless Chromium: slow, so one purposeful path).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { serveDist, launch, openPage, runDemo, heatByHalf, text } from './harness.mjs';

let server, origin, browser;
const here = (path) => fileURLToPath(new URL(path, import.meta.url));
before(async () => ({ server, origin } = await serveDist({
  'bench.html': here('../../bench/web/index.html'),
  'bench.mjs': here('./nmf-page.mjs'),
})));
after(async () => { await browser?.close(); server?.close(); });

test('a demo photo is classified and explained on WebGPU, with no request off the origin', { timeout: 1_200_000 }, async () => {
  browser ??= await launch({ webgpu: true });
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

test('on a fallback adapter (a GPU emulated on the CPU) the page takes its faster CPU backend, and says why', { timeout: 600_000 }, async () => {
  browser ??= await launch({ webgpu: true });
  const page = await openPage(browser, origin, { fallbackAdapter: true });
  await runDemo(page, 'chelsea');
  assert.equal(await text(page, 'backend'), 'CPU');
  assert.equal(await text(page, 'prediction'), 'Egyptian cat');
  const notice = await page.textContent('.notice');
  assert.ok(notice.includes('runs on the CPU') && notice.includes('fallback'), notice);
  await page.close();
});

// Keeps every GPUDevice the page asks for, so the test can destroy them: the way WebGPU itself
// loses a device (reason "destroyed"), as when a driver resets or a tab is backgrounded too long.
function keepGpuDevices() {
  window.gpuDevices = [];
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function (...args) {
    const device = await requestDevice.apply(this, args);
    window.gpuDevices.push(device);
    return device;
  };
}

test('a WebGPU device lost mid-session moves the page to the CPU, which goes on explaining', { timeout: 1_200_000 }, async () => {
  browser ??= await launch({ webgpu: true });
  const page = await openPage(browser, origin, { beforeLoad: keepGpuDevices });
  await runDemo(page, 'chelsea');
  assert.equal(await text(page, 'backend'), 'WebGPU');
  assert.equal(await text(page, 'prediction'), 'Egyptian cat');

  const reason = await page.evaluate(async () => {
    window.gpuDevices.forEach((device) => device.destroy());
    return (await window.gpuDevices[0].lost).reason;
  });
  assert.equal(reason, 'destroyed');
  await page.click('[data-testid=demo-coffee]');
  await page.waitForFunction(() => {
    const read = (id) => document.querySelector(`[data-testid=${id}]`)?.textContent;
    return read('backend') === 'CPU' && read('status') === 'done' && read('prediction') === 'espresso';
  }, null, { timeout: 600_000, polling: 200 });
  assert.ok((await page.textContent('.notice')).includes('WebGPU stopped working'), await page.textContent('.notice'));
  assert.equal(await page.isHidden('[data-testid=error]'), true, await text(page, 'error'));
  const heat = await heatByHalf(page);
  assert.ok(Number.isFinite(heat.top) && heat.top !== heat.bottom, JSON.stringify(heat));
});

test('DFF\'s NMF on WebGPU, where many photos send it on a GPU, gives the host\'s factors', { timeout: 600_000 }, async () => {
  browser ??= await launch({ webgpu: true });
  const page = await openPage(browser, `${origin}/bench.html`);
  const result = await page.evaluate(() => window.nmfResult);
  await page.close();
  assert.ok(Array.isArray(result), JSON.stringify(result));
  const [{ photos, host, gpu }] = result;
  assert.equal(photos, 8);
  assert.equal(gpu.iterations, host.iterations, JSON.stringify(result));
  assert.ok(Math.abs(gpu.rel_error - host.rel_error) < 1e-5, JSON.stringify(result));
});
