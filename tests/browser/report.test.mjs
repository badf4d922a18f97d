// Browser test of `convergent report`: builds results fixtures with
// make_fixture.py, writes report pages with the CLI and checks them in
// headless Chromium from file:// (panels drawn, "not computed" notes, layer and
// pair switching, hover read-outs against the .npy values, crafted net names
// shown as text, malformed data reported in the page). Screenshots go to
// $CONVERGENT_SCREENSHOT_DIR.
//
//   CONVERGENT_CLI=build/cli/convergent node --test tests/browser/report.test.mjs
//
// Environment: CONVERGENT_CLI (a binary taking `report DIR [--out FILE]`;
// required), CONVERGENT_PYTHON (default /usr/bin/python3, needs numpy and
// scipy), CONVERGENT_CHROMIUM (default /usr/bin/chromium),
// CONVERGENT_SCREENSHOT_DIR (default: a new temporary directory).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { BLOB_RE, DATA_RE, readPage, withPayload } from './payload.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = process.env.CONVERGENT_CLI;
const PYTHON = process.env.CONVERGENT_PYTHON || '/usr/bin/python3';
const CHROMIUM = process.env.CONVERGENT_CHROMIUM || '/usr/bin/chromium';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'convergent-browser-'));
const shots = process.env.CONVERGENT_SCREENSHOT_DIR || path.join(work, 'screenshots');
fs.mkdirSync(shots, { recursive: true });

const PLOT_PANELS = ['fig3', 'mi', 'sparse', 'fig14', 'mean_activation'];
// cycle (core vs rare units) draws only on conv1, the one fixture layer with cycle_consistency.
const HEATMAP_PANELS = ['within_a', 'within_b', 'between', 'matched', 'clusters'];
const CRAFTED = ['<img src=x onerror=window.__pwned=1>', '</script><script>window.__pwned=2</script>'];

let browser;
const fixture = path.join(work, 'results');
const crafted = path.join(work, 'crafted');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return r;
}

function makeFixture(dir, ...flags) {
  const r = run(PYTHON, [path.join(here, 'make_fixture.py'), dir, ...flags]);
  assert.equal(r.status, 0, 'make_fixture.py failed: ' + r.stderr);
}

function report(dir, ...extra) {
  return run(CLI, ['report', dir, ...extra]);
}

// float32/float64 C-order .npy -> {shape, at(r, c)}
function readNpy(file) {
  const buf = fs.readFileSync(file);
  assert.equal(buf.subarray(1, 6).toString('latin1'), 'NUMPY');
  const major = buf[6];
  const headerLength = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.subarray(start, start + headerLength).toString('latin1');
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const descr = header.match(/'descr':\s*'([^']*)'/)[1];
  const data = buf.subarray(start + headerLength);
  const size = descr === '<f8' ? 8 : 4;
  const cols = shape[shape.length - 1];
  return {
    shape,
    at: (r, c) => (size === 8 ? data.readDoubleLE((r * cols + c) * 8) : data.readFloatLE((r * cols + c) * 4)),
  };
}

// Reads and rewrites the data block of a report page (payload.mjs).
function readPayload(html) {
  return readPage(html).payload;
}
const b64 = (text) => Buffer.from(text, 'utf8').toString('base64');

// Opens a page; collects page errors and every request that is not file:/data:.
async function open(file, { expectState = 'ready' } = {}) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  const requests = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // A Content-Security-Policy refusal (a script or style of the page itself
  // that the policy does not allow) is an error too.
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) errors.push('CSP: ' + m.text());
  });
  page.on('request', (r) => {
    if (!/^(file|data|blob):/.test(r.url())) requests.push(r.url());
  });
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 30000 });
  // `ready` comes when the panels of the first screen are drawn; the rest
  // are drawn right after it (body[data-drawn="all"]), and the checks below
  // look at every panel.
  if (await page.evaluate(() => document.body.dataset.state === 'ready')) {
    await page.waitForSelector('body[data-drawn="all"]', { timeout: 30000 });
  }
  // A switch to a layer or pair whose files are not decoded yet draws once
  // they are (DecompressionStream is asynchronous): wait for that.
  const select = page.selectOption.bind(page);
  page.selectOption = async (...args) => {
    const chosen = await select(...args);
    await page.waitForFunction(() => document.body.dataset.loading !== '1');
    return chosen;
  };
  assert.equal(await page.evaluate(() => document.body.dataset.state), expectState,
    'page state; fatal: ' + (await page.evaluate(() => document.getElementById('fatal').textContent)));
  return { page, errors, requests };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, name + '.png'), fullPage: true });
}

// Per panel: status, note text, and for each canvas how many distinct colours
// and non-background pixels it has.
async function panels(page) {
  return page.evaluate(() => {
    const out = {};
    for (const section of document.querySelectorAll('section.panel')) {
      const note = section.querySelector('.note');
      const canvases = [...section.querySelectorAll('.body canvas')].map((c) => {
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const colours = new Set();
        let ink = 0;
        for (let i = 0; i < data.length; i += 4) {
          const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
          colours.add(key);
          if (key !== 0xffffff) ink++;
        }
        return { width: c.width, height: c.height, colours: colours.size, ink, heatmap: c.classList.contains('heatmap') };
      });
      out[section.dataset.panel] = {
        status: section.dataset.status,
        note: note.hidden ? '' : note.textContent,
        canvases,
        text: section.querySelector('.body').textContent,
      };
    }
    return out;
  });
}

