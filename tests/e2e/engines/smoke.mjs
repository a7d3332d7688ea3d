// A short smoke test of the page in another browser engine, on the CPU fallback (neither offers
// WebGPU here): `node engines/smoke.mjs firefox|webkit`, from tests/e2e. Firefox is Debian's
// firefox-esr driven by puppeteer-core (WebDriver BiDi); WebKit is Debian's WebKitWebDriver with
// the MiniBrowser of webkit2gtk-4.1 under Xvfb, spoken to in plain W3C WebDriver over HTTP.
// Not a *.test.mjs file: `node --test .` (Chromium only) leaves it alone. Prints one line per
// step; exits 0, or 1 with a one-line reason. SMOKE_TIMEOUT_S bounds the whole run (240 s).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { serveDist } from '../harness.mjs';

const started = Date.now();
const seconds = (since) => ((Date.now() - since) / 1000).toFixed(1);
const engine = process.argv[2];

// Every process group started here (the browser's children with it) and the temporary files
// go when this process exits, however it exits: a hung driver must not outlive the run.
const groups = [];
const scratch = mkdtempSync(join(tmpdir(), 'xai-smoke-'));
process.on('exit', () => {
  for (const pid of groups) try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
  rmSync(scratch, { recursive: true, force: true });
});

function fail(reason) {
  console.log(`FAIL ${engine}: ${String(reason).replace(/\s+/g, ' ')}`);
  process.exit(1);
}
const limit = Number(process.env.SMOKE_TIMEOUT_S ?? 240);
setTimeout(() => fail(`the whole run took over ${limit} s`), limit * 1000);
// A signal skips exit handlers unless caught: catch it, so the browser goes too.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => fail(`stopped by ${signal}`));

/** Everything the steps read from the page, in one round trip (a WebDriver call is an HTTP request). */
const PAGE_STATE = () => {
  const find = (id) => document.querySelector(`[data-testid=${id}]`);
  const error = find('error');
  // A painted overlay has more than one colour; an empty or cleared canvas has one.
  const overlay = find('overlay');
  let painted = false;
  if (overlay?.width) {
    const data = overlay.getContext('2d').getImageData(0, 0, overlay.width, overlay.height).data;
    for (let i = 4; i < data.length && !painted; i += 4) {
      painted = data[i] !== data[0] || data[i + 1] !== data[1] || data[i + 2] !== data[2] || data[i + 3] !== data[3];
    }
  }
  return {
    status: find('status')?.textContent, job: Number(find('status')?.dataset.job ?? -1),
    backend: find('backend')?.textContent, enabled: find('upload')?.disabled === false,
    prediction: find('prediction')?.textContent ?? '', share: find('share')?.getAttribute('href') ?? '',
    error: error && !error.hidden ? error.textContent : '', painted,
  };
};

/** Polls the page until `ok(state)` holds; `ok` may throw to fail at once. */
async function until(driver, what, ok, timeout = 60_000) {
  const end = Date.now() + timeout;
  for (;;) {
    const state = await driver.eval(PAGE_STATE);
    if (ok(state)) return state;
    if (Date.now() > end) throw new Error(`${what} took over ${timeout / 1000} s; the page shows ${JSON.stringify(state)}`);
    await sleep(250);
  }
}

const idle = (state) => ['done', 'idle'].includes(state.status);
/** A job numbered above `job` finished with a prediction and a painted overlay. An error shown
 *  before that job started is the last photo's, cleared when the new one comes in. */
const explained = (job) => (state) => {
  if (state.job > job && state.error) throw new Error(`the page says: ${state.error}`);
  return state.job > job && idle(state) && state.prediction !== '' && state.painted;
};

/** Opens `url` until its model is loaded, failing at once on an error the page shows. WebKitGTK
 *  2.50's JIT traps now and then in correct code ("Out of bounds memory access", about one load
 *  in 300 since the page hashes the weights with sha2's compact rounds, the same bytes loading
 *  fine the next time): an engine fault, so that one error reloads the page once, and says so. */
