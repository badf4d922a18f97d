// Loads a page in headless Chromium driven over --remote-debugging-pipe
// with no DevTools domain enabled, for the page-weight benchmark
// (report_weight.test.mjs). A Playwright page always has the Network domain
// on, and with it Chromium buffers the page's bytes for DevTools and decodes
// them once more when the load finishes; this is the page as a browser
// without DevTools attached loads it. Returns, per load, the page's state
// and its performance marks (ms from navigation) when body[data-state]
// turns "ready" or "error".
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export async function plainLoads(chromiumPath, file, count) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'convergent-plain-'));
  const chrome = spawn(chromiumPath, ['--headless', '--no-sandbox', '--disable-gpu', '--remote-debugging-pipe',
    '--user-data-dir=' + profile, 'about:blank'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
  const toChrome = chrome.stdio[3], fromChrome = chrome.stdio[4];
  let id = 0, buffer = '';
  const pending = new Map();
  const exited = new Promise((resolve) => chrome.once('exit', resolve));
  exited.then(() => {
    for (const [, reject] of pending.values()) reject(new Error('Chromium exited'));
    pending.clear();
  });
  fromChrome.on('data', (chunk) => {
    buffer += chunk.toString('utf8');
    let end;
    while ((end = buffer.indexOf('\0')) >= 0) {
      const message = JSON.parse(buffer.slice(0, end));
      buffer = buffer.slice(end + 1);
      if (message.id && pending.has(message.id)) {
        const [resolve, reject] = pending.get(message.id);
        pending.delete(message.id);
        if (message.error) reject(new Error(message.error.message)); else resolve(message.result);
      }
    }
  });
  const send = (method, params = {}, sessionId) => new Promise((resolve, reject) => {
    const k = ++id;
    pending.set(k, [resolve, reject]);
    toChrome.write(JSON.stringify({ id: k, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
  });
  const out = [];
  try {
    for (let i = 0; i < count; i++) {
      const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
      const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
      await send('Emulation.setDeviceMetricsOverride', { width: 1400, height: 1000, deviceScaleFactor: 1, mobile: false }, sessionId);
      await send('Page.navigate', { url: pathToFileURL(file).href }, sessionId);
      const r = await send('Runtime.evaluate', { awaitPromise: true, returnByValue: true, expression: `new Promise((resolve) => {
        const marks = () => Object.fromEntries(performance.getEntriesByType('mark').filter((m) => m.name.startsWith('convergent:'))
          .map((m) => [m.name.slice(11), Math.round(m.startTime)]));
        const done = () => document.body && /^(ready|error)$/.test(document.body.dataset.state);
        const finish = () => resolve({ state: document.body.dataset.state, marks: marks() });
        if (done()) { finish(); return; }
        const watch = new MutationObserver(() => { if (done()) { watch.disconnect(); finish(); } });
        watch.observe(document, { attributes: true, subtree: true, attributeFilter: ['data-state'] });
      })` }, sessionId);
      out.push(r.result.value);
      await send('Target.closeTarget', { targetId });
    }
  } finally {
    chrome.kill();
    await exited;
    fs.rmSync(profile, { recursive: true, force: true });
  }
  return out;
}
