// A visitor's own model in the page (on the CPU fallback): a torchvision resnet18 with seven
// classes, as torch.save wrote it (cargo xtask test rebuilds it from the committed fixture into
// OWN_MODEL_DIR), converted in the page, kept across a reload, shared by a link that names it,
// and never uploaded. And ones trained on 32 px photos as the CIFAR recipe does: a resnet18, and
// He et al.'s three-stage ResNet-20 as pytorch_resnet_cifar10 saves it. And the EMA copy in a
// timm train.py checkpoint.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCpuSite, openPage, recordUploads, runDemo, settled, canvasPixels, text } from './harness.mjs';

const dir = process.env.OWN_MODEL_DIR;
// By path: Playwright takes files of more than 50 MB no other way (the timm checkpoint is 112 MB).
const file = (name) => join(dir, name);
let site, origin, browser, page;
/** Every page opened, for the last test to check what each requested. */
const pages = [];

function record(page) {
  if (!page.uploads) {
    page.requests = [];
    page.on('request', (request) => page.requests.push(request.url()));
    recordUploads(page);
  }
  pages.push(page);
  return page;
}

async function ready(page) {
  await page.waitForSelector('[data-testid=demo-chelsea]:not([disabled])', { timeout: 300_000 });
}

/** Picks the model file (and class names), converts, and waits for the page to use it. */
async function addModel(page, model, labels) {
  await page.setInputFiles('[data-testid=model-file]', file(model));
  if (labels) await page.setInputFiles('[data-testid=labels-file]', file(labels));
  await page.click('[data-testid=add-model]');
}

async function prediction(page) {
  await page.waitForFunction(() => document.querySelector('[data-testid=prediction]')?.textContent, null,
    { timeout: 300_000 });
  return text(page, 'prediction');
}

before(async () => {
  assert.ok(dir, 'OWN_MODEL_DIR names the folder with resnet18.pth (cargo xtask test sets it)');
  ({ origin, browser, page } = site = await openCpuSite());
  record(page);
  await ready(page);
});
after(() => site?.close());

test('a wrong file or class list is refused with a message, and the page goes on', { timeout: 300_000 }, async () => {
  await addModel(page, 'labels.txt');
  await page.waitForSelector('[data-testid=conversion-error]', { timeout: 60_000 });
  assert.match(await text(page, 'conversion-error'), /not a model file/);
  await page.setInputFiles('[data-testid=model-file]', file('resnet18.pth'));
  await page.setInputFiles('[data-testid=labels-file]', { name: 'two.txt', mimeType: 'text/plain', buffer: Buffer.from('a\nb\n') });
  await page.click('[data-testid=add-model]');
  await page.waitForFunction(() => document.querySelector('[data-testid=conversion-error]')?.textContent.includes('2 class names'),
    null, { timeout: 120_000 });
  // A file given as class names by mistake is refused by its size, before it is read.
  await page.setInputFiles('[data-testid=labels-file]', { name: 'big.txt', mimeType: 'text/plain', buffer: Buffer.alloc(17e6, 'a\n') });
  await page.click('[data-testid=add-model]');
  await page.waitForFunction(() => document.querySelector('[data-testid=conversion-error]')?.textContent.includes('big.txt: over 16 MB'),
    null, { timeout: 120_000 });
  assert.equal(await page.locator('[data-testid=own-model]').count(), 0);
  assert.match(await text(page, 'model-name'), /ResNet-50, ImageNet/);
});

let shared, sharedOverlay;
test('an own model is converted in the page and explains with its own classes', { timeout: 600_000 }, async () => {
  await addModel(page, 'resnet18.pth', 'labels.txt');
  await page.waitForSelector('[data-testid=conversion][data-ms]', { timeout: 300_000 });
  await page.waitForFunction(() => document.querySelector('[data-testid=model-name]')?.textContent.includes('resnet18.pth'),
    null, { timeout: 300_000 });
  console.log(`resnet18 .pth (${readFileSync(join(dir, 'resnet18.pth')).length} bytes) converted in the page in ` +
    `${await page.getAttribute('[data-testid=conversion]', 'data-ms')} ms`);
  assert.match(await text(page, 'model-name'), /resnet18\.pth \(resnet18, 7 classes\)/);
  const listed = await text(page, 'own-model');
  assert.ok(listed.includes('resnet18.pth') && listed.includes('7 classes'), listed);
  await runDemo(page, 'chelsea');
  assert.equal(await prediction(page), 'cat');
  shared = await page.getAttribute('[data-testid=share]', 'href');
  sharedOverlay = await canvasPixels(page, 'overlay');
  assert.match(shared, /&model=[0-9a-f]{64}&model_name=/);
});

test('the model is still there after a reload, and still in use', { timeout: 600_000 }, async () => {
  await page.reload();
  await ready(page);
  assert.match(await text(page, 'model-name'), /resnet18\.pth/);
  assert.equal(await page.locator('[data-testid=own-model]').count(), 1);
  await runDemo(page, 'coffee');
  assert.equal(await prediction(page), 'coffee');
});

