// Shared by the end-to-end tests: a static server for dist/ on loopback that records every
// request, and Debian's Chromium driven by playwright-core (never a downloaded browser).
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';

// XAI_DIST serves another build (a copy kept still while dist/ is rebuilt).
export const DIST = process.env.XAI_DIST ?? new URL('../../dist/', import.meta.url).pathname;
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm',
  '.css': 'text/css', '.png': 'image/png', '.json': 'application/json' };

/** Serves dist/; `mounts` maps a path prefix (as 'ort/') to another directory. */
export async function serveDist(mounts = {}) {
  const server = createServer(async (request, response) => {
    const requested = normalize(decodeURIComponent(new URL(request.url, 'http://x').pathname)).replace(/^\/+/, '');
    const path = requested === '' || requested === '.' ? 'index.html' : requested;
    const mount = Object.keys(mounts).find((prefix) => path.startsWith(prefix));
    try {
      const body = await readFile(mount ? join(mounts[mount], path.slice(mount.length)) : join(DIST, path));
      response.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
        'content-length': body.length });
      response.end(body);
    } catch {
      response.writeHead(404).end('not found');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

const FLAGS = ['--headless=new', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

/** Chromium with WebGPU (SwiftShader) or, with `webgpu: false`, without it. */
export async function launch({ webgpu }) {
  // playwright-core gives each launch a fresh, temporary profile.
  const args = [...FLAGS];
  if (webgpu) args.push('--enable-unsafe-webgpu', '--enable-features=Vulkan');
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args, ignoreDefaultArgs: ['--headless'] });
  browser.webgpu = webgpu;
  return browser;
}

// SwiftShader is a fallback adapter, which the page passes over for its own, faster CPU backend:
// in a WebGPU browser `openPage` shows it as a GPU, so the page's WebGPU path is what runs.
function asGpuAdapter() {
  Object.defineProperty(GPUAdapterInfo.prototype, 'isFallbackAdapter', { get: () => false });
}

/** Collects on `page.uploads` every request that could carry data away: any with a body, or
 *  with a method other than GET or HEAD. */
export function recordUploads(page) {
  page.uploads = [];
  page.on('request', (request) => {
    if (request.postDataBuffer()?.length || !['GET', 'HEAD'].includes(request.method())) {
      page.uploads.push(`${request.method()} ${request.url()}`);
    }
  });
  return page;
}

/** A page that records every request it makes and every console error; `beforeLoad` runs in
 *  the page before its own scripts. With `fallbackAdapter`, SwiftShader shows as what it is. */
export async function openPage(browser, url, { beforeLoad, fallbackAdapter = false } = {}) {
  // A context of its own (a fresh profile: no cache, no stored models), which more pages can join.
  const page = await (await browser.newContext()).newPage();
  if (browser.webgpu && !fallbackAdapter) await page.addInitScript(asGpuAdapter);
  if (beforeLoad) await page.addInitScript(beforeLoad);
  page.requests = [];
  page.on('request', (request) => page.requests.push(request.url()));
  recordUploads(page);
  page.on('console', (message) => { if (message.type() === 'error') console.log('[page]', message.text()); });
  page.opened = Date.now();
  await page.goto(url);
  return page;
}

/** dist/ served, Chromium without WebGPU (the page on its CPU fallback) and a page open on the
 *  site (`beforeLoad` as in `openPage`); `close` ends the three. */
export async function openCpuSite({ beforeLoad } = {}) {
  const { server, origin } = await serveDist();
  const browser = await launch({ webgpu: false });
  const page = await openPage(browser, origin, { beforeLoad });
  return { server, origin, browser, page, close: async () => { await browser.close(); server.close(); } };
}

/** The number of the newest analysis the page started (the status element's `data-job`). */
export const jobNumber = async (page) => Number(await page.getAttribute('[data-testid=status]', 'data-job'));

/** Waits until the model is loaded and no job runs; with `after`, until a job numbered above it
 *  has finished. A CPU job can start and finish between two polls, so seeing "running" is no
 *  proof that it ran. */
export async function settled(page, { after = -1, timeout = 600_000 } = {}) {
  await page.waitForFunction((after) => {
    const status = document.querySelector('[data-testid=status]');
    return ['done', 'idle'].includes(status?.textContent) && Number(status.dataset.job) > after;
  }, after, { timeout, polling: 200 });
}

export async function runDemo(page, name, timeout = 600_000) {
  await page.waitForSelector(`[data-testid=demo-${name}]:not([disabled])`, { timeout });
  const after = await jobNumber(page);
  await page.click(`[data-testid=demo-${name}]`);
  await settled(page, { after, timeout });
}

/** Mean heat of the overlay's top and bottom halves: the colour blended over the photo,
 *  recovered as 2 * overlay - photo (opacity 50%), scored as red minus blue (jet runs blue to red). */
export async function heatByHalf(page) {
  return page.evaluate(() => {
    const pixels = (id) => {
      const canvas = document.querySelector(`[data-testid=${id}]`);
      return canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    };
    const overlay = pixels('overlay');
    const photo = pixels('photo').data;
    const { data, width, height } = overlay;
    const halves = [0, 0];
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
      const i = 4 * (y * width + x);
      halves[y < height / 2 ? 0 : 1] += (2 * data[i] - photo[i]) - (2 * data[i + 2] - photo[i + 2]);
    }
    return { top: halves[0] / (width * height / 2), bottom: halves[1] / (width * height / 2) };
  });
}

export async function canvasPixels(page, testid) {
  return page.evaluate((id) => {
    const canvas = document.querySelector(`[data-testid=${id}]`);
    return Array.from(canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data);
  }, testid);
}

export const text = (page, testid) => page.textContent(`[data-testid=${testid}]`);

/** The files `action` makes the page download, `count` of them, by name. */
export async function downloads(page, action, count) {
  const files = {};
  const done = new Promise((resolve) => {
    page.on('download', async (download) => {
      files[download.suggestedFilename()] = await readFile(await download.path());
      if (Object.keys(files).length === count) resolve();
    });
  });
  await action();
  await done;
  page.removeAllListeners('download');
  return files;
}