function assertDrawn(p, name) {
  assert.equal(p[name].status, 'ok', name + ': ' + p[name].note);
  assert.ok(p[name].canvases.length >= 1, name + ' has no canvas');
  const main = p[name].canvases[0];
  assert.ok(main.colours >= 3, name + ' canvas looks blank (' + main.colours + ' colours)');
  assert.ok(main.ink > main.width * main.height * 0.01, name + ' canvas has almost no ink');
}

// Moves the pointer to the centre of cell (row, col) of a panel's heatmap and
// returns the tooltip's text.
async function hoverCell(page, panelName, row, col) {
  const canvas = page.locator('section[data-panel="' + panelName + '"] canvas.heatmap');
  const geometry = await canvas.evaluate((c) => ({ w: c.clientWidth, h: c.clientHeight }));
  const info = await canvas.evaluate((c) => c.closest('section').querySelector('.caption').textContent);
  const [rows, cols] = info.match(/(\d+) × (\d+)/).slice(1).map(Number);
  await canvas.hover({ position: { x: ((col + 0.5) / cols) * geometry.w, y: ((row + 0.5) / rows) * geometry.h } });
  await page.waitForSelector('#tooltip:not([hidden])');
  return page.locator('#tooltip').innerText();
}

function tooltipValue(text) {
  const m = text.match(/value: (\S+)/);
  assert.ok(m, 'no value in tooltip: ' + text);
  return Number(m[1]);
}

function assertClose(actual, expected, what) {
  assert.ok(Math.abs(actual - expected) <= 1e-5 * Math.max(1, Math.abs(expected)),
    what + ': ' + actual + ' != ' + expected);
}

before(async () => {
  assert.ok(CLI, 'set CONVERGENT_CLI to a binary that takes `report DIR`');
  makeFixture(fixture);
  makeFixture(crafted, '--crafted');
  for (const dir of [fixture, crafted]) {
    // float32 matrices, so the hover read-outs below match the .npy to 1e-5
    // (the default fixed-point pages: report_weight.test.mjs).
    const r = report(dir, '--full-precision');
    assert.equal(r.status, 0, 'convergent report failed: ' + r.stderr);
    assert.match(r.stdout, /wrote .*report\.html/);
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  if (browser) await browser.close();
  console.log('screenshots in ' + shots);
});

test('report command: output file, errors name summary.json', () => {
  const html = fs.readFileSync(path.join(fixture, 'report.html'), 'utf8');
  assert.ok(!/<script[^>]*\ssrc=/i.test(html), 'page loads an external script');
  assert.ok(!/<link[^>]*href=/i.test(html), 'page loads an external stylesheet');
  const payload = readPayload(html);
  assert.equal(payload.format, 'convergent-report');
  assert.ok('conv1/net1~net2.corr.npy' in payload.files);
  // Fig. 1d is rebuilt in the page: the *_matched.npy copies stay out.
  assert.ok(fs.existsSync(path.join(fixture, 'conv1/net1~net2.corr_matched.npy')));
  assert.ok(!('conv1/net1~net2.corr_matched.npy' in payload.files));
  assert.deepEqual(Object.keys(payload.files).filter((f) => f.endsWith('_matched.npy')), []);
  assert.ok('conv2/net2~net2.mi.npy' in payload.files);
  assert.equal(Object.keys(payload.files).length, 30);

  const out = path.join(work, 'custom.html');
  const custom = report(fixture, '--out', out);
  assert.equal(custom.status, 0, custom.stderr);
  assert.ok(fs.statSync(out).size > 100000);

  const empty = fs.mkdtempSync(path.join(work, 'empty-'));
  const missing = report(empty);
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /summary\.json/);
  assert.ok(!fs.existsSync(path.join(empty, 'report.html')));

  fs.writeFileSync(path.join(empty, 'summary.json'), '{"schema_version": 1, "nets": [');
  const malformed = report(empty);
  assert.notEqual(malformed.status, 0);
  assert.match(malformed.stderr, /summary\.json.*not valid JSON/);
  assert.deepEqual(fs.readdirSync(empty), ['summary.json'], 'no half-written output left behind');

  fs.writeFileSync(path.join(empty, 'summary.json'), '{"schema_version": 7, "nets": ["a"], "layers": {}}');
  const future = report(empty);
  assert.notEqual(future.status, 0);
  assert.match(future.stderr, /schema_version 7/);

  const usage = run(CLI, ['report']);
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /usage: convergent report/);
});

test('the Content-Security-Policy runs only the page\'s own scripts', async () => {
  const html = fs.readFileSync(path.join(fixture, 'report.html'), 'utf8');
  const policy = html.match(/<meta http-equiv="Content-Security-Policy"\s+content="([^"]*)"/)[1];
  assert.ok(!policy.includes("'unsafe-inline'"), policy);
  assert.ok(!policy.includes("'unsafe-eval'"), policy);
  assert.match(policy, /script-src [^;]*'sha256-/);
  // A script slipped into the page (as an injection would be) does not run,
  // while the page's own scripts do (state "ready", no CSP errors).
  const injected = path.join(work, 'injected.html');
  fs.writeFileSync(injected, html.replace('<footer>', '<script>window.__injected = 1</script><footer>'));
  const { page, errors } = await open(injected);
  assert.equal(await page.evaluate(() => window.__injected), undefined);
  assert.ok(errors.length >= 1 && errors.every((e) => e.startsWith('CSP: ')), errors.join('\n'));
  await page.close();
});

