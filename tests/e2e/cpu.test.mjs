// The app on its CPU fallback (burn's flex backend in wasm), which is what a browser without
// WebGPU gets: uploads, share links, bad input, cached weights, and the newest photo winning.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { openCpuSite, openPage, runDemo, settled, jobNumber, heatByHalf, canvasPixels, text } from './harness.mjs';

const fixture = (name) => readFileSync(new URL(`../fixtures/images/${name}`, import.meta.url));

/** In the page before its scripts: `setHidden(true)` makes the document report itself hidden,
 *  and its timers are then held back until it is shown again, as a browser holds a background
 *  tab's (to a second, then a minute; headless Chromium never hides a tab). */
function holdTimersWhileHidden() {
  let hidden = false;
  const held = [];
  Object.defineProperty(Document.prototype, 'hidden', { get: () => hidden });
  Object.defineProperty(Document.prototype, 'visibilityState', { get: () => (hidden ? 'hidden' : 'visible') });
  const setTimeout = window.setTimeout.bind(window);
  // A held timer gets id 0, which no clearTimeout mistakes for a real one.
  window.setTimeout = (callback, delay, ...args) => (hidden ? (held.push(() => callback(...args)), 0) : setTimeout(callback, delay, ...args));
  window.setHidden = (value) => {
    hidden = value;
    document.dispatchEvent(new Event('visibilitychange'));
    if (!hidden) held.splice(0).forEach((run) => setTimeout(run, 0));
  };
}

let site, origin, browser, page;
before(async () => {
  ({ origin, browser, page } = site = await openCpuSite({ beforeLoad: holdTimersWhileHidden }));
  await page.waitForSelector('[data-testid=demo-chelsea]:not([disabled])', { timeout: 300_000 });
});
after(() => site?.close());

async function upload(name, buffer, mimeType = 'image/png') {
  await page.setInputFiles('[data-testid=upload]', { name, mimeType, buffer });
}