test('its share link reproduces the view where the model is stored', { timeout: 600_000 }, async () => {
  const again = record(await page.context().newPage());
  await again.goto(shared);
  await ready(again);
  assert.equal(await prediction(again), 'cat');
  await settled(again);
  assert.deepEqual(await canvasPixels(again, 'overlay'), sharedOverlay);
  await again.close();
});

test('where the model is not stored, the link names the file, and opens once it is loaded', { timeout: 600_000 }, async () => {
  const fresh = record(await openPage(browser, shared));
  await fresh.waitForSelector('[data-testid=wanted-model]', { timeout: 300_000 });
  const wanted = await text(fresh, 'wanted-model');
  assert.ok(wanted.includes('resnet18.pth') && /SHA-256 [0-9a-f]{12}/.test(wanted), wanted);
  await ready(fresh);
  await addModel(fresh, 'resnet18.pth', 'labels.txt');
  assert.equal(await prediction(fresh), 'cat');
  await fresh.waitForSelector('[data-testid=wanted-model]', { state: 'detached', timeout: 60_000 });
  await fresh.close();
});

test('the visitor switches between the built-in model and theirs, and deletes theirs', { timeout: 600_000 }, async () => {
  const modelName = (part) => page.waitForFunction((part) =>
    document.querySelector('[data-testid=model-name]')?.textContent.includes(part), part, { timeout: 300_000 });
  await page.check('[data-testid=model-builtin]');
  await modelName('ImageNet');
  await page.check('[data-testid=own-model] input[type=radio]');
  await modelName('resnet18.pth');
  await page.click('[data-testid=delete-model]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=own-model]').length === 0, null, { timeout: 60_000 });
  await page.waitForFunction(() => document.querySelector('[data-testid=model-name]')?.textContent.includes('ImageNet'),
    null, { timeout: 300_000 });
});

test('a model the browser has no room to keep is used for the visit, and said not to be kept', { timeout: 600_000 }, async () => {
  // The browser's storage refuses the model as a full one does (the built-in weights are kept).
  const full = record(await openPage(browser, origin, {
    beforeLoad: () => {
      const put = Cache.prototype.put;
      Cache.prototype.put = function (request, response) {
        return String(request).includes('own-models/')
          ? Promise.reject(new DOMException('The quota has been exceeded.', 'QuotaExceededError'))
          : put.call(this, request, response);
      };
    },
  }));
  await ready(full);
  await addModel(full, 'resnet18.pth', 'labels.txt');
  await full.waitForFunction(() => document.querySelector('[data-testid=model-name]')?.textContent.includes('resnet18.pth'),
    null, { timeout: 300_000 });
  assert.match(await text(full, 'conversion'), /used until another model is chosen or this page is closed, not kept: this browser has no room left/);
  assert.equal(await full.locator('[data-testid=own-model]').count(), 0);
  await runDemo(full, 'chelsea');
  assert.equal(await prediction(full), 'cat');
  await full.close();
});

