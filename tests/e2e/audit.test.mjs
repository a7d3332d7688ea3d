// The folder audit on the CPU fallback: a folder of the demo photos in the ImageFolder layout
// (with two mistakes, a file that is not a photo, a folder naming no class and one deeper than
// the layout), picked as a folder: the accuracy, a confused pair, a class's concept legend, the
// bad file and the notes; a photo opened from the report; the report downloaded as HTML and JSON
// lines. Then the same folder dropped on the panel (with ImageNet's own name for a class folder,
// and a subfolder that cannot be read), and a folder that cannot be read.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, copyFile, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCpuSite, settled, jobNumber, text, downloads, DIST } from './harness.mjs';

let site, page, folder;
before(async () => {
  ({ page } = site = await openCpuSite());
  folder = join(await mkdtemp(join(tmpdir(), 'xai-audit-')), 'photos');
  const put = async (path, demo) => {
    await mkdir(join(folder, path, '..'), { recursive: true });
    await copyFile(join(DIST, 'demo', `${demo}.png`), join(folder, path));
  };
  await put('Egyptian_cat/chelsea.png', 'chelsea');
  await put('espresso/coffee.png', 'coffee');
  // Mistakes: chelsea is an Egyptian cat to the network, not a tabby; the rocket no espresso.
  await put('tabby/chelsea.png', 'chelsea');
  await put('espresso/rocket.png', 'rocket');
  await put('astronaut.png', 'astronaut');
  await put('my photos/astronaut.png', 'astronaut');
  await writeFile(join(folder, 'espresso', 'notes.txt'), 'not a photo');
  await writeFile(join(folder, 'espresso', 'broken.png'), 'not a photo either');
  // Deeper than class/photo: noted by its folder, not counted among the files that are no photos.
  await mkdir(join(folder, 'Egyptian_cat', 'raw'));
  await writeFile(join(folder, 'Egyptian_cat', 'raw', 'notes.txt'), 'deeper');
});
after(async () => { await site?.close(); await rm(join(folder, '..'), { recursive: true, force: true }); });

const EGYPTIAN_CAT = 285;

/** Waits for the audit to finish, and reads what its report says. */
async function report(before) {
  await settled(page, { after: before, timeout: 500_000 });
  await page.waitForFunction(() => !document.querySelector('[data-testid=audit-cancel]'), null, { timeout: 500_000 });
  assert.equal(await page.isHidden('[data-testid=error]'), true, await text(page, 'error'));
  return {
    progress: await text(page, 'audit-progress'),
    accuracy: await text(page, 'audit-accuracy'),
    confusions: await page.$$eval('[data-testid=audit-confusions] tbody tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent))),
    concepts: await page.$$eval(`[data-testid=audit-concepts-${EGYPTIAN_CAT}] li`, (items) => items.map((i) => i.textContent)),
    regions: await page.$$eval(`[data-testid=audit-concepts-${EGYPTIAN_CAT}] img`, (images) => images.length),
    notes: await text(page, 'audit-notes'),
  };
}

function check(found) {
  console.log(`audit: ${found.progress} | ${found.accuracy}`);
  assert.match(found.accuracy, /^7 photos, 4 with a true class from their folder, 1 could not be read\. Accuracy 50\.0%/);
  assert.deepEqual(found.confusions[0], ['tabby', 'Egyptian cat', '1']);
  // Two photos taken for an Egyptian cat: three concepts they share, each with its region.
  assert.equal(found.concepts.length, 3, found.concepts.join(' | '));
  assert.ok(found.concepts.every((c) => / · \d+% of the photos, strongest in /.test(c)), found.concepts.join(' | '));
  assert.equal(found.regions, 3);
  assert.match(found.notes, /espresso\/broken\.png: /);
  assert.match(found.notes, /1 file not named as photos .* left out, such as 'espresso\/notes\.txt'/);
  assert.match(found.notes, /folder 'my photos' names no class/);
  assert.match(found.notes, /folder 'Egyptian_cat\/raw' is deeper than class\/photo: skipped/);
}

test('a picked folder is classified, scored, explained and exported', { timeout: 600_000 }, async () => {
  await page.waitForSelector('[data-testid=audit-folder]:not([disabled])', { timeout: 600_000 });
  const before = await jobNumber(page);
  await page.setInputFiles('[data-testid=audit-folder]', folder);
  const found = await report(before);
  check(found);
  assert.match(found.progress, /7 photos of photos classified in [\d.]+ s \([\d.]+ photos\/s\)/);

  // The report as `xai audit` writes it: HTML with the pictures inline, one JSON object per photo.
  const html = await downloads(page, () => page.click('[data-testid=audit-html]'), 1);
  const saved = html['xai-lens-audit.html'].toString();
  assert.match(saved, /Accuracy 50\.0%/);
  assert.match(saved, /What the photos of each class share/);
  assert.ok((saved.match(/data:image\/png;base64,/g) ?? []).length >= 5, 'overlays and regions inline');
  // Offline, its table sorts by a clicked heading (numbers as numbers, a second click the other
  // way), filters by the text typed, whatever the case, and draws the first 200 rows.
  const offline = await page.context().newPage();
  const errors = [];
  offline.on('pageerror', (error) => errors.push(String(error)));
  await offline.setContent(saved);
  const column = (i) => offline.$$eval('#photos tbody tr:not([hidden])', (rows, i) => rows.map((r) => r.cells[i].textContent), i);
  await offline.click('#photos th >> text=probability');
  const up = (await column(3)).map(Number);
  assert.ok(up.length === 6 && up.every((p, i) => i === 0 || up[i - 1] <= p), `ascending: ${up}`);
  await offline.click('#photos th >> text=probability');
  assert.deepEqual((await column(3)).map(Number), [...up].reverse());
  // Another column starts the other way round again: paths as text, ascending.
  await offline.click('#photos th >> text=photo');
  const paths = await column(0);
  assert.deepEqual(paths, [...paths].sort(), `ascending: ${paths}`);
  await offline.fill('#filter', 'ESPRESSO');
  const rows = await offline.$$eval('#photos tbody tr:not([hidden])', (rows) => rows.map((r) => r.textContent));
  assert.ok(rows.length >= 2 && rows.every((r) => r.includes('espresso')), rows.join(' | '));
  assert.equal(await offline.textContent('#matching'), `${rows.length} photos`);
  // Hundreds of photos: the first 200 drawn, all of them counted.
  await offline.evaluate(() => { for (let i = 0; i < 300; i++) all.push([`more/${i}.png`, '', 'x', '0.5000', '']); });
  await offline.fill('#filter', '');
  assert.equal((await column(0)).length, 200);
  assert.equal(await offline.textContent('#matching'), '306 photos, the first 200 shown');
  assert.deepEqual(errors, []);
  await offline.close();
  const json = await downloads(page, () => page.click('[data-testid=audit-json]'), 1);
  const lines = json['xai-lens-audit.jsonl'].toString().trim().split('\n').map((line) => JSON.parse(line));
  assert.deepEqual(lines.map((l) => l.path), ['Egyptian_cat/chelsea.png', 'astronaut.png', 'espresso/broken.png',
    'espresso/coffee.png', 'espresso/rocket.png', 'my photos/astronaut.png', 'tabby/chelsea.png']);
  assert.equal(lines[0].top5[0].class, EGYPTIAN_CAT);
  assert.equal(lines[0].map.values.length, 49, 'Grad-CAM at layer4 from the classifying pass');

  // A photo of the report opens in the single-photo view, explained like any other.
  const opened = await jobNumber(page);
  await page.click('[data-testid=audit-table] button.open >> text=espresso/coffee.png');
  await settled(page, { after: opened });
  assert.match(await page.textContent('[data-testid=top5]'), /espresso/);
  // Brought into sight: the table is far below the single-photo view.
  assert.ok(await page.evaluate(() => {
    const { top, bottom } = document.getElementById('result-title').getBoundingClientRect();
    return top > -1 && bottom < innerHeight + 1;
  }), 'the opened photo is in view');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'result-title', 'the keyboard follows it');
  assert.deepEqual(page.uploads, [], 'nothing left the page');
});

