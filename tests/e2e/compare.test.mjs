// The compare view on the CPU fallback: every one-pass method's overlay from one pass, each
// scored (drop, increase, deletion, insertion, ROAD), sorted by a score, and a cancel.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { openCpuSite, runDemo, settled, jobNumber, text } from './harness.mjs';

let site, page;
before(async () => ({ page } = site = await openCpuSite()));
after(() => site?.close());

const METHODS = ['gradcam', 'gradcam++', 'hirescam', 'xgradcam', 'layercam', 'eigencam', 'cam'];
const rows = () => page.$$eval('[data-testid^=compare-row-]', (rows) => rows.map((r) => r.dataset.testid.slice('compare-row-'.length)));
// Quoted: method names such as gradcam++ are not CSS identifiers.
const cell = (method, metric) => page.textContent(`[data-testid="score-${method}-${metric}"]`);
const score = async (method, metric) => Number(await cell(method, metric));

test('every method is compared from one pass, scored, and sorted by a score', { timeout: 1_200_000 }, async () => {
  await runDemo(page, 'coffee');
  const single = await page.textContent('.result .timings');
  const before = await jobNumber(page);
  const start = Date.now();
  await page.click('[data-testid=compare]');
  await page.waitForSelector('[data-testid=compare-table]', { timeout: 120_000 });
  // The first scoring step holds the thread after the maps are painted, so the test sees them late.
  console.log(`CPU fallback: ${await text(page, 'compare-maps-ms')} (one method: ${single}); the test saw them ${Date.now() - start} ms after the click`);
  assert.deepEqual(await rows(), METHODS);
  // Scored a few images a pass, with the progress shown between passes.
  await page.waitForFunction((sel) => /gradcam: [1-9]\d* of 49 images scored/.test(document.querySelector(sel)?.textContent ?? ''),
    '[data-testid=compare-progress]', { timeout: 120_000 });
  await settled(page, { after: before, timeout: 1_100_000 });
  console.log(`CPU fallback: the whole compare view with its scores in ${Date.now() - start} ms`);
  assert.equal(await page.isHidden('[data-testid=error]'), true, await text(page, 'error'));
  for (const method of METHODS) {
    const [drop, deletion, insertion, road] = await Promise.all(['drop', 'deletion', 'insertion', 'road'].map((m) => score(method, m)));
    console.log(`${method}: drop ${drop}, deletion ${deletion}, insertion ${insertion}, ROAD ${road}`);
    assert.ok(drop >= 0 && drop <= 100, `${method}: drop ${drop}`);
    // As natively (crates/cli/tests/reference_maps.rs): removing what the map highlights hurts
    // more than keeping it, by every measure.
    assert.ok(insertion > deletion + 0.2, `${method}: deletion ${deletion}, insertion ${insertion}`);
    assert.ok(road > 0, `${method}: ROAD ${road}`);
    assert.ok(['yes', 'no'].includes(await cell(method, 'increase')));
  }
  // At layer4 HiResCAM, XGradCAM and CAM are Grad-CAM's map up to a factor: scored once.
  for (const method of ['hirescam', 'xgradcam', 'cam']) {
    assert.equal(await text(page, `time-${method}`), 'as gradcam');
    for (const metric of ['drop', 'deletion', 'insertion', 'road']) {
      assert.equal(await score(method, metric), await score('gradcam', metric), `${method} ${metric}`);
    }
  }
  const explanation = await page.getAttribute('th:has([data-testid=sort-deletion])', 'title');
  assert.ok(explanation.includes('lower is better'), explanation);
  await page.click('[data-testid=sort-deletion]');
  const order = await rows();
  const deletions = await Promise.all(order.map((m) => score(m, 'deletion')));
  assert.deepEqual(deletions, [...deletions].sort((a, b) => a - b), `sorted by deletion: ${order} ${deletions}`);
  await page.click('[data-testid=sort-insertion]');
  const insertions = await Promise.all((await rows()).map((m) => score(m, 'insertion')));
  assert.deepEqual(insertions, [...insertions].sort((a, b) => b - a), `sorted by insertion: ${insertions}`);
});

test('Ablation-CAM and Score-CAM join on request, with their progress, and stop on cancel', { timeout: 900_000 }, async () => {
  // The coffee comparison of the test above is still shown.
  const before = await jobNumber(page);
  await page.click('[data-testid=compare-own]');
  // Ablation-CAM at layer4 runs only the FC head on its ablated copies: seconds. Then its scores.
  await page.waitForSelector('[data-testid="compare-row-ablationcam"]', { timeout: 300_000 });
  const road = '[data-testid="score-ablationcam-road"]';
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent !== '…', road, { timeout: 300_000 });
  // Score-CAM: 2,048 masked photos, its progress shown a batch at a time; cancelled.
  const progress = '[data-testid=compare-progress]';
  await page.waitForFunction((sel) => /scorecam: [1-9]\d* of 2048 channels scored/.test(document.querySelector(sel)?.textContent ?? ''),
    progress, { timeout: 300_000 });
  console.log(`CPU fallback: ${await page.textContent(progress)}; ${await text(page, 'compare-maps-ms')}`);
  await page.$eval('[data-testid=compare-cancel]', (button) => button.click());
  await settled(page, { after: before, timeout: 300_000 });
  // Still sorted by insertion, as the test above left it.
  assert.deepEqual((await rows()).sort(), [...METHODS, 'ablationcam'].sort());
  const [deletion, insertion] = await Promise.all(['deletion', 'insertion'].map((m) => score('ablationcam', m)));
  console.log(`ablationcam: deletion ${deletion}, insertion ${insertion}, ROAD ${await score('ablationcam', 'road')}`);
  assert.ok(insertion > deletion + 0.2, `ablationcam: deletion ${deletion}, insertion ${insertion}`);
  assert.match(await text(page, 'compare-maps-ms'), /ablationcam in [\d.]+ s/);
  assert.equal(await page.textContent('[data-testid=compare-own]'), 'Add scorecam');
});

test('a comparison can be cancelled, and the page goes on', { timeout: 600_000 }, async () => {
  await runDemo(page, 'chelsea');
  const before = await jobNumber(page);
  // From the keyboard: the focus goes from the disabled button to Cancel, and back.
  const focused = (id) => page.waitForFunction((id) => document.activeElement?.dataset.testid === id, id, { timeout: 60_000 });
  await page.focus('[data-testid=compare]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=compare-cancel]', { timeout: 120_000 });
  await focused('compare-cancel');
  await page.waitForSelector('[data-testid=compare-table]', { timeout: 120_000 });
  // Scoring holds the page's thread for seconds at a time, between which a click is taken: one
  // dispatched click, as a visitor's, not Playwright's several round trips.
  await page.$eval('[data-testid=compare-cancel]', (button) => button.click());
  await settled(page, { after: before, timeout: 300_000 });
  assert.equal(await page.isHidden('[data-testid=compare-progress]'), true);
  await focused('compare');
  // Some methods were never scored, and the view says so rather than showing numbers.
  assert.equal(await cell('cam', 'road'), '…');
  await runDemo(page, 'rocket');
  assert.ok((await text(page, 'prediction')).length > 0);
});