/** Moves a slider as a visitor's drag does: a new value, then an `input` event. */
async function setRange(testid, value) {
  await page.$eval(`[data-testid=${testid}]`, (input, value) => {
    input.value = String(value);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
}

async function expectError(fragment) {
  // The message of the file just given, not the one before it.
  await page.waitForFunction((fragment) => {
    const error = document.querySelector('[data-testid=error]:not([hidden])');
    return error?.textContent.includes(fragment);
  }, fragment, { timeout: 60_000 }).catch(() => {});
  const message = await text(page, 'error');
  assert.ok(message.includes(fragment), `"${message}" should mention "${fragment}"`);
}

test('without WebGPU the page says so and still explains', { timeout: 600_000 }, async () => {
  assert.equal(await text(page, 'backend'), 'CPU');
  assert.ok((await page.textContent('.notice')).includes('CPU'));
  await runDemo(page, 'chelsea');
  console.log(`CPU fallback, cold cache: page open to first heatmap ${Date.now() - page.opened} ms`);
  assert.equal(await text(page, 'prediction'), 'Egyptian cat');
  const heat = await heatByHalf(page);
  // pytorch-grad-cam puts chelsea's layer4 Grad-CAM mostly in the bottom half (cheeks, whiskers).
  assert.ok(heat.bottom > heat.top, JSON.stringify(heat));
  const start = Date.now();
  await page.reload();
  await runDemo(page, 'chelsea');
  console.log(`CPU fallback, warm cache: page open to first heatmap ${Date.now() - start} ms`);
});

test('an uploaded photo is classified', { timeout: 600_000 }, async () => {
  await upload('my-coffee.png', fixture('coffee.png'));
  await page.waitForFunction(() => document.querySelector('[data-testid=prediction]')?.textContent === 'espresso',
    null, { timeout: 300_000 });
  await settled(page);
});

test('a share link reproduces the same overlay', { timeout: 600_000 }, async () => {
  const job = await jobNumber(page);
  await page.selectOption('[data-testid=method]', 'gradcam++');
  await settled(page, { after: job });
  const before = await canvasPixels(page, 'overlay');
  const link = await page.getAttribute('[data-testid=share]', 'href');
  assert.ok(link.startsWith(origin) && link.includes('#v=1') && link.includes('photo=jpeg:'), link);
  const other = await openPage(browser, link);
  await other.waitForFunction(() => document.querySelector('[data-testid=prediction]')?.textContent === 'espresso',
    null, { timeout: 300_000 });
  await settled(other);
  assert.equal(await other.inputValue('[data-testid=method]'), 'gradcam++');
  const after = await canvasPixels(other, 'overlay');
  assert.equal(after.length, before.length);
  const worst = after.reduce((m, v, i) => Math.max(m, Math.abs(v - before[i])), 0);
  assert.ok(worst <= 2, `largest pixel difference ${worst}`);
  await other.close();
  // Pasted into a tab that shows the page already, where only the fragment changes.
  const elsewhere = await jobNumber(page);
  await page.selectOption('[data-testid=method]', 'gradcam');
  await page.click('[data-testid=demo-chelsea]');
  await settled(page, { after: elsewhere });
  await page.evaluate((hash) => { location.hash = hash; }, new URL(link).hash);
  await page.waitForFunction(() => document.querySelector('[data-testid=prediction]')?.textContent === 'espresso',
    null, { timeout: 300_000 });
  await settled(page);
  assert.equal(await page.inputValue('[data-testid=method]'), 'gradcam++');
});

test('opacity and colormap repaint the overlay without running the network', { timeout: 600_000 }, async () => {
  await settled(page);
  const job = await jobNumber(page);
  const before = await canvasPixels(page, 'overlay');
  await setRange('opacity', 80);
  await page.waitForFunction((old) => {
    const canvas = document.querySelector('[data-testid=overlay]');
    const first = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    return first.some((v, i) => v !== old[i]);
  }, before, { timeout: 10_000 });
  const stronger = await canvasPixels(page, 'overlay');
  await page.selectOption('[data-testid=colormap]', 'viridis');
  await page.waitForFunction((old) => {
    const canvas = document.querySelector('[data-testid=overlay]');
    const now = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    return now.some((v, i) => v !== old[i]);
  }, stronger, { timeout: 10_000 });
  await page.waitForTimeout(300);
  assert.equal(await jobNumber(page), job, 'no job started');
  assert.equal(await text(page, 'status'), 'done');
  await setRange('opacity', 50);
  await page.selectOption('[data-testid=colormap]', 'jet');
  await page.waitForTimeout(500);
  assert.deepEqual(await canvasPixels(page, 'overlay'), before, 'back to the first look, back to the first pixels');
  assert.equal(await jobNumber(page), job, 'no job started');
});

test('Score-CAM goes a batch of channels at a time, on in a background tab too, and its cancel brings the last map back', { timeout: 600_000 }, async () => {
  await settled(page);
  const [method, before] = [await page.inputValue('[data-testid=method]'), await canvasPixels(page, 'overlay')];
  // Started in a background tab, whose timers the browser holds back: a step waiting on one
  // would stay at 0 channels. (Polled from here: the page's own polling would wait on frames,
  // which a page busy between steps that never wait on a timer seldom paints.)
  await page.evaluate(() => window.setHidden(true));
  try {
    await page.selectOption('[data-testid=method]', 'scorecam');
    // 2048 passes of the network at layer4, minutes here: the page says how far it is.
    const progress = () => page.textContent('[data-testid=analysis-progress]', { timeout: 300_000 });
    for (const deadline = Date.now() + 300_000; !/^scorecam: [1-9]\d* of 2048 channels/.test(await progress());) {
      assert.ok(Date.now() < deadline, `hidden, Score-CAM stayed at "${await progress()}"`);
      await page.waitForTimeout(200);
    }
  } finally {
    await page.evaluate(() => window.setHidden(false));
  }
  assert.equal(await text(page, 'status'), 'running');
  await page.click('[data-testid=analysis-cancel]', { timeout: 120_000 });
  await page.waitForSelector('[data-testid=analysis-progress]', { state: 'detached', timeout: 120_000 });
  assert.equal(await page.inputValue('[data-testid=method]'), method);
  assert.equal(await text(page, 'status'), 'done');
  assert.deepEqual(await canvasPixels(page, 'overlay'), before);
});

test('the page reads at a glance at 1280 and 390 pixels wide', { timeout: 600_000 }, async () => {
  for (const [width, height] of [[1280, 900], [390, 844]]) {
    await page.setViewportSize({ width, height });
    await page.waitForTimeout(200);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${width} px: the page is ${overflow} px wider than the window`);
    const shown = await page.evaluate(() => document.querySelector('[data-testid=overlay]').getBoundingClientRect().width);
    assert.ok(shown >= Math.min(300, width - 60), `${width} px: the overlay is only ${shown} px wide`);
    await page.screenshot({ path: new URL(`../../docs/screenshot-${width}.png`, import.meta.url).pathname, fullPage: width < 800 });
  }
  await page.setViewportSize({ width: 1280, height: 720 });
});

test('bad files and tampered links give a clear message and the page stays usable', { timeout: 600_000 }, async () => {
  // Its name reorders itself on screen ('notes\u202egpj.txt' reads "notestxt.jpg"): shown escaped.
  await upload('notes\u202egpj.txt', Buffer.from('not a photo at all'), 'image/jpeg');
  await expectError('notes\\u{202e}gpj.txt: not a supported image');
  const png = fixture('chelsea.png');
  await upload('cut.png', png.subarray(0, png.length / 3));
  await expectError('truncated or corrupt');
  // A PNG claiming 100000 x 100000 pixels: signature, header, the start of its pixel data.
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    const length = Buffer.alloc(4); length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const claiming = (width, height) => {
    const header = Buffer.alloc(13);
    header.writeUInt32BE(width, 0); header.writeUInt32BE(height, 4); header.set([8, 2, 0, 0, 0], 8);
    return Buffer.concat([png.subarray(0, 8), chunk('IHDR', header), chunk('IDAT', Buffer.from([0x78, 0x9c, 0x63, 0, 0]))]);
  };
  // Each refused from its header alone: a thin strip passes the pixel limit but would not fit
  // in the tab once resized.
  for (const [name, width, height, expected] of [['huge.png', 100_000, 100_000, '40 megapixels'],
    ['thin.png', 8, 5_000_000, 'too large to decode'], ['strip.png', 16, 4_000, 'at most 16 times']]) {
    await upload(name, claiming(width, height));
    await expectError(expected);
  }
  for (const [fragment, expected] of [['#v=1&method=gradcam&layer=layer4&colormap=jet&opacity=50&k=5&photo=jpeg:!!!', 'damaged'],
    ['#v=1&method=nope&layer=layer4&colormap=jet&opacity=50&k=5&photo=demo:chelsea', 'unknown method'],
    [`#${'x'.repeat(300_000)}`, 'too long'],
    ['#v=1&method=gradcam&layer=layer4&colormap=jet&opacity=50&opacity=60&k=5&photo=demo:chelsea', 'given twice']]) {
    const tampered = await openPage(browser, origin + '/' + fragment);
    await tampered.waitForSelector('[data-testid=error]:not([hidden])', { timeout: 300_000 });
    assert.ok((await text(tampered, 'error')).includes(expected), await text(tampered, 'error'));
    await tampered.close();
  }
  // A class the model lacks (an edited link, or one made with another model): the top class
  // is explained instead, and the page says why.
  const classless = await openPage(browser,
    origin + '/#v=1&method=gradcam&layer=layer4&class=5000&colormap=jet&opacity=50&k=5&photo=demo:chelsea');
  await classless.waitForFunction(() => document.querySelector('[data-testid=prediction]')?.textContent === 'Egyptian cat',
    null, { timeout: 300_000 });
  // Beside the notice that the page runs on the CPU, which stays.
  const notices = (await classless.locator('.notice').allTextContents()).join(' ');
  assert.match(notices, /class 5000, which this model does not have/);
  assert.match(notices, /runs on the CPU/);
  await classless.close();
  await runDemo(page, 'rocket');
  assert.ok((await text(page, 'prediction')).length > 0);
});

test('the newest photo wins when two are picked in a row', { timeout: 600_000 }, async () => {
  await page.click('[data-testid=demo-astronaut]');
  await page.click('[data-testid=demo-coffee]');
  await page.waitForTimeout(500);
  await settled(page);
  assert.equal(await text(page, 'prediction'), 'espresso');
});

test('concepts are found across two photos, and one can be shown alone', { timeout: 600_000 }, async () => {
  await page.check('.gallery label:has-text("chelsea") input');
  await page.check('.gallery label:has-text("coffee") >> nth=-1 >> input');
  await page.click('button:has-text("Find concepts")');
  await page.waitForFunction(() => document.querySelectorAll('.legend li').length === 5, null, { timeout: 300_000 });
  await settled(page);
  const legend = await page.textContent('.legend');
  assert.ok(legend.includes('Egyptian cat') && legend.includes('espresso'), legend);
  assert.equal(await page.getAttribute('[data-testid=dff]', 'width'), '448');
  const all = await canvasPixels(page, 'dff');
  await page.click('.legend li:first-child button');
  await page.waitForFunction(() => document.querySelector('.legend li:first-child button').getAttribute('aria-pressed') === 'true');
  const alone = await canvasPixels(page, 'dff');
  assert.notDeepEqual(alone, all);
});

test('a factorisation shows its progress photo by photo, and a cancel keeps the concepts found before', { timeout: 600_000 }, async () => {
  const before = await page.textContent('.legend');
  const boxes = await page.$$('.gallery input');
  for (const box of boxes) await box.check();
  assert.ok(boxes.length >= 4, `${boxes.length} photos to factorise`);
  await page.click('button:has-text("Find concepts")');
  await page.waitForSelector('[data-testid=dff-progress]', { timeout: 60_000 });
  assert.match(await text(page, 'dff-progress'), new RegExp(`^Photo \\d+ of ${boxes.length}$`));
  await page.click('[data-testid=dff-cancel]');
  await page.waitForSelector('[data-testid=dff-progress]', { state: 'detached', timeout: 60_000 });
  await settled(page);
  assert.equal(await page.textContent('.legend'), before);
  assert.equal(await page.isEnabled('button:has-text("Find concepts")'), true);
});

test('damaged cached weights are fetched again', { timeout: 600_000 }, async () => {
  await page.evaluate(async () => {
    const cache = await caches.open('xai-lens-weights-v2');
    await cache.put('resnet50-int8.safetensors', new Response(new Uint8Array([1, 2, 3])));
  });
  await page.reload();
  await page.waitForSelector('[data-testid=demo-chelsea]:not([disabled])', { timeout: 300_000 });
  assert.equal(await page.isHidden('[data-testid=error]'), true, await text(page, 'error'));
  await page.reload();
  await page.waitForSelector('[data-testid=demo-chelsea]:not([disabled])', { timeout: 300_000 });
  assert.ok((await text(page, 'model')).includes('from this browser'));
});

test('a panic shows its message and a button that brings the page back', { timeout: 600_000 }, async () => {
  // The app's own module, as the page loaded it: the call runs in the page's wasm instance.
  await page.evaluate(async () => (await import('/xai-app.js')).break_on_purpose()).catch(() => {});
  await expectError('broken on purpose');
  await page.click('[data-testid=reload]');
  await page.waitForSelector('[data-testid=demo-chelsea]:not([disabled])', { timeout: 300_000 });
  assert.equal(await page.isHidden('[data-testid=error]'), true, await text(page, 'error'));
  await runDemo(page, 'coffee');
  assert.ok((await text(page, 'prediction')).length > 0);
});

test('the page asks for nothing but its own files', () => {
  const foreign = page.requests.filter((url) => !url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:'));
  assert.deepEqual(foreign, []);
});