// A drop of a folder hands the page directory entries (webkitGetAsEntry), which neither
// Playwright nor CDP can put in a synthetic drop. So the page's own drop handler, traversal and
// audit run on a drop whose item answers webkitGetAsEntry with entries in the shape the browser
// gives (name, isDirectory, createReader().readEntries, file), over the same files.
async function dropFolder(tree, { unreadable = [] } = {}) {
  await page.evaluate(async ({ tree, unreadable }) => {
    const later = (callback, value) => setTimeout(() => callback(value));
    const file = async (name, demo) => demo
      ? new File([await (await fetch(`demo/${demo}.png`)).blob()], name, { type: 'image/png' })
      : new File(['not a photo'], name, { type: 'text/plain' });
    const entry = async (name, node) => {
      if (typeof node === 'string' || node === null) {
        const content = await file(name, node);
        return { name, isDirectory: false, isFile: true, file: (ok) => later(ok, content) };
      }
      const children = await Promise.all(Object.entries(node).map(([n, child]) => entry(n, child)));
      const createReader = () => {
        let read = false;
        return {
          readEntries: (ok, failed) => unreadable.includes(name) ? later(failed, new DOMException('A requested file or directory could not be found', 'NotFoundError'))
            : later(ok, read ? [] : (read = true, children)),
        };
      };
      return { name, isDirectory: true, isFile: false, createReader };
    };
    const folder = await entry('photos', tree);
    const transfer = new DataTransfer();
    transfer.items.add(new File([''], 'photos'));
    DataTransferItem.prototype.webkitGetAsEntry = () => folder;
    const target = document.querySelector('[data-testid=audit-drop]');
    target.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }, { tree, unreadable });
}

test('a dropped folder is read through its entries; one that cannot be read says so', { timeout: 600_000 }, async () => {
  await dropFolder({ tabby: {} }, { unreadable: ['photos'] });
  await page.waitForSelector('[data-testid=error]:not([hidden])', { timeout: 60_000 });
  assert.match(await text(page, 'error'), /^The dropped folder could not be read: .*could not be found/);

  const before = await jobNumber(page);
  await dropFolder({
    Egyptian_cat: { 'chelsea.png': 'chelsea', raw: { 'notes.txt': null } },
    espresso: { 'rocket.png': 'rocket', 'notes.txt': null, 'broken.png': null },
    // ImageNet's own folder name for espresso, as its val set is laid out.
    n07920052: { 'coffee.png': 'coffee' },
    tabby: { 'chelsea.png': 'chelsea' },
    'astronaut.png': 'astronaut',
    'my photos': { 'astronaut.png': 'astronaut' },
    // A subfolder the browser will not list is noted; the rest is audited.
    locked: { 'chelsea.png': 'chelsea' },
  }, { unreadable: ['locked'] });
  const found = await report(before);
  check(found);
  assert.match(found.notes, /folder 'locked' cannot be read: .*could not be found/);
  assert.match(found.progress, /7 photos of photos classified in /);
  assert.deepEqual(page.uploads, [], 'nothing left the page');
});