test('every panel draws for a fully analysed layer; Table 1 matches', async () => {
  const { page, errors, requests } = await open(path.join(fixture, 'report.html'));
  const p = await panels(page);
  for (const name of [...HEATMAP_PANELS, ...PLOT_PANELS, 'cycle']) assertDrawn(p, name);
  assert.equal(p.table1.status, 'ok');
  assert.equal(p.cluster_tree.status, 'ok');

  const summary = JSON.parse(fs.readFileSync(path.join(fixture, 'summary.json'), 'utf8'));
  const rows = await page.$$eval('section[data-panel="table1"] tbody tr',
    (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  assert.deepEqual(rows.map((r) => r[0]), ['conv1', 'conv2', 'fc8']);
  for (const row of rows) {
    const c = summary.layers[row[0]].pairs['net1~net2'].correlation;
    assert.equal(row[1], String(Number(c.semi_matching_mean.toPrecision(3))));
    assert.equal(row[2], String(Number(c.matching_mean.toPrecision(3))));
    assert.equal(row[3], (100 * c.overlap_ratio).toFixed(1) + '%');
  }
  assert.equal(rows[2][4], 'not computed', 'fc8 has no mutual information');

  // Whole-layer similarity indices beside the Table 1 matching mean.
  assert.equal(p.similarity.status, 'ok');
  const srows = await page.$$eval('section[data-panel="similarity"] tbody tr',
    (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  assert.deepEqual(srows.map((r) => r[0]), ['conv1', 'conv2', 'fc8']);
  for (const row of srows.slice(0, 2)) {
    const pair = summary.layers[row[0]].pairs['net1~net2'];
    assert.equal(row[1], String(Number(pair.correlation.matching_mean.toPrecision(3))));
    assert.equal(row[2], String(Number(pair.similarity_indices.cka.toPrecision(3))));
    assert.equal(row[3], 'n/a');
    assert.match(row[row.length - 1], /dead units excluded: 0 \/ 1; debiased CKA not available for device-pushed batches/);
  }
  assert.equal(srows[2][2], 'not computed', 'fc8 has no similarity indices');

  const tree = summary.layers.conv1.clusters['net1~net2'].clusters;
  const lines = await page.$$eval('section[data-panel="cluster_tree"] .tree div', (d) => d.map((x) => x.textContent));
  assert.equal(lines.length, tree.length);
  const top8 = summary.layers.conv1.pairs['net1~net2'].mutual_information.top8_overlap_with_correlation;
  assert.match(p.mi.text, new RegExp('top-8 overlap with correlation: ' + top8 + ' of 8'));
  assert.match(p.mi.text, new RegExp('top-8 overlap recomputed here: ' + top8 + ' of 8'));

  await shot(page, 'conv1-net1-net2');
  assert.deepEqual(errors, []);
  assert.deepEqual(requests, [], 'the page must not touch the network');
  await page.close();
});

test('opening draws the panels on screen before ready and every other panel right after (two window heights)', async () => {
  for (const height of [1000, 400]) {
    const page = await browser.newPage({ viewport: { width: 1400, height } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(path.join(fixture, 'report.html')).href, { waitUntil: 'commit' });
    // The panels as they are when body[data-state] turns "ready" (the
    // observer runs before any later task of the page).
    const atReady = await page.evaluate(() => new Promise((resolve) => {
      const look = () => ({
        state: document.body.dataset.state, drawn: document.body.dataset.drawn, height: window.innerHeight,
        panels: [...document.querySelectorAll('section.panel')].map((s) => ({
          name: s.dataset.panel, status: s.dataset.status || null, top: s.closest('.row').getBoundingClientRect().top })),
      });
      const done = () => document.body && /^(ready|error)$/.test(document.body.dataset.state);
      if (done()) { resolve(look()); return; }
      const watch = new MutationObserver(() => { if (done()) { watch.disconnect(); resolve(look()); } });
      watch.observe(document, { attributes: true, subtree: true, attributeFilter: ['data-state'] });
    }));
    assert.equal(atReady.state, 'ready');
    // Every panel of a row that starts on the window (or 200 px below it) is drawn at ready.
    const onScreen = atReady.panels.filter((x) => x.top <= atReady.height + 200);
    assert.ok(onScreen.some((x) => x.name === 'within_a'), JSON.stringify(atReady.panels));
    for (const x of onScreen) assert.notEqual(x.status, null, x.name + ' (row at ' + x.top + ' px) is not drawn at ready');
    // Those further down wait, and are drawn right after.
    const waiting = atReady.panels.filter((x) => x.status === null).map((x) => x.name);
    assert.ok(waiting.includes('cross_layers') && waiting.includes('mean_activation'), 'waiting: ' + waiting.join(', '));
    assert.equal(atReady.drawn, 'first-screen');
    await page.waitForSelector('body[data-drawn="all"]', { timeout: 30000 });
    const p = await panels(page);
    for (const name of [...HEATMAP_PANELS, ...PLOT_PANELS, 'cycle']) assertDrawn(p, name);
    for (const name of waiting) assert.notEqual(p[name].status, undefined, name + ' drawn after ready');
    assert.deepEqual(errors, []);
    await page.close();
  }
});

test('hover read-outs match the .npy values (Fig. 1c, 1d, 13)', async () => {
  const { page, errors } = await open(path.join(fixture, 'report.html'));
  const summary = JSON.parse(fs.readFileSync(path.join(fixture, 'summary.json'), 'utf8'));
  const corr = readNpy(path.join(fixture, 'conv1/net1~net2.corr.npy'));

  let text = await hoverCell(page, 'between', 5, 7);
  assert.match(text, /row 5: net1 unit 5/);
  assert.match(text, /col 7: net2 unit 7/);
  assertClose(tooltipValue(text), corr.at(5, 7), 'between (5, 7)');
  await shot(page, 'hover-between');

  const order = summary.layers.conv1.pairs['net1~net2'].correlation.matched_order;
  text = await hoverCell(page, 'matched', 3, 2);
  assert.match(text, new RegExp('col 2: net2 unit ' + order[2] + '\\b'));
  assertClose(tooltipValue(text), corr.at(3, order[2]), 'matched (3, 2)');
  const matched = readNpy(path.join(fixture, 'conv1/net1~net2.corr_matched.npy'));  // on disk, not embedded
  assertClose(tooltipValue(text), matched.at(3, 2), 'matched file (3, 2)');
  for (const [r, c] of [[0, 0], [17, 23], [23, 11]]) {
    text = await hoverCell(page, 'matched', r, c);
    assert.match(text, new RegExp('row ' + r + ': net1 unit ' + r + '\\b'));
    assert.match(text, new RegExp('col ' + c + ': net2 unit ' + order[c] + '\\b'));
    assertClose(tooltipValue(text), corr.at(r, order[c]), 'matched (' + r + ', ' + c + ')');
  }
  assert.match(await page.locator('section[data-panel="matched"] .body').textContent(),
    /rebuilt here from conv1\/net1~net2\.corr\.npy/);

  const within = readNpy(path.join(fixture, 'conv1/net2~net2.corr.npy'));
  text = await hoverCell(page, 'within_b', 10, 4);
  assert.match(text, /net2 unit 10[\s\S]*net2 unit 4/);
  assertClose(tooltipValue(text), within.at(10, 4), 'within net2 (10, 4)');

  // Fig. 13: position i of the combined matrix shows unit perm[i].
  const perm = summary.layers.conv1.clusters['net1~net2'].permutation;
  const sa = summary.layers.conv1.units.net1;
  const label = (v) => (v < sa ? 'net1 unit ' + v : 'net2 unit ' + (v - sa));
  const value = (u, v) => {
    if (u < sa && v < sa) return readNpy(path.join(fixture, 'conv1/net1~net1.corr.npy')).at(u, v);
    if (u < sa) return corr.at(u, v - sa);
    if (v < sa) return corr.at(v, u - sa);
    return within.at(u - sa, v - sa);
  };
  for (const [i, j] of [[0, 1], [3, 40], [30, 2]]) {
    text = await hoverCell(page, 'clusters', i, j);
    assert.match(text, new RegExp('row ' + i + ': ' + label(perm[i]) + '\\b'));
    assert.match(text, new RegExp('col ' + j + ': ' + label(perm[j]) + '\\b'));
    assertClose(tooltipValue(text), value(perm[i], perm[j]), 'clusters (' + i + ', ' + j + ')');
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('switching layer, pair, measure and colours; missing analyses say "not computed"', async () => {
  const { page, errors } = await open(path.join(fixture, 'report.html'));

  await page.selectOption('#layer-select', { label: 'fc8' });
  let p = await panels(page);
  for (const name of ['mi', 'sparse', 'clusters', 'cluster_tree', 'fig14', 'cycle']) {
    assert.equal(p[name].status, 'missing', name);
    assert.match(p[name].note, /^Not computed: /, name);
    assert.equal(p[name].canvases.length, 0, name);
  }
  for (const name of ['within_a', 'within_b', 'between', 'matched', 'fig3']) assertDrawn(p, name);
  assertDrawn(p, 'mean_activation');  // drawn from the layer's unit means
  assert.match(p.mean_activation.note, /not computed; the curves are the layer.s unit means/);
  assert.match(p.fig3.text, /4 unmatched/);
  assert.match(p.cycle.note, /^Not computed: core vs rare units need 3 or more nets \(no cycle_consistency in layer fc8\)/);
  assert.match(p.within_a.text, /20 × 20/);
  assert.match(await page.locator('section[data-panel="table1"] tr.selected td').first().textContent(), /fc8/);
  await shot(page, 'fc8-missing-analyses');

  await page.selectOption('#measure-select', 'mi');
  p = await panels(page);
  for (const name of ['within_a', 'within_b', 'between', 'matched']) {
    assert.equal(p[name].status, 'missing', name);
    assert.match(p[name].note, /^Not computed: mutual information matrix/, name);
  }
  await page.selectOption('#layer-select', { label: 'conv2' });
  await page.selectOption('#pair-select', { label: 'net2 vs net3' });
  p = await panels(page);
  for (const name of [...HEATMAP_PANELS, ...PLOT_PANELS]) assertDrawn(p, name);
  assert.match(await page.locator('#matrices-title').textContent(), /Mutual information/);
  assert.equal(await page.locator('section[data-panel="between"] h3').textContent(), '(c) between-net: net2 × net3');
  const mi = readNpy(path.join(fixture, 'conv2/net2~net3.mi.npy'));
  const text = await hoverCell(page, 'between', 31, 0);
  assert.match(text, /row 31: net2 unit 31[\s\S]*col 0: net3 unit 0/);
  assertClose(tooltipValue(text), mi.at(31, 0), 'MI between (31, 0)');
  const miOrder = JSON.parse(fs.readFileSync(path.join(fixture, 'summary.json'), 'utf8'))
    .layers.conv2.pairs['net2~net3'].mutual_information.matched_order;
  const miText = await hoverCell(page, 'matched', 6, 9);
  assert.match(miText, new RegExp('col 9: net3 unit ' + miOrder[9] + '\\b'));
  assertClose(tooltipValue(miText), mi.at(6, miOrder[9]), 'MI matched (6, 9)');

  await page.selectOption('#colour-select', 'diverging');
  const coloured = await page.$eval('section[data-panel="within_a"] canvas.heatmap', (c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - d[i + 2]) > 40) n++;
    return n;
  });
  assert.ok(coloured > 100, 'diverging map should colour the heatmap');
  await shot(page, 'conv2-net2-net3-mi-diverging');
  assert.deepEqual(errors, []);
  await page.close();
});

test('crafted net names are shown as text, never run', async () => {
  const { page, errors } = await open(path.join(crafted, 'report.html'));
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(await page.evaluate(() => document.querySelectorAll('img').length), 0);
  const options = await page.$$eval('#pair-select option', (o) => o.map((x) => x.textContent));
  assert.equal(options[0], CRAFTED[0] + ' vs ' + CRAFTED[1]);
  assert.ok((await page.locator('#meta').textContent()).includes(CRAFTED[0] + ', ' + CRAFTED[1]));
  assert.equal(await page.locator('section[data-panel="within_a"] h3 [data-label="net_a"]').textContent(), CRAFTED[0]);
  const p = await panels(page);
  for (const name of [...HEATMAP_PANELS, ...PLOT_PANELS]) assertDrawn(p, name);
  const text = await hoverCell(page, 'between', 1, 2);
  assert.ok(text.includes(CRAFTED[0] + ' unit 1') && text.includes(CRAFTED[1] + ' unit 2'), text);
  await page.selectOption('#pair-select', { index: 2 });
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  await shot(page, 'crafted-names');
  assert.deepEqual(errors, []);
  await page.close();
});

test('malformed embedded data gives an error message in the page', async () => {
  const html = fs.readFileSync(path.join(fixture, 'report.html'), 'utf8');
  const page0 = readPage(html);
  const payload = page0.payload;
  assert.equal(payload.summary.encoding, 'deflate');
  const summary = JSON.parse(page0.inflated(payload.summary).toString('utf8'));
  // The blob's text with one character changed into one that base 125 never writes.
  const blobText = html.match(BLOB_RE)[1];
  const badBlob = html.replace(BLOB_RE, () => '<script type="application/octet-stream" id="convergent-blob">' +
    blobText.slice(0, 100) + '\u00e9' + blobText.slice(101) + '</script>');
  const variant = (name, text) => {
    const file = path.join(work, name + '.html');
    fs.writeFileSync(file, text);
    return file;
  };
  const fatalCases = [
    ['broken-block', html.replace(DATA_RE, (m) => m.replace('{"format"', '{format')), /malformed \(not JSON/],
    ['no-block', html.replace(DATA_RE, ''), /holds no results/],
    ['summary-not-json', withPayload(html, { ...payload, summary: b64('{"schema_version": 1, "nets": [') }),
      /summary\.json is not valid JSON/],
    ['summary-future', withPayload(html, { ...payload, summary: b64(JSON.stringify({ ...summary, schema_version: 99 })) }),
      /schema_version 99 is not supported/],
    ['summary-bad-base64', withPayload(html, { ...payload, summary: '%%%' }), /corrupt \(not base64\)/],
    ['blob-missing', html.replace(BLOB_RE, ''), /data blob of this page is missing/],
    ['blob-truncated', html.replace(BLOB_RE, () => '<script type="application/octet-stream" id="convergent-blob">' +
      blobText.slice(0, -7) + '</script>'), /data blob of this page is corrupt \(\d+ characters for \d+ bytes\)/],
    ['blob-bad-character', badBlob, /data blob of this page is corrupt \(character 100\)/],
  ];
  for (const [name, text, message] of fatalCases) {
    const { page, errors } = await open(variant(name, text), { expectState: 'error' });
    assert.match(await page.locator('#fatal').textContent(), message, name);
    assert.ok(await page.locator('#fatal').isVisible(), name);
    assert.ok(!(await page.locator('#controls').isVisible()), name + ': controls must be hidden');
    assert.ok(!(await page.locator('#panels').isVisible()), name + ': panels must be hidden');
    assert.deepEqual(errors, [], name);
    if (name === 'summary-not-json') await shot(page, 'malformed-summary');
    await page.close();
  }

  // One bad matrix, one bad analysis: those panels show errors, the rest draws.
  const broken = JSON.parse(JSON.stringify(summary));
  broken.layers.conv1.pairs['net1~net2'].correlation.fig3_semi_matching = 'oops';
  broken.layers.conv1.clusters['net1~net2'].permutation = [0, 0, 1];
  const files = { ...payload.files };
  files['conv1/net1~net2.corr.npy'] = b64('not a numpy file at all');
  files['conv1/net1~net1.corr.npy'] = '***';
  // Format 2 (base64 of the deflated file in the entry) is still read.
  const within = payload.files['conv1/net2~net2.corr.npy'];
  files['conv1/net2~net2.corr.npy'] = { ...within, offset: undefined, length: undefined,
    data: page0.stored(within).toString('base64') };
  const partial = variant('partial', withPayload(html, { ...payload, summary: b64(JSON.stringify(broken)), files }));
  const { page, errors } = await open(partial);
  const p = await panels(page);
  assert.equal(p.between.status, 'error');
  assert.match(p.between.note, /^Error: file 'conv1\/net1~net2\.corr\.npy': not a \.npy file/);
  assert.equal(p.within_a.status, 'error');
  assert.match(p.within_a.note, /corrupt \(not base64\)/);
  assert.equal(p.fig3.status, 'error');
  assert.match(p.fig3.note, /fig3_semi_matching: expected an array/);
  assert.equal(p.matched.status, 'error', 'Fig. 1d is rebuilt from the broken between-net file');
  assert.match(p.matched.note, /^Error: file 'conv1\/net1~net2\.corr\.npy': not a \.npy file/);
  assert.equal(p.clusters.status, 'error');
  for (const name of ['within_b', 'mi', 'sparse', 'fig14', 'mean_activation', 'cycle']) assertDrawn(p, name);
  await shot(page, 'malformed-panels');
  assert.deepEqual(errors, []);
  await page.close();
});

test('core vs rare units (cycle_consistency) and the thresholded Fig. 13 graph', async () => {
  const { page, errors } = await open(path.join(fixture, 'report.html'));
  const summary = JSON.parse(fs.readFileSync(path.join(fixture, 'summary.json'), 'utf8'));
  const cc = summary.layers.conv1.cycle_consistency;
  let p = await panels(page);
  assertDrawn(p, 'cycle');
  const field = (name) => page.locator('section[data-panel="cycle"] [data-field="' + name + '"] .big').textContent();
  assert.equal(await field('core_fraction'), (100 * cc.core_fraction).toFixed(1) + '%');
  assert.equal(await field('cycle_return_fraction'), (100 * cc.cycle_return_fraction).toFixed(1) + '%');
  assert.equal(await field('rare_units'), String(cc.rare_units.length));
  assert.match(p.cycle.text, new RegExp(cc.core_units.length + ' of ' + cc.units + ' units'));
  assert.match(p.cycle.text, /net1 → net2 → net3 → net1/);
  const bars = JSON.parse(await page.locator('section[data-panel="cycle"] canvas').getAttribute('data-values'));
  assert.deepEqual(bars, [...cc.triangle_return_fraction].sort((x, y) => y - x));
  // The first (core) bar is drawn taller than the last (rare) one.
  const heights = await page.$eval('section[data-panel="cycle"] canvas', (c) => {
    const ctx = c.getContext('2d');
    const column = (fx) => {
      const x = Math.round(c.width * fx);
      const d = ctx.getImageData(x, 0, 1, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] === 0x2f && d[i + 1] === 0x6f && d[i + 2] === 0xb2) n++;
      return n;
    };
    return [column(58 / c.clientWidth + 0.002), column(0.99 - 14 / c.clientWidth)];
  });
  assert.ok(heights[0] > heights[1] + 20, 'bars: ' + heights);
  await page.locator('section[data-panel="cycle"]').screenshot({ path: path.join(shots, 'cycle-conv1.png') });
  await page.selectOption('#layer-select', { label: 'conv2' });
  p = await panels(page);
  assert.equal(p.cycle.status, 'missing');
  assert.match(p.cycle.note, /^Not computed: core vs rare units need 3 or more nets/);
  assert.equal(p.cycle.canvases.length, 0);
  await page.selectOption('#layer-select', { label: 'conv1' });

  // Fig. 13: full matrix by default, W thresholded at tau with the toggle.
  const clusters = summary.layers.conv1.clusters['net1~net2'];
  const perm = clusters.permutation, tau = clusters.tau, sa = summary.layers.conv1.units.net1;
  const m11 = readNpy(path.join(fixture, 'conv1/net1~net1.corr.npy'));
  const m12 = readNpy(path.join(fixture, 'conv1/net1~net2.corr.npy'));
  const m22 = readNpy(path.join(fixture, 'conv1/net2~net2.corr.npy'));
  const full = (i, j) => {
    const u = perm[i], v = perm[j];
    if (u < sa && v < sa) return m11.at(u, v);
    if (u < sa) return m12.at(u, v - sa);
    if (v < sa) return m12.at(v, u - sa);
    return m22.at(u - sa, v - sa);
  };
  const cells = [[4, 4]];
  let above = null, below = null;
  for (let i = 0; i < perm.length && !(above && below); i++) {
    for (let j = 0; j < perm.length; j++) {
      if (i === j) continue;
      if (!above && full(i, j) >= tau + 0.01) above = [i, j];
      if (!below && full(i, j) < tau - 0.01 && full(i, j) > 0.01) below = [i, j];
    }
  }
  assert.ok(above && below, 'fixture has entries on both sides of tau');
  cells.push(above, below);
  assert.equal(await page.locator('#clusters-threshold').isChecked(), false);
  for (const [i, j] of cells) {
    assertClose(tooltipValue(await hoverCell(page, 'clusters', i, j)), full(i, j), 'full W (' + i + ', ' + j + ')');
  }
  await page.locator('#clusters-threshold').check();
  p = await panels(page);
  assertDrawn(p, 'clusters');
  assert.match(p.clusters.text, new RegExp('thresholded at τ = ' + tau));
  for (const [i, j] of cells) {
    const text = await hoverCell(page, 'clusters', i, j);
    assert.match(text, new RegExp('row ' + i + ': ' + (perm[i] < sa ? 'net1 unit ' + perm[i] : 'net2 unit ' + (perm[i] - sa)) + '\\b'));
    const expected = i === j || full(i, j) < tau ? 0 : full(i, j);
    assertClose(tooltipValue(text), expected, 'thresholded W (' + i + ', ' + j + ')');
  }
  await shot(page, 'conv1-threshold-cycle');
  // Switching the pair keeps the toggle; unchecking restores the full matrix.
  await page.selectOption('#pair-select', { label: 'net1 vs net3' });
  assert.match((await panels(page)).clusters.text, /thresholded at τ/);
  await page.selectOption('#pair-select', { label: 'net1 vs net2' });
  await page.locator('#clusters-threshold').uncheck();
  assertClose(tooltipValue(await hoverCell(page, 'clusters', 4, 4)), full(4, 4), 'full W diagonal');
  assert.deepEqual(errors, []);
  await page.close();
});

test('cross-layer CKA maps: one heatmap per net pair and per net, layer names on both axes', async () => {
  // Two architectures without a common layer: only the maps are computed.
  const dir = path.join(work, 'cross');
  const make = run(PYTHON, ['-c', [
    'import numpy as np, os, sys',
    'd = sys.argv[1]; rng = np.random.default_rng(3); z = rng.normal(size=(48, 5))',
    'nets = {"wide": {"conv1": (4, 3, 3), "fc": (6,)}, "deep": {"b1": (2, 2, 2), "b2": (5,), "head": (3,)}}',
    'for net, layers in nets.items():',
    '    os.makedirs(os.path.join(d, net))',
    '    for l, shape in layers.items():',
    '        k = int(np.prod(shape)); x = z @ rng.normal(size=(5, k)) + 0.5 * rng.normal(size=(48, k))',
    '        np.save(os.path.join(d, net, l + ".npy"), x.reshape((48,) + shape).astype(np.float32))',
  ].join('\n'), dir]);
  assert.equal(make.status, 0, make.stderr);
  const out = path.join(dir, 'out');
  const cmp = run(CLI, ['compare', path.join(dir, 'wide'), path.join(dir, 'deep'), '--out', out, '--cross-layers',
    '--cross-layers-batch', '16', '--quiet']);
  assert.equal(cmp.status, 0, cmp.stderr);
  assert.equal(report(out).status, 0);
  const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
  const { page, errors } = await open(path.join(out, 'report.html'));
  const p = await panels(page);
  assertDrawn(p, 'cross_layers');
  assert.equal(p.cross_layers.canvases.length, 3);
  assert.match(p.mean_activation.note, /no layer is common/);
  const maps = await page.evaluate(() => [...document.querySelectorAll('canvas.cross-layer-map')].map((c) => ({
    key: c.dataset.map, rows: JSON.parse(c.dataset.rowLayers), cols: JSON.parse(c.dataset.colLayers),
    caption: c.closest('figure').querySelector('figcaption').textContent })));
  assert.deepEqual(maps.map((m) => m.key), ['wide~wide', 'wide~deep', 'deep~deep']);
  assert.deepEqual(maps[1].rows, ['conv1', 'fc']);
  assert.deepEqual(maps[1].cols, ['b1', 'b2', 'head']);
  assert.match(maps[1].caption, /wide \(rows\) × deep \(columns\)/);
  // Hover over cell (1, 2) of wide~deep: fc vs head, the summary's value.
  const canvas = page.locator('canvas[data-map="wide~deep"]');
  const box = await canvas.boundingBox();
  // The grid fills the bottom-right corner of the canvas (labels above and
  // to the left): the last cell's centre is half a cell from that corner.
  const size = Math.max(6, Math.min(36, Math.floor(360 / 3)));
  await canvas.hover({ position: { x: box.width - 0.5 * size, y: box.height - 0.5 * size } });
  await page.waitForSelector('#tooltip:not([hidden])');
  const tip = await page.locator('#tooltip').innerText();
  assert.match(tip, /wide fc/);
  assert.match(tip, /deep head/);
  const value = Number(tip.match(/CKA: (\S+)/)[1]);
  assertClose(value, summary.cross_layers.maps['wide~deep'].cka[1][2], 'hovered CKA');
  // The map's numbers as CSV: rows = wide's layers, columns = deep's, the summary's values exactly.
  const [download] = await Promise.all([page.waitForEvent('download'),
    page.locator('figure:has(canvas[data-map="wide~deep"]) .f-tools button[data-action="csv"]').click()]);
  assert.match(download.suggestedFilename(), /cross_layers_wide_deep\.csv$/);
  const rows = fs.readFileSync(await download.path(), 'utf8').trim().split('\n').map((line) => line.split(','));
  const map = summary.cross_layers.maps['wide~deep'];
  assert.deepEqual(rows[0], ['wide layer \\ deep layer', 'b1', 'b2', 'head']);
  assert.deepEqual(rows.slice(1).map((r) => r[0]), ['conv1', 'fc']);
  rows.slice(1).forEach((r, i) => r.slice(1).forEach((v, j) => assert.equal(Number(v), map.cka[i][j], 'CSV (' + i + ', ' + j + ')')));
  await shot(page, 'cross_layers');
  assert.deepEqual(errors, []);
  await page.close();
});

test('resampling: Table 1 shows the bootstrap interval, permutation null and held-out score; Fig. 3 its band', async () => {
  // Two small dense nets sharing a latent code, compared with every resampling on.
  const dir = path.join(work, 'resampling');
  const make = run(PYTHON, ['-c', [
    'import numpy as np, os, sys',
    'd = sys.argv[1]; rng = np.random.default_rng(11); z = rng.normal(size=(600, 6))',
    'for net in ("one", "two"):',
    '    os.makedirs(os.path.join(d, net))',
    '    x = np.maximum(z @ rng.normal(size=(6, 10)) + 0.6 * rng.normal(size=(600, 10)), 0)',
    '    np.save(os.path.join(d, net, "fc.npy"), x.astype(np.float32))',
  ].join('\n'), dir]);
  assert.equal(make.status, 0, make.stderr);
  const out = path.join(dir, 'out');
  const cmp = run(CLI, ['compare', path.join(dir, 'one'), path.join(dir, 'two'), '--out', out, '--quiet',
    '--bootstrap', '40', '--bootstrap-blocks', '30', '--holdout', '0.5', '--permutations', '6', '--seed', '3']);
  assert.equal(cmp.status, 0, cmp.stderr);
  assert.equal(report(out).status, 0);
  const res = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')).layers.fc.pairs['one~two'].resampling;
  const { page, errors } = await open(path.join(out, 'report.html'));
  const notes = await page.$$eval('section[data-panel="table1"] tbody tr', (rows) => rows.map((tr) =>
    [...tr.querySelectorAll('td')].map((td) => (td.querySelector('.resampling') || {}).textContent || null)));
  assert.equal(notes.length, 1, 'one layer');
  // The page's rounding: 3 significant digits, the overlap ratio in percent with one decimal.
  const f = (key, v) => (key === 'overlap_ratio' ? (100 * v).toFixed(1) + '%' : Number(v.toPrecision(3)).toString());
  ['semi_matching_mean', 'matching_mean', 'overlap_ratio'].forEach((key, i) => {
    const boot = res.bootstrap[key], nul = res.permutation_null[key];
    let want = 'CI [' + f(key, boot.low) + ', ' + f(key, boot.high) + '] \u00b7 null ' + f(key, nul.null_mean) + ' (p ' +
      Number(nul.p_value.toPrecision(3)).toString() + ')';
    if (key in res.holdout.held_out) want += ' \u00b7 held-out ' + f(key, res.holdout.held_out[key]);
    assert.equal(notes[0][i + 1], want, key);
  });
  // The MI columns: the MI figures' notes (mi_* in summary.json).
  ['semi_matching_mean', 'matching_mean', 'overlap_ratio'].forEach((key, i) => {
    const boot = res.bootstrap['mi_' + key], nul = res.permutation_null['mi_' + key];
    assert.ok(boot && nul, 'mi_' + key + ' resampled');
    let want = 'CI [' + f(key, boot.low) + ', ' + f(key, boot.high) + '] \u00b7 null ' + f(key, nul.null_mean) + ' (p ' +
      Number(nul.p_value.toPrecision(3)).toString() + ')';
    if (('mi_' + key) in res.holdout.held_out) want += ' \u00b7 held-out ' + f(key, res.holdout.held_out['mi_' + key]);
    assert.equal(notes[0][i + 4], want, 'MI ' + key);
  });
  // The whole-layer indices: the same notes under each resampled index.
  const sim = await page.$eval('section[data-panel="similarity"] table', (t) => ({
    head: [...t.querySelectorAll('thead th')].map((th) => th.textContent),
    cells: [...t.querySelectorAll('tbody tr')[0].querySelectorAll('td')].map((td) => (td.querySelector('.resampling') || {}).textContent || null),
  }));
  for (const [key, label] of [['cka', 'linear CKA'], ['cca_mean', 'mean CCA'], ['svcca_mean', 'SVCCA'],
    ['pwcca_symmetric', 'PWCCA (symmetric)'], ['procrustes_angular', 'Procrustes angle']]) {
    const boot = res.bootstrap[key], nul = res.permutation_null[key];
    assert.ok(boot && nul, key + ' resampled');
    const want = 'CI [' + f(key, boot.low) + ', ' + f(key, boot.high) + '] \u00b7 null ' + f(key, nul.null_mean) + ' (p ' +
      Number(nul.p_value.toPrecision(3)).toString() + ')';
    assert.equal(sim.cells[sim.head.indexOf(label)], want, key);
  }
  assert.equal(sim.cells[sim.head.indexOf('debiased CKA')], null, 'debiased CKA is not resampled');
  // Fig. 3: the band's two dashed curves, the summary's values, in the panel's CSV.
  const [download] = await Promise.all([page.waitForEvent('download'),
    page.locator('section[data-panel="fig3"] .x-export button[data-export-kind="csv"]').click()]);
  const rows = fs.readFileSync(await download.path(), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  for (const [name, values] of [['semi-matching bootstrap low', res.fig3_band.semi_matching.low],
    ['semi-matching bootstrap high', res.fig3_band.semi_matching.high]]) {
    const ys = rows.filter((r) => r[0] === name).map((r) => Number(r[2]));
    assert.equal(ys.length, values.length, name);
    ys.forEach((y, i) => assertClose(y, values[i], name + ' ' + i));
  }
  const p = await panels(page);
  assertDrawn(p, 'fig3');
  await shot(page, 'resampling_table1');
  assert.deepEqual(errors, []);
  await page.close();
});