test('a CIFAR model is read with its stem and given the photos at its own size', { timeout: 600_000 }, async () => {
  await addModel(page, 'resnet18-cifar.pth', 'labels.txt');
  await page.waitForFunction(() => document.querySelector('[data-testid=model-name]')?.textContent.includes('resnet18-cifar.pth'),
    null, { timeout: 300_000 });
  assert.match(await text(page, 'model-name'), /resnet18 \(3x3 stem of stride 1, no max pooling\), 7 classes/);
  assert.match(await text(page, 'conversion'), /the stem read as the CIFAR recipe's/);
  const notices = await page.locator('.notice').allTextContents();
  assert.ok(notices.some((n) => n.includes('This model takes 32 x 32 photos')), notices.join(' | '));
  await runDemo(page, 'chelsea');
  assert.equal(await prediction(page), 'cat');
});

test('the conversion options say what the weights do not, and a slip in them is refused', { timeout: 600_000 }, async () => {
  await page.click('[data-testid=conversion-options] summary');
  await page.fill('[data-testid=option-mean]', '125, 123, 114');
  await page.fill('[data-testid=option-std]', '0.2470, 0.2435, 0.2616');
  await addModel(page, 'resnet18-cifar.pth', 'labels.txt');
  await page.waitForSelector('[data-testid=conversion-error]', { timeout: 60_000 });
  assert.match(await text(page, 'conversion-error'), /^resnet18-cifar\.pth: the mean '125, 123, 114': each must be from 0 to 1.*divide values of 0 to 255 by 255/);
  // CIFAR-10's statistics, the recipe's stem said outright and a size of its own: nothing is
  // left for the page to guess, so the conversion has no note.
  await page.fill('[data-testid=option-mean]', '0.4914, 0.4822, 0.4465');
  await page.selectOption('[data-testid=option-stem-stride]', '1');
  await page.selectOption('[data-testid=option-max-pool]', 'no');
  await page.fill('[data-testid=option-input-size]', '64');
  await page.click('[data-testid=add-model]');
  await page.waitForSelector('[data-testid=conversion][data-ms]', { timeout: 300_000 });
  assert.match(await text(page, 'conversion'), /^Converted resnet18-cifar\.pth in [0-9.]+ s\.$/);
  await page.waitForFunction(() => [...document.querySelectorAll('.notice')].some((n) => n.textContent.includes('takes 64 x 64 photos')),
    null, { timeout: 300_000 });
  assert.match(await text(page, 'model-name'), /resnet18 \(3x3 stem of stride 1, no max pooling\), 7 classes/);
  await runDemo(page, 'coffee');
  const labels = readFileSync(join(dir, 'labels.txt'), 'utf8').split('\n').filter(Boolean);
  assert.ok(labels.includes(await prediction(page)), labels.join(', '));
  // They were this file's: the next one starts from the defaults.
  assert.deepEqual(await Promise.all(['mean', 'std', 'stem-stride', 'max-pool', 'input-size']
    .map((option) => page.inputValue(`[data-testid=option-${option}]`))), ['', '', '', '', '']);
  // Its share link says how it was converted; where the file is converted otherwise, the
  // visitor is told what the link's view was made with.
  const link = await page.getAttribute('[data-testid=share]', 'href');
  assert.ok(link.includes('&model_setup=0.4914,0.4822,0.4465,0.247,0.2435,0.2616,1,0,64&'), link);
  const fresh = record(await openPage(browser, link));
  await fresh.waitForSelector('[data-testid=wanted-model]', { timeout: 300_000 });
  assert.match(await text(fresh, 'wanted-model'),
    /its conversion options set for mean 0\.4914, 0\.4822, 0\.4465 and std 0\.247, 0\.2435, 0\.2616, stem stride 1 with no max pooling, 64 x 64 photos, to see/);
  await ready(fresh);
  await addModel(fresh, 'resnet18-cifar.pth', 'labels.txt');
  await fresh.waitForFunction(() => [...document.querySelectorAll('.notice')].some((n) => n.textContent.includes('here it is converted for')),
    null, { timeout: 300_000 });
  const notices = await fresh.locator('.notice').allTextContents();
  assert.ok(notices.some((n) => n.includes('here it is converted for mean 0.485, 0.456, 0.406 and std 0.229, 0.224, 0.225, stem stride 1 with no max pooling, 32 x 32 photos')),
    notices.join(' | '));
  await fresh.close();
});

test("a checkpoint's EMA copy is converted where the visitor asks for it, and its link says so", { timeout: 600_000 }, async () => {
  if (!await page.$eval('[data-testid=conversion-options]', (options) => options.open)) {
    await page.click('[data-testid=conversion-options] summary');
  }
  await page.check('[data-testid=option-ema]');
  await addModel(page, 'resnet26d-timm-checkpoint.pth.tar', 'labels.txt');
  await page.waitForFunction(() => document.querySelector('[data-testid=model-name]')?.textContent.includes('resnet26d-timm-checkpoint'),
    null, { timeout: 300_000 });
  assert.match(await text(page, 'model-name'), /shortcuts\), its EMA copy, 7 classes\)$/);
  assert.match(await text(page, 'conversion'), /converted the file's EMA copy of the network, 'state_dict_ema\.', not 'state_dict\.'/);
  assert.equal(await page.isChecked('[data-testid=option-ema]'), false, 'the next file starts from the defaults');
  await runDemo(page, 'chelsea');
  assert.equal(await prediction(page), 'cat');
  const link = await page.getAttribute('[data-testid=share]', 'href');
  assert.ok(/&model_setup=[^&]*,224,ema&/.test(link), link);
});

test('a CIFAR ResNet-20 of three stages is explained at its own layers', { timeout: 600_000 }, async () => {
  await addModel(page, 'resnet20-cifar-a.pth', 'labels.txt');
  await page.waitForFunction(() => document.querySelector('[data-testid=model-name]')?.textContent.includes('resnet20-cifar-a.pth'),
    null, { timeout: 300_000 });
  assert.match(await text(page, 'model-name'), /resnet20 \(zero-padding shortcuts\), 7 classes/);
  assert.match(await text(page, 'conversion'), /its shortcuts read as zero-padding/);
  // Three layers, the last one chosen, its maps 8 x 8 for the 32 px photos the model takes.
  assert.deepEqual(await page.$$eval('[data-testid=layer] option', (options) => options.map((o) => o.value)),
    ['layer1', 'layer2', 'layer3']);
  assert.equal(await page.inputValue('[data-testid=layer]'), 'layer3');
  assert.match(await page.textContent('#layer-hint'), /^8 x 8: the features the class decision is made from/);
  // Another photo than the last test's, whose click would start no new analysis.
  await runDemo(page, 'rocket');
  assert.equal(await prediction(page), 'rocket');
});

test('nothing was uploaded: no request left the origin, and none had a body', () => {
  const urls = pages.flatMap((p) => p.requests);
  assert.ok(urls.some((url) => url.endsWith('.wasm')), 'requests were recorded');
  assert.deepEqual(urls.filter((url) => !url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:')), []);
  assert.deepEqual(pages.flatMap((p) => p.uploads), []);
});
