// Browser test of the report page's weight, deep links and data export:
// the page format of cli/report.cpp (format 3: one blob in base 125,
// deflated files, 16-bit fixed-point display matrices, patch
// atlases, files decoded when a view needs them) in headless Chromium from
// file://.
//
//   CONVERGENT_CLI=build/cli/convergent node --test tests/browser/report_weight.test.mjs
//
// Environment: CONVERGENT_CLI (required), CONVERGENT_PYTHON (default
// /usr/bin/python3, numpy: the oracle for the fixed-point rounding),
// CONVERGENT_CHROMIUM (default /usr/bin/chromium), CONVERGENT_SCREENSHOT_DIR
// (default: a new temporary directory; the benchmark figures go there as
// report_weight.json). CONVERGENT_REPORT_BENCH=1: the page-weight benchmark
// on the bundled example's four nets (default: two nets, one load).
// CONVERGENT_WEIGHT_RESULTS: results of the bundled example (tools/demo.sh)
// to measure instead of running compare here (implies the benchmark).
// The benchmark's ready time runs from the navigation to body[data-state]
// turning "ready" (the first screen drawn; the other panels follow, and
// every check here waits for body[data-drawn="all"]); it also loads the page
// without DevTools' Network domain (plain_load.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { readPage } from './payload.mjs';
import { plainLoads } from './plain_load.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const CLI = process.env.CONVERGENT_CLI;
const PYTHON = process.env.CONVERGENT_PYTHON || '/usr/bin/python3';
const CHROMIUM = process.env.CONVERGENT_CHROMIUM || '/usr/bin/chromium';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'convergent-weight-'));
const shots = process.env.CONVERGENT_SCREENSHOT_DIR || path.join(work, 'screenshots');
fs.mkdirSync(shots, { recursive: true });

// The targets the benchmark is compared with (printed, not asserted: the
// load time depends on the machine and its load).
const TARGET_BYTES = 8e6, TARGET_READY_MS = 2000;

let browser;
const fixture = path.join(work, 'results');

function run(cmd, args, options) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, ...options });
  if (r.error) throw r.error;
  return r;
}

// Values of .npy files through numpy: as stored (float64 of float32) and
// rounded to multiples of step (nearest, ties to even: numpy's round), the
// oracle for the page's fixed-point matrices.
function numpyValues(file, step) {
  const r = run(PYTHON, ['-c', `
import json, sys, numpy as np
a = np.load(sys.argv[1])
step = float(sys.argv[2])
f = np.round(a.astype(np.float64) / step) * step
clean = lambda x: [[None if not np.isfinite(v) else float(v) for v in row] for row in x]
json.dump({"shape": list(a.shape), "exact": clean(a.astype(np.float64)), "fixed": clean(f)}, sys.stdout)
`, file, String(step)]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function open(file, hash = '', { metrics = false } = {}) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  // Main-thread time (CDP Performance metrics), for the benchmark.
  const cdp = metrics ? await page.context().newCDPSession(page) : null;
  if (cdp) await cdp.send('Performance.enable');
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) errors.push('CSP: ' + m.text());
  });
  // The time to ready: from the navigation to the change of body[data-state],
  // seen by a MutationObserver in the page (page.goto would wait for the
  // load event, and waitForSelector polls every 500 ms after its first
  // tries, so either would add up to half a second to the figure).
  const start = Date.now();
  await page.goto(pathToFileURL(file).href + hash, { waitUntil: 'commit' });
  await page.evaluate(() => new Promise((resolve) => {
    const done = () => document.body && /^(ready|error)$/.test(document.body.dataset.state);
    if (done()) { resolve(); return; }
    const watch = new MutationObserver(() => { if (done()) { watch.disconnect(); resolve(); } });
    watch.observe(document, { attributes: true, subtree: true, attributeFilter: ['data-state'] });
  }));
  const readyMs = Date.now() - start;
  const main = cdp ? Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics
    .filter((m) => /^(ScriptDuration|TaskDuration|LayoutDuration|RecalcStyleDuration)$/.test(m.name))
    .map((m) => [m.name, Math.round(m.value * 1000)])) : null;
  await page.waitForLoadState('load');
  // `ready` comes when the panels of the first screen are drawn; the rest
  // are drawn right after it (body[data-drawn="all"]), and the checks look
  // at every panel.
  if (await page.evaluate(() => document.body.dataset.state === 'ready')) {
    await page.waitForSelector('body[data-drawn="all"]', { timeout: 120000 });
  }
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'ready',
    'fatal: ' + (await page.evaluate(() => document.getElementById('fatal').textContent)));
  const select = page.selectOption.bind(page);
  page.selectOption = async (...args) => {
    const chosen = await select(...args);
    await page.waitForFunction(() => document.body.dataset.loading !== '1');
    return chosen;
  };
  return { page, errors, readyMs, main };
}

