// A visitor's own model converted in the page (CPU fallback, Debian's headless Chromium), timed
// from picking the file to the model in use, with the conversion's own time (the page's
// `data-ms`) and each step the page names on the way. Each run in a fresh profile (nothing kept
// from the last). Prints one JSON line. Not part of `cargo xtask bench`: it needs a model file.
//
// node bench/web/convert.mjs FILE [--runs 3]
// (XAI_DIST=dir times another build, as in the e2e tests.)
import { statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { launch, openPage, serveDist } from '../../tests/e2e/harness.mjs';

const model = process.argv[2];
if (!model) throw new Error('usage: node bench/web/convert.mjs FILE [--runs N]');
const runs = Number(process.argv.includes('--runs') ? process.argv[process.argv.indexOf('--runs') + 1] : 3);
const bytes = statSync(model).size;
const name = basename(model);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const { server, origin } = await serveDist();
const browser = await launch({ webgpu: false });
const results = [];
try {
  for (let run = 0; run < runs; run++) {
    const page = await openPage(browser, origin);
    await page.waitForSelector('[data-testid=demo-chelsea]:not([disabled])', { timeout: 300_000 });
    // Each step's first sight, by the page's own clock, from the moment the file is picked.
    await page.evaluate(() => {
      window.steps = [];
      new MutationObserver(() => {
        const line = document.querySelector('[data-testid=conversion]')?.textContent.trim();
        const model = document.querySelector('[data-testid=model-name]')?.textContent.trim();
        for (const step of [line, model && `model: ${model}`]) {
          if (step && !window.steps.some((s) => s.step === step)) window.steps.push({ step, ms: performance.now() - window.picked });
        }
      }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    // By path: playwright takes no buffer over 50 MB.
    await page.setInputFiles('[data-testid=model-file]', resolve(model));
    await page.evaluate(() => { window.picked = performance.now(); });
    await page.click('[data-testid=add-model]');
    await page.waitForFunction((name) => document.querySelector('[data-testid=model-name]')?.textContent.includes(name)
      && ['done', 'idle'].includes(document.querySelector('[data-testid=status]')?.textContent), name,
    { timeout: 600_000, polling: 50 });
    const total = await page.evaluate(() => performance.now() - window.picked);
    const conversion = Number(await page.getAttribute('[data-testid=conversion]', 'data-ms'));
    const steps = await page.evaluate(() => window.steps.map(({ step, ms }) => `${Math.round(ms)} ms: ${step}`));
    results.push({ total_ms: Math.round(total), conversion_ms: conversion, steps });
    await page.context().close();
  }
  const totals = results.map((r) => r.total_ms);
  const conversions = results.map((r) => r.conversion_ms);
  console.log(JSON.stringify({ file: name, bytes, runs,
    pick_to_in_use_ms: { median: median(totals), min: Math.min(...totals), max: Math.max(...totals) },
    conversion_ms: { median: median(conversions), min: Math.min(...conversions), max: Math.max(...conversions) },
    steps_of_last_run: results.at(-1).steps }));
} finally {
  await browser.close();
  server.close();
}