async function openLoaded(driver, url, what, loaded) {
  for (let attempt = 1; ; attempt++) {
    await driver.open(url);
    try {
      return await until(driver, what, (state) => {
        if (state.error) throw new Error(`the page says: ${state.error}`);
        return loaded(state);
      }, 120_000);
    } catch (error) {
      if (attempt > 1 || !/RuntimeError: Out of bounds memory access/.test(error.message)) throw error;
      console.log(`${engine}: the engine trapped (${error.message}); once more`);
    }
  }
}

async function demo(driver, name) {
  const { job } = await until(driver, 'the demos to be enabled', (state) => state.enabled && idle(state));
  await driver.click(`[data-testid=demo-${name}]`);
  return until(driver, `the ${name} demo to be explained`, explained(job));
}

/** Where ImageNet keeps its house cats. */
const CATS = ['tabby', 'tiger cat', 'Persian cat', 'Siamese cat', 'Egyptian cat'];

/** The e2e essentials, the same for every engine; each returns what its line reports. */
async function steps(driver, origin) {
  let cat;
  return [
    ['open the page', async () => {
      const state = await openLoaded(driver, origin, 'the model to load', (state) => state.enabled && idle(state));
      return `backend ${state.backend}, status ${state.status}`;
    }],
    ['explain a demo photo', async () => `coffee: ${(await demo(driver, 'coffee')).prediction}`],
    ['upload a photo', async () => {
      const { job } = await driver.eval(PAGE_STATE);
      await driver.upload('[data-testid=upload]', new URL('../../fixtures/images/chelsea.png', import.meta.url).pathname);
      cat = (await until(driver, 'chelsea.png to be explained', explained(job))).prediction;
      if (!CATS.includes(cat)) throw new Error(`chelsea.png was taken for "${cat}", not a cat`);
      return `chelsea.png: ${cat}`;
    }],
    ['open its share link', async () => {
      const { share } = await driver.eval(PAGE_STATE);
      if (!share.startsWith(origin) || !share.includes('photo=jpeg:')) throw new Error(`odd share link: ${share}`);
      const { prediction } = await openLoaded(driver, share, 'the shared photo to be explained', explained(-1));
      if (prediction !== cat) throw new Error(`the shared link shows "${prediction}", the page "${cat}"`);
      return `new tab shows ${prediction}`;
    }],
    ['refuse a bad file, then still explain', async () => {
      const notes = join(scratch, 'notes.jpg');
      writeFileSync(notes, 'not a photo at all');
      await driver.upload('[data-testid=upload]', notes);
      const { error } = await until(driver, 'an error for notes.jpg', (state) => state.error !== '');
      if (!error.includes('not a supported image')) throw new Error(`notes.jpg got "${error}"`);
      return `"${error}", then rocket: ${(await demo(driver, 'rocket')).prediction}`;
    }],
    ['ask nothing of other origins', async () => {
      const requests = driver.requests();
      // WebDriver shows no requests; the server only ever sees its own origin's.
      if (!requests) return 'not observable in this engine';
      const foreign = requests.filter((url) => !url.startsWith(origin) && !/^(data|blob):/.test(url));
      if (foreign.length) throw new Error(`requests outside ${origin}: ${foreign.join(' ')}`);
      return `all ${requests.length} requests to ${origin}`;
    }],
  ];
}

/** Firefox through puppeteer-core, over WebDriver BiDi. */
async function firefox() {
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({ browser: 'firefox', headless: true,
    executablePath: process.env.FIREFOX ?? '/usr/bin/firefox-esr' });
  groups.push(browser.process().pid); // puppeteer starts it detached: a group of its own
  const requests = [];
  let page;
  return {
    async open(url) {
      page = await browser.newPage();
      page.on('request', (request) => requests.push(request.url()));
      await page.goto(url);
    },
    click: (selector) => page.click(selector),
    upload: async (selector, path) => (await page.$(selector)).uploadFile(path),
    eval: (fn) => page.evaluate(fn),
    requests: () => requests,
    close: () => browser.close(),
  };
}