// Clicks an export button of a panel and returns the downloaded text.
async function exported(page, panelName, kind = 'csv') {
  const button = page.locator('section[data-panel="' + panelName + '"] .x-export button[data-export-kind="' + kind + '"]');
  const [download] = await Promise.all([page.waitForEvent('download'), button.click()]);
  const file = await download.path();
  return { name: download.suggestedFilename(), text: fs.readFileSync(file, 'utf8') };
}

function parseCsv(text) {
  return text.trim().split('\n').map((line) => line.split(','));
}

function payloadOf(file) {
  return readPage(fs.readFileSync(file, 'utf8')).payload;
}

before(async () => {
  assert.ok(CLI, 'set CONVERGENT_CLI to a binary that takes `report DIR`');
  const r = run(PYTHON, [path.join(here, 'make_fixture.py'), fixture]);
  assert.equal(r.status, 0, 'make_fixture.py failed: ' + r.stderr);
  for (const [out, extra] of [['report.html', []], ['report_full.html', ['--full-precision']]]) {
    const w = run(CLI, ['report', fixture, '--out', path.join(fixture, out), ...extra]);
    assert.equal(w.status, 0, w.stderr);
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless', '--disable-gpu'] });
});

after(async () => {
  if (browser) await browser.close();
  console.log('screenshots and report_weight.json in ' + shots);
});

test('payload: one base-125 blob, deflated summary, fixed-point display matrices (upper triangle when symmetric)', () => {
  const payload = payloadOf(path.join(fixture, 'report.html'));
  assert.equal(payload.version, 3);
  assert.equal(payload.blob.encoding, 'base125');
  assert.equal(payload.summary.encoding, 'deflate');
  assert.equal(payload.core.encoding, 'deflate');
  const within = payload.files['conv1/net1~net1.corr.npy'], between = payload.files['conv1/net1~net2.corr.npy'];
  assert.equal(within.stored, 'fixed16');
  assert.equal(within.layout, 'upper-classes');
  assert.equal(within.step, 2 ** -12);
  assert.equal(between.stored, 'fixed16');
  assert.equal(between.layout, 'classes');
  const full = payloadOf(path.join(fixture, 'report_full.html'));
  assert.equal(full.files['conv1/net1~net2.corr.npy'].stored, undefined);
  const size = (f) => fs.statSync(path.join(fixture, f)).size;
  assert.ok(size('report.html') < size('report_full.html'), 'fixed-point pages are smaller');
});

test('deep link restores layer, pair and panel; the selectors rewrite the hash', async () => {
  const { page, errors } = await open(path.join(fixture, 'report.html'), '#layer=conv2&pair=net1~net3&panel=fig3');
  assert.equal(await page.$eval('#layer-select', (s) => s.selectedOptions[0].textContent), 'conv2');
  assert.equal(await page.$eval('#pair-select', (s) => s.selectedOptions[0].textContent), 'net1 vs net3');
  assert.equal(await page.locator('section[data-panel="between"] h3').textContent(), '(c) between-net: net1 × net3');
  assert.equal(await page.evaluate(() => document.body.dataset.panel), 'fig3');
  assert.ok(await page.$eval('section[data-panel="fig3"]', (s) => s.classList.contains('x-target')));
  const top = await page.$eval('section[data-panel="fig3"]', (s) => s.getBoundingClientRect().top);
  assert.ok(top >= -1 && top < 200, 'fig3 scrolled into view (top at ' + top + ')');
  assert.ok(!(await page.locator('#x-link-note').isVisible()));

  await page.selectOption('#pair-select', { label: 'net2 vs net3' });
  assert.equal(await page.evaluate(() => location.hash), '#layer=conv2&pair=net2~net3&panel=fig3');
  await page.selectOption('#layer-select', { label: 'conv1' });
  assert.equal(await page.evaluate(() => location.hash), '#layer=conv1&pair=net2~net3&panel=fig3');
  await page.locator('section[data-panel="table1"] h3').click();
  assert.equal(await page.evaluate(() => location.hash), '#layer=conv1&pair=net2~net3&panel=table1');
  // The address bar is a link back to this view.
  const link = await page.evaluate(() => location.href);
  const again = await browser.newPage();
  await again.goto(link);
  await again.waitForSelector('body[data-state="ready"]');
  // A link to a panel draws every panel before `ready` (the page scrolls there).
  assert.equal(await again.evaluate(() => document.body.dataset.drawn), 'all');
  assert.equal(await again.$eval('#layer-select', (s) => s.selectedOptions[0].textContent), 'conv1');
  assert.equal(await again.$eval('#pair-select', (s) => s.selectedOptions[0].textContent), 'net2 vs net3');
  assert.equal(await again.evaluate(() => document.body.dataset.panel), 'table1');
  await again.close();
  // An edited hash is followed.
  await page.evaluate(() => { location.hash = '#layer=conv2&pair=net1~net2'; });
  await page.waitForFunction(() => document.body.dataset.layer === 'conv2' && document.body.dataset.loading !== '1');
  assert.equal(await page.$eval('#pair-select', (s) => s.selectedOptions[0].textContent), 'net1 vs net2');
  assert.deepEqual(errors, []);
  await page.close();
});

test('unknown values in the link give a visible note, not a failure', async () => {
  const { page, errors } = await open(path.join(fixture, 'report.html'), '#layer=nope&pair=net1~net9&panel=%3Cimg%3E');
  const note = page.locator('#x-link-note');
  assert.ok(await note.isVisible());
  const text = await note.textContent();
  assert.match(text, /layer “nope”/);
  assert.match(text, /pair “net1~net9”/);
  assert.match(text, /panel “<img>”/);
  assert.equal(await page.evaluate(() => document.querySelectorAll('img').length), 0);
  assert.equal(await page.$eval('#layer-select', (s) => s.selectedOptions[0].textContent), 'conv1');
  assert.equal(await page.$eval('section[data-panel="between"]', (s) => s.dataset.status), 'ok');
  // The reversed pair name is the same pair.
  const reversed = await open(path.join(fixture, 'report.html'), '#pair=net3~net1');
  assert.equal(await reversed.page.$eval('#pair-select', (s) => s.selectedOptions[0].textContent), 'net1 vs net3');
  assert.ok(!(await reversed.page.locator('#x-link-note').isVisible()));
  await reversed.page.close();
  assert.deepEqual(errors, []);
  await page.close();
});

test('matrix CSV: fixed-point values equal numpy\'s rounding of the .npy to the step; --full-precision gives the .npy exactly', async () => {
  const step = payloadOf(path.join(fixture, 'report.html')).files['conv2/net1~net3.corr.npy'].step;
  const npy = numpyValues(path.join(fixture, 'conv2/net1~net3.corr.npy'), step);
  const within = numpyValues(path.join(fixture, 'conv2/net3~net3.corr.npy'), step);
  const order = JSON.parse(fs.readFileSync(path.join(fixture, 'summary.json'), 'utf8'))
    .layers.conv2.pairs['net1~net3'].correlation.matched_order;
  const check = (csv, values, cols, what) => {
    const rows = parseCsv(csv.text);
    assert.deepEqual(rows[0].slice(1).map(Number), cols, what + ': column units');
    assert.equal(rows.length - 1, values.length, what + ': rows');
    let compared = 0;
    rows.slice(1).forEach((row, r) => {
      assert.equal(Number(row[0]), r);
      cols.forEach((c, j) => {
        const expected = values[r][c];
        if (expected === null) assert.ok(['NaN', 'inf', '-inf', ''].includes(row[j + 1]), what);
        else assert.equal(Number(row[j + 1]), expected, what + ' (' + r + ', ' + c + ')');
        compared++;
      });
    });
    assert.equal(compared, values.length * cols.length);
  };
  const ident = (n) => Array.from({ length: n }, (_, i) => i);
  for (const [file, values] of [['report.html', 'fixed'], ['report_full.html', 'exact']]) {
    const { page, errors } = await open(path.join(fixture, file), '#layer=conv2&pair=net1~net3');
    const between = await exported(page, 'between');
    assert.match(between.name, /conv2_net1-net3_between\.csv$/);
    check(between, npy[values], ident(npy.shape[1]), file + ' between');
    check(await exported(page, 'matched'), npy[values], order, file + ' matched');
    check(await exported(page, 'within_b'), within[values], ident(within.shape[1]), file + ' within_b (upper triangle mirrored)');
    const label = await page.locator('section[data-panel="between"] .x-export button').textContent();
    assert.equal(label, values === 'fixed' ? 'CSV (\u00b1' + Number((step / 2).toPrecision(2)) + ')' : 'CSV');
    assert.deepEqual(errors, []);
    await page.close();
  }
  // The fixed-point round trip: within half a step of the float32 results.
  let finite = 0;
  npy.exact.forEach((row, r) => row.forEach((v, c) => {
    const f = npy.fixed[r][c];
    if (v === null) { assert.equal(f, null); return; }
    assert.ok(Math.abs(f - v) <= step / 2, 'fixed point of ' + v + ' is ' + f);
    finite++;
  }));
  assert.ok(finite > 0);
});

test('clusters CSV: the combined matrix in clustered order (W at tau, then G) equals numpy on the .npy files', async () => {
  // numpy: G_{X+Y} = [[XX, XY], [XY^T, YY]] permuted by the clustering (Sec. 4), and W = G with entries below
  // tau and the diagonal set to 0, from the float32 files (the --full-precision page holds them exactly).
  const r = run(PYTHON, ['-c', `
import json, sys, numpy as np
d = sys.argv[1]
s = json.load(open(d + "/summary.json"))
c = s["layers"]["conv1"]["clusters"]["net1~net2"]
xx, xy, yy = (np.load(d + "/conv1/" + k + ".corr.npy").astype(np.float64) for k in ("net1~net1", "net1~net2", "net2~net2"))
g = np.block([[xx, xy], [xy.T, yy]])
p = np.array(c["permutation"])
g = g[np.ix_(p, p)]
w = np.where(g < c["tau"], 0.0, g)
np.fill_diagonal(w, 0.0)
sa = xx.shape[0]
json.dump({"g": g.tolist(), "w": w.tolist(), "tau": c["tau"],
           "names": [("net1:%d" % u) if u < sa else ("net2:%d" % (u - sa)) for u in p]}, sys.stdout)
`, fixture]);
  assert.equal(r.status, 0, r.stderr);
  const want = JSON.parse(r.stdout);
  const { page, errors } = await open(path.join(fixture, 'report_full.html'), '#layer=conv1&pair=net1~net2');
  const check = (csv, values, corner) => {
    const rows = parseCsv(csv.text);
    assert.equal(rows[0][0], corner);
    assert.deepEqual(rows[0].slice(1), want.names, 'columns named net:unit in clustered order');
    assert.deepEqual(rows.slice(1).map((row) => row[0]), want.names, 'rows named net:unit in clustered order');
    rows.slice(1).forEach((row, i) => row.slice(1).forEach((v, j) => {
      assert.ok(Math.abs(Number(v) - values[i][j]) <= 1e-7 * Math.max(1, Math.abs(values[i][j])),
        corner + ' (' + i + ', ' + j + '): ' + v + ' vs ' + values[i][j]);
    }));
  };
  // Whichever the page starts with, then the other (the threshold checkbox).
  const box = page.locator('#clusters-threshold');
  for (const thresholded of (await box.isChecked()) ? [true, false] : [false, true]) {
    await box.setChecked(thresholded);
    const csv = await exported(page, 'clusters');
    assert.match(csv.name, /conv1_net1-net2_clusters\.csv$/);
    if (thresholded) check(csv, want.w, 'W (tau ' + want.tau + ') in clustered order');
    else check(csv, want.g, 'G in clustered order');
  }
  // The cluster tree: one row per node of summary.json, members and similarities as there.
  const nodes = JSON.parse(fs.readFileSync(path.join(fixture, 'summary.json'), 'utf8')).layers.conv1.clusters['net1~net2'].clusters;
  const tree = parseCsv((await exported(page, 'cluster_tree')).text);
  assert.deepEqual(tree[0], ['id', 'parent', 'depth', 'leaf', 'net1 units', 'net2 units', 'between_net_similarity',
    'within_net_similarity', 'net1 members', 'net2 members']);
  assert.equal(tree.length - 1, nodes.length);
  nodes.forEach((n, i) => {
    const row = tree[i + 1];
    assert.deepEqual(row.slice(0, 4).map(Number), [n.id, n.parent, n.depth, n.leaf ? 1 : 0]);
    assert.equal(Number(row[6]), n.between_net_similarity);
    assert.equal(Number(row[7]), n.within_net_similarity);
    assert.deepEqual(row[8] ? row[8].split(' ').map(Number) : [], n.members.net1);
    assert.deepEqual(row[9] ? row[9].split(' ').map(Number) : [], n.members.net2);
  });
  assert.deepEqual(errors, []);
  await page.close();
});

test('Table 1 as CSV and Markdown holds summary.json\'s figures; curves as CSV', async () => {
  const summary = JSON.parse(fs.readFileSync(path.join(fixture, 'summary.json'), 'utf8'));
  const { page, errors } = await open(path.join(fixture, 'report.html'), '#layer=conv1&pair=net1~net2');
  const csv = await exported(page, 'table1', 'csv');
  const rows = parseCsv(csv.text);
  assert.equal(rows[0][0], 'layer');
  const keys = ['semi_matching_mean', 'matching_mean', 'overlap_ratio'];
  let checked = 0;
  for (const row of rows.slice(1)) {
    const pair = summary.layers[row[0]].pairs['net1~net2'];
    ['correlation', 'mutual_information'].forEach((measure, m) => keys.forEach((key, k) => {
      const cell = row[1 + 3 * m + k];
      if (!pair[measure]) { assert.equal(cell, '', row[0] + ' ' + measure); return; }
      assert.equal(Number(cell), pair[measure][key], row[0] + ' ' + measure + ' ' + key);
      checked++;
    }));
  }
  assert.deepEqual(rows.slice(1).map((r) => r[0]), Object.keys(summary.layers));
  assert.ok(checked >= 6);
  const md = (await exported(page, 'table1', 'md')).text;
  const line = md.split('\n').find((l) => l.startsWith('| conv1 |'));
  const corr = summary.layers.conv1.pairs['net1~net2'].correlation;
  for (const key of keys) assert.ok(line.includes('| ' + String(corr[key]) + ' '), key + ' in ' + line);
  assert.match(md, /\| --- \| ---: \|/);
  // The similarity indices: summary.json's values.
  const sim = parseCsv((await exported(page, 'similarity')).text);
  const ckaColumn = sim[0].indexOf('cka');
  assert.ok(ckaColumn > 1, 'a cka column: ' + sim[0].join(','));
  for (const row of sim.slice(1)) {
    const si = summary.layers[row[0]].pairs['net1~net2'].similarity_indices;
    if (si && typeof si.cka === 'number') assert.equal(Number(row[ckaColumn]), si.cka, row[0] + ' cka');
  }
  // Fig. 3: the semi-matching curve is summary.json's, in plotting order.
  const fig3 = parseCsv((await exported(page, 'fig3')).text);
  assert.deepEqual(fig3[0], ['series', 'x', 'y']);
  const semi = fig3.slice(1).filter((r) => r[0] === fig3[1][0]).map((r) => (r[2] === '' ? NaN : Number(r[2])));
  const values = corr.semi_matching_values.filter((v) => typeof v === 'number').sort((a, b) => b - a);
  assert.deepEqual(semi.filter((v) => !Number.isNaN(v)), values);
  assert.deepEqual(errors, []);
  await page.close();
});

// The bundled example (tools/demo.sh) and a synthetic 4-net result with
// 4096-unit layers: page size and time to ready, written as benchmark
// figures. Usability is asserted (every layer draws, no page error), the
// figures only compared with the targets.
// The benchmark (CONVERGENT_REPORT_BENCH=1, or CONVERGENT_WEIGHT_RESULTS)
// measures the page of the bundled example's four nets, loaded three times.
// Without it (ctest, CI) the same checks run on two of the nets, loaded once:
// every layer renders without a panel error and the page is smaller than its
// matrices, at a third of the cost (CI's time budget, docs/ci.md).
const BENCH = process.env.CONVERGENT_REPORT_BENCH === '1' || !!process.env.CONVERGENT_WEIGHT_RESULTS;

test('page weight and load time of the bundled example' + (BENCH ? ' (benchmark)' : ' (two nets)'), { timeout: 900000 }, async () => {
  let results = process.env.CONVERGENT_WEIGHT_RESULTS;
  if (!results) {
    results = path.join(work, 'example');
    const ex = path.join(root, 'examples', 'fashion_mnist');
    const nets = (BENCH ? [1, 2, 3, 4] : [1, 2]).map((i) => path.join(ex, 'nets', 'net' + i + '.npz'));
    const rf = fs.readFileSync(path.join(ex, 'receptive_fields.txt'), 'utf8').trim();
    const c = run(CLI, ['compare', ...nets, '--out', results, '--overwrite', '--cross-layers', '--quiet',
      '--images', path.join(ex, 'images.npy'), '--receptive-field', rf]);
    assert.equal(c.status, 0, c.stderr);
  }
  const page0 = path.join(work, 'example.html');
  const w = run(CLI, ['report', results, '--out', page0]);
  assert.equal(w.status, 0, w.stderr);
  const bytes = fs.statSync(page0).size;
  let embedded = 0;
  const summary = JSON.parse(fs.readFileSync(path.join(results, 'summary.json'), 'utf8'));
  if (BENCH) {
    for (const layer of Object.values(summary.layers)) {
      for (const entry of Object.values(layer.files || {})) {
        for (const [kind, p] of Object.entries(entry)) if (!kind.endsWith('_matched')) embedded += fs.statSync(path.join(results, p)).size;
      }
    }
    assert.ok(bytes < embedded, 'the page (' + bytes + ' B) is smaller than its float32 matrices alone (' + embedded + ' B)');
  } else {
    // Two nets: the matrices weigh less than the viewer and the patches,
    // so the bound is every result file the page embeds (not the
    // *_matched.npy copies, which it rebuilds).
    const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).forEach((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (!e.name.endsWith('_matched.npy') && !e.name.endsWith('.html')) embedded += fs.statSync(p).size;
    });
    walk(results);
    assert.ok(bytes < embedded, 'the page (' + bytes + ' B) is smaller than the result files it embeds (' + embedded + ' B)');
  }
  const times = [];
  const phases = [];
  const mainThread = [];
  for (let i = 0; i < (BENCH ? 3 : 1); i++) {
    const { page, errors, readyMs, main } = await open(page0, '', { metrics: true });
    times.push(readyMs);
    mainThread.push(main);
    phases.push(await page.evaluate(() => Object.fromEntries(performance.getEntriesByType('mark')
      .filter((m) => m.name.startsWith('convergent:')).map((m) => [m.name.slice(11), Math.round(m.startTime)]))));
    if (i === 0) {
      const layers = await page.$$eval('#layer-select option', (o) => o.map((x) => x.textContent));
      for (const layer of layers.slice(1).concat(layers[0])) {
        await page.selectOption('#layer-select', { label: layer });
        const status = await page.$$eval('section.panel', (s) => s.filter((x) => x.dataset.status === 'error').map((x) => x.dataset.panel));
        assert.deepEqual(status, [], 'panels with errors in ' + layer);
        assert.equal(await page.evaluate(() => document.body.dataset.layer), layer);
      }
      await page.waitForSelector('section[data-panel="top_patches"] canvas[data-drawn="patches"]');
    }
    assert.deepEqual(errors, []);
    await page.close();
  }
  const median = times.slice().sort((a, b) => a - b)[times.length >> 1];
  // The same page without DevTools' Network domain (plain_load.mjs): one
  // load to start the browser, not counted, then three.
  const plain = BENCH ? (await plainLoads(CHROMIUM, page0, 4)).slice(1) : [];
  for (const load of plain) assert.equal(load.state, 'ready');
  const plainReady = plain.map((load) => load.marks.ready);
  const figures = {
    page: BENCH ? 'bundled example (examples/fashion_mnist, tools/demo.sh options)' : 'bundled example, nets 1 and 2 only (not the benchmark)', bytes, ready_ms: times, ready_ms_median: median,
    phases_ms: phases, main_thread_ms: mainThread,
    ready_ms_without_devtools_network: plainReady, phases_ms_without_devtools_network: plain.map((load) => load.marks), load_average: os.loadavg().map((v) => Number(v.toFixed(2))), cpus: os.cpus().length,
    target_bytes: TARGET_BYTES, target_ready_ms: TARGET_READY_MS,
    meets_bytes: bytes <= TARGET_BYTES, meets_ready_ms: median <= TARGET_READY_MS,
  };
  fs.writeFileSync(path.join(shots, 'report_weight.json'), JSON.stringify(figures, null, 2) + '\n');
  console.log('report weight: ' + (bytes / 1e6).toFixed(2) + ' MB (target ' + TARGET_BYTES / 1e6 + '), ready in ' +
    times.join(' / ') + ' ms (target ' + TARGET_READY_MS + ', load average ' + figures.load_average.join(' ') + '), script ' +
    mainThread.map((m) => m.ScriptDuration).join(' / ') + ' ms' +
    (plain.length ? '; without DevTools\' Network domain ready in ' + plainReady.join(' / ') + ' ms' : ''));
});
