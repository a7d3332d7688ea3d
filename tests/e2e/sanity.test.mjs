// The sanity checks on the CPU fallback: every one-pass method checked by the model
// randomization cascade and a random class, read back as numbers with a verdict, downloaded as
// evidence, and a cancel. Then a contrast ("versus") and a share link that opens the compare view.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { openCpuSite, openPage, runDemo, settled, jobNumber, text, canvasPixels, downloads } from './harness.mjs';

let site, browser, page;
before(async () => ({ browser, page } = site = await openCpuSite()));
after(() => site?.close());

const METHODS = ['gradcam', 'gradcam++', 'hirescam', 'xgradcam', 'layercam', 'eigencam', 'cam'];
const PARTS = ['fc', 'layer4', 'layer3', 'layer2', 'layer1', 'conv1'];
// Quoted: method names such as gradcam++ are not CSS identifiers. The cell's title holds three
// digits: "rank correlation 0.227, SSIM 0.365".
const similarity = async (method, step) => {
  const title = await page.getAttribute(`[data-testid="sanity-${method}-${step}"]`, 'title');
  const [, spearman, ssim] = title.match(/rank correlation (-?[\d.]+), SSIM (-?[\d.]+)/);
  return { spearman: Number(spearman), ssim: Number(ssim) };
};
const verdict = (method) => page.textContent(`[data-testid="sanity-${method}-verdict"]`);

test('every method is sanity-checked, with numbers and a verdict', { timeout: 600_000 }, async () => {
  await runDemo(page, 'chelsea');
  const before = await jobNumber(page);
  const start = Date.now();
  await page.click('[data-testid=sanity]');
  await settled(page, { after: before, timeout: 500_000 });
  console.log(`CPU fallback: ${await text(page, 'sanity-ms')} (the test saw it ${Date.now() - start} ms after the click)`);
  assert.equal(await page.isHidden('[data-testid=error]'), true, await text(page, 'error'));
  const rows = await page.$$eval('[data-testid^=sanity-row-]', (rows) => rows.map((r) => r.dataset.testid.slice('sanity-row-'.length)));
  assert.deepEqual(rows, METHODS);
  for (const method of METHODS) {
    const steps = await Promise.all([...PARTS, 'random'].map((step) => similarity(method, step)));
    console.log(`${method}: ${steps.map((s) => s.spearman).join(' ')} | ${await verdict(method)}`);
    for (const { spearman, ssim } of steps) {
      assert.ok(spearman >= -1 && spearman <= 1 && ssim >= -1 && ssim <= 1, `${method}: ${spearman} ${ssim}`);
    }
  }
  // As `xai sanity` measures it on the same int8 weights with the same seed (fc and layer4
  // random: 0.227; crates/cli/tests/sanity.rs), and Grad-CAM passes.
  const gradcam = await similarity('gradcam', 'layer4');
  assert.ok(Math.abs(gradcam.spearman - 0.227) < 0.02, `Grad-CAM with layer4 random: ${gradcam.spearman}`);
  assert.match(await verdict('gradcam'), /^passes the randomization test.*passes the random-class test$/);
  // EigenCAM never looks at the head: a random one leaves its map as it was, and the check says so.
  assert.ok((await similarity('eigencam', 'fc')).spearman > 0.99);
  assert.match(await verdict('eigencam'), /^fails the randomization test/);
  assert.ok((await page.$$('.sanity-plot polyline')).length === 2 * METHODS.length);

  // The report: the evidence as `xai sanity --json` writes it, one object per method, and a card.
  const files = await downloads(page, () => page.click('[data-testid=sanity-report]'), 2);
  const evidence = JSON.parse(files['xai-lens-evidence.json']);
  assert.deepEqual(evidence.map((e) => e.method), METHODS);
  for (const e of evidence) {
    assert.equal(e.class, 285);
    assert.equal(e.photo_sha256.length, 64);
    assert.equal(e.precision, 'int8');
    assert.match(e.weights_checksum, /^sha256:[0-9a-f]{64}$/);
    assert.equal(e.sanity.cascade.length, PARTS.length);
    assert.equal(e.scores, null, 'no comparison was made');
  }
  assert.equal(evidence[0].sanity.cascade[1].spearman.toFixed(3), String(gradcam.spearman));
  assert.ok(files['xai-lens-report.png'].subarray(1, 4).toString() === 'PNG');
});

test('a sanity check can be cancelled, and the page goes on', { timeout: 600_000 }, async () => {
  await runDemo(page, 'coffee');
  const before = await jobNumber(page);
  // The whole check takes seconds: click Cancel as soon as it shows, from inside the page, as a
  // visitor's click lands between two steps.
  await page.evaluate(() => new Promise((resolve) => {
    document.querySelector('[data-testid=sanity]').click();
    const cancel = () => {
      const button = document.querySelector('[data-testid=sanity-cancel]');
      if (button) resolve(button.click());
      else setTimeout(cancel, 5);
    };
    cancel();
  }));
  await settled(page, { after: before, timeout: 300_000 });
  assert.equal(await page.isHidden('[data-testid=sanity-progress]'), true);
  assert.equal(await page.isHidden('[data-testid=sanity-table]'), true, 'no check of this photo was finished');
  await runDemo(page, 'rocket');
  assert.ok((await text(page, 'prediction')).length > 0);
});

test('a contrast is explained, shared, and its link opens the compare view', { timeout: 600_000 }, async () => {
  await runDemo(page, 'chelsea');
  const logit = await canvasPixels(page, 'overlay');
  const before = await jobNumber(page);
  // Why an Egyptian cat and not a tabby (281, second in chelsea's top five).
  await page.selectOption('[data-testid=score]', 'versus-281');
  await settled(page, { after: before });
  assert.equal(await page.isHidden('[data-testid=error]'), true, await text(page, 'error'));
  const contrast = await canvasPixels(page, 'overlay');
  const changed = contrast.filter((v, i) => Math.abs(v - logit[i]) > 8).length / contrast.length;
  assert.ok(changed > 0.1, `the contrast repainted ${(100 * changed).toFixed(1)}% of the overlay's values`);
  const compared = await jobNumber(page);
  await page.click('[data-testid=compare]');
  await page.waitForSelector('[data-testid=compare-table]', { timeout: 120_000 });
  await page.$eval('[data-testid=compare-cancel]', (button) => button.click());
  await settled(page, { after: compared, timeout: 300_000 });
  const link = await page.getAttribute('[data-testid=share]', 'href');
  assert.match(link, /versus=281/);
  assert.match(link, /compare=1/);

  const opened = await openPage(browser, link);
  await opened.waitForSelector('[data-testid=compare-table]', { timeout: 300_000 });
  assert.equal(await opened.inputValue('[data-testid=score]'), 'versus-281');
  await opened.$eval('[data-testid=compare-cancel]', (button) => button.click()).catch(() => {});
  await opened.close();
});