const MINIBROWSER = process.env.MINIBROWSER ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

/** A free loopback port (WebKitWebDriver needs one named). */
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** WebKitGTK's MiniBrowser through WebKitWebDriver, on a display of its own. */
async function webkit() {
  // -displayfd: Xvfb picks a free display and writes its number to fd 3.
  const xvfb = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'],
    { stdio: ['ignore', 'ignore', 'ignore', 'pipe'], detached: true });
  groups.push(xvfb.pid);
  const display = await new Promise((resolve, reject) => {
    let text = '';
    xvfb.stdio[3].on('data', (chunk) => { text += chunk; if (text.includes('\n')) resolve(text.trim()); });
    xvfb.on('exit', (code) => reject(new Error(`Xvfb exited (${code})`)));
  });
  const port = await freePort();
  const driver = spawn('WebKitWebDriver', [`--port=${port}`],
    { env: { ...process.env, DISPLAY: `:${display}` }, stdio: 'ignore', detached: true });
  groups.push(driver.pid);
  const base = `http://127.0.0.1:${port}`;
  for (let tries = 0; !(await fetch(`${base}/status`).then((r) => r.ok, () => false)); tries++) {
    if (tries > 100) throw new Error('WebKitWebDriver did not start');
    await sleep(100);
  }
  const call = async (method, path, body) => {
    const response = await fetch(base + path, { method, headers: { 'content-type': 'application/json' },
      body: body && JSON.stringify(body) });
    const { value } = await response.json();
    if (!response.ok) throw new Error(`WebDriver ${method} ${path}: ${value?.error}: ${value?.message}`);
    return value;
  };
  const { sessionId } = await call('POST', '/session', { capabilities: { alwaysMatch: {
    'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] } } } });
  const session = `/session/${sessionId}`;
  // An element reference is an object with one key (the W3C element identifier).
  const element = async (selector) =>
    Object.values(await call('POST', `${session}/element`, { using: 'css selector', value: selector }))[0];
  let opened = false;
  return {
    async open(url) {
      if (opened) {
        const { handle } = await call('POST', `${session}/window/new`, { type: 'tab' });
        await call('POST', `${session}/window`, { handle });
      }
      opened = true;
      await call('POST', `${session}/url`, { url });
    },
    click: async (selector) => call('POST', `${session}/element/${await element(selector)}/click`, {}),
    // A file input takes the file's path as typed keys.
    upload: async (selector, path) => call('POST', `${session}/element/${await element(selector)}/value`, { text: path }),
    eval: (fn) => call('POST', `${session}/execute/sync`, { script: `return (${fn})()`, args: [] }),
    requests: () => null,
    close: () => call('DELETE', session),
  };
}

const engines = { firefox, webkit };
if (!engines[engine]) fail(`usage: node engines/smoke.mjs ${Object.keys(engines).join('|')}`);

const { server, origin } = await serveDist();
let driver, step = 'start the browser';
try {
  driver = await engines[engine]();
  console.log(`${engine}: browser started (${seconds(started)} s)`);
  const list = await steps(driver, origin);
  for (const [i, [name, run]] of list.entries()) {
    step = `${i + 1}/${list.length} ${name}`;
    const since = Date.now();
    const report = await run();
    console.log(`${engine}: ${step}: ${report} (${seconds(since)} s, total ${seconds(started)} s)`);
  }
} catch (error) {
  fail(`${step}: ${error.message}`);
}
// A polite close, briefly; the exit handler ends whatever lingers.
await Promise.race([driver.close(), sleep(5000)]).catch(() => {});
server.close();
console.log(`${engine}: passed in ${seconds(started)} s`);
process.exit(0);
