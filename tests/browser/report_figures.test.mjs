// Browser test of the report's figures (Figs. 1, 3, 6, 13, 14 and the
// sparse-prediction plot): matched cells and the A/B boundary drawn on the
// heatmaps, zoom and pan with ticks that follow the visible range, the
// dendrogram drawn and collapsible, Fig. 14's curves each in its own sorted
// order, the reference line inside the plot area, hover read-outs of line
// plots, the colour maps (viridis for MI without the entropy diagonal, one
// scale shared by panels a-d) and the PNG / SVG export of each panel. Reads
// canvas pixels and the downloaded files; a screenshot of each panel goes to
// $CONVERGENT_SCREENSHOT_DIR (figures-*.png).
//
//   CONVERGENT_CLI=build/cli/convergent node --test tests/browser/report_figures.test.mjs
//
// Environment: as tests/browser/report.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = process.env.CONVERGENT_CLI;
const PYTHON = process.env.CONVERGENT_PYTHON || '/usr/bin/python3';
const CHROMIUM = process.env.CONVERGENT_CHROMIUM || '/usr/bin/chromium';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'convergent-figures-'));
const shots = process.env.CONVERGENT_SCREENSHOT_DIR || path.join(work, 'screenshots');
fs.mkdirSync(shots, { recursive: true });

const fixture = path.join(work, 'results');
let browser;
let summary;

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return r;
}

// float32/float64 C-order .npy -> {shape, at(r, c)}
function readNpy(file) {
  const buf = fs.readFileSync(file);
  assert.equal(buf.subarray(1, 6).toString('latin1'), 'NUMPY');
  const headerLength = buf[6] === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = buf[6] === 1 ? 10 : 12;
  const header = buf.subarray(start, start + headerLength).toString('latin1');
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const wide = header.match(/'descr':\s*'([^']*)'/)[1] === '<f8';
  const data = buf.subarray(start + headerLength);
  const cols = shape[shape.length - 1];
  return { shape, at: (r, c) => (wide ? data.readDoubleLE((r * cols + c) * 8) : data.readFloatLE((r * cols + c) * 4)) };
}

async function open() {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) errors.push('CSP: ' + m.text());
  });
  await page.goto(pathToFileURL(path.join(fixture, 'report.html')).href);
  await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 30000 });
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'ready');
  // `ready` comes when the panels of the first screen are drawn; the rest
  // are drawn right after it (body[data-drawn="all"]), and the checks below
  // look at every panel.
  await page.waitForSelector('body[data-drawn="all"]', { timeout: 30000 });
  // The sticky header would cover the top of a scrolled-to panel in the
  // screenshots and under the pointer.
  await page.evaluate(() => { document.querySelector('header').style.position = 'static'; });
  return { page, errors };
}

const heatmap = (name) => 'section[data-panel="' + name + '"] canvas.heatmap';

// Pixels of a canvas (device pixels) whose red, green and blue lie in the
// ranges [[rlo, rhi], [glo, ghi], [blo, bhi]] (inclusive); grey: r = g = b.
function countPixels(page, selector, ranges, { grey = false } = {}) {
  return page.$eval(selector, (c, [box, onlyGrey]) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (onlyGrey && !(d[i] === d[i + 1] && d[i + 1] === d[i + 2])) continue;
      if (box.every(([lo, hi], k) => d[i + k] >= lo && d[i + k] <= hi)) n++;
    }
    return n;
  }, [ranges, grey]);
}

// The pointer on display cell (row, col) of a heatmap at its current view;
// returns the tooltip text.
async function hoverDisplayCell(page, name, row, col) {
  const canvas = page.locator(heatmap(name));
  const g = await canvas.evaluate((c) => ({ w: c.clientWidth, h: c.clientHeight, view: JSON.parse(c.dataset.view) }));
  const [x0, y0, x1, y1] = g.view;
  await canvas.hover({ position: { x: (col + 0.5 - x0) / (x1 - x0) * g.w + 1, y: (row + 0.5 - y0) / (y1 - y0) * g.h + 1 } });
  await page.waitForSelector('#tooltip:not([hidden])');
  return page.locator('#tooltip').innerText();
}

const tooltipValue = (text) => Number(text.match(/value: (\S+)/)[1]);

// Clicks a panel's export button and returns the downloaded bytes and name.
async function exported(page, panelName, kind) {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('section[data-panel="' + panelName + '"] .f-tools button[data-action="' + kind + '"]').click(),
  ]);
  const file = await download.path();
  return { bytes: fs.readFileSync(file), name: download.suggestedFilename() };
}

function pngSize(bytes) {
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(bytes.subarray(12, 16).toString('latin1'), 'IHDR');
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

before(async () => {
  assert.ok(CLI, 'set CONVERGENT_CLI to a binary that takes `report DIR`');
  const made = run(PYTHON, [path.join(here, 'make_fixture.py'), fixture]);
  assert.equal(made.status, 0, 'make_fixture.py failed: ' + made.stderr);
  const r = run(CLI, ['report', fixture]);
  assert.equal(r.status, 0, 'convergent report failed: ' + r.stderr);
  summary = JSON.parse(fs.readFileSync(path.join(fixture, 'summary.json'), 'utf8'));
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

const MARK = [[0, 39], [201, 255], [91, 149]];  // the matched-cell outline, rgb(0, 230, 118)

test('a new window width draws the panels again at their new size', async () => {
  // At 1400 px Fig. 1 has two columns; at 1900 px the grid has three, so
  // each heatmap is drawn again for its new, narrower panel (and fits it).
  const { page, errors } = await open();
  const width = () => page.$eval(heatmap('between'), (c) => c.getBoundingClientRect().width);
  const body = () => page.$eval('section[data-panel="between"] .body', (b) => b.clientWidth);
  const plot = () => page.$eval('section[data-panel="fig3"] canvas', (c) => c.getBoundingClientRect().width);
  const [before, beforePlot] = [await width(), await plot()];
  const renders = await page.evaluate(() => Number(document.body.dataset.renders || 0));
  await page.setViewportSize({ width: 1900, height: 1000 });
  await page.waitForFunction((n) => Number(document.body.dataset.renders || 0) > n, renders, { timeout: 10000 });
  const [after, afterPlot] = [await width(), await plot()];
  assert.ok(after !== before && after <= (await body()), 'heatmap ' + before + ' px -> ' + after + ' px');
  assert.ok(afterPlot !== beforePlot, 'Fig. 3 ' + beforePlot + ' px -> ' + afterPlot + ' px');
  // A change of the height alone draws nothing again.
  const drawn = await page.evaluate(() => Number(document.body.dataset.renders || 0));
  await page.setViewportSize({ width: 1900, height: 800 });
  await page.waitForTimeout(500);
  assert.equal(await page.evaluate(() => Number(document.body.dataset.renders || 0)), drawn);
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'ready');
  assert.deepEqual(errors, []);
  await page.close();
});

test('Fig. 1d: matched cells outlined, rows sortable by matched value', async () => {
  const { page, errors } = await open();
  const al = summary.layers.conv1.pairs['net1~net2'].correlation;
  const matched = al.matching.filter((c) => c >= 0).length;
  assert.equal(await page.getAttribute(heatmap('matched'), 'data-marks'), String(matched));
  // Outlines on Fig. 1d and nowhere on Fig. 1c.
  const marked = await countPixels(page, heatmap('matched'), MARK);
  assert.ok(marked > matched * 8, 'matched-cell outlines: ' + marked + ' pixels');
  assert.equal(await countPixels(page, heatmap('between'), MARK), 0);
  // The outline of row 3's matched cell, on its left edge.
  const position = al.matched_order.indexOf(al.matching[3]);
  const edge = await page.$eval(heatmap('matched'), (c, [row, col, cols]) => {
    const s = c.width / cols, d = c.getContext('2d').getImageData(Math.round(col * s), Math.floor((row + 0.5) * s), 1, 1).data;
    return [d[0], d[1], d[2]];
  }, [3, position, al.matched_order.length]);
  assert.deepEqual(edge, [0, 230, 118]);

  // Sorted: display row 0 is the unit with the highest matched value, its
  // partner in column 0, and every matched cell on the diagonal.
  await page.locator('#matched-sort').check();
  const best = al.matching_values.reduce((b, v, r) => (v !== null && v > al.matching_values[b] ? r : b), 0);
  const text = await hoverDisplayCell(page, 'matched', 0, 0);
  assert.match(text, new RegExp('net1 unit ' + best + '\\b'));
  assert.match(text, new RegExp('col \\d+: net2 unit ' + al.matching[best] + '\\b'));
  const corr = readNpy(path.join(fixture, 'conv1/net1~net2.corr.npy'));
  assert.ok(Math.abs(tooltipValue(text) - corr.at(best, al.matching[best])) < 2e-3, text);  // float16 payload
  const diagonal = await page.$eval(heatmap('matched'), (c, n) => {
    const s = c.width / n, ctx = c.getContext('2d');
    let hits = 0;
    for (let i = 0; i < n; i++) {
      const d = ctx.getImageData(Math.round(i * s), Math.floor((i + 0.5) * s), 1, 1).data;
      if (d[0] === 0 && d[1] === 230 && d[2] === 118) hits++;
    }
    return hits;
  }, matched);
  assert.equal(diagonal, matched, 'every matched cell outlined on the diagonal');
  assert.match(await page.locator('section[data-panel="matched"] .f-axis-left').getAttribute('class'), /f-axis-left/);
  await page.locator('section[data-panel="matched"]').screenshot({ path: path.join(shots, 'figures-matched-sorted.png') });
  assert.deepEqual(errors, []);
  await page.close();
});

test('Fig. 13: net strips in clustered order, the A/B boundary when grouped by net', async () => {
  const { page, errors } = await open();
  const sa = summary.layers.conv1.units.net1, n = sa + summary.layers.conv1.units.net2;
  const perm = summary.layers.conv1.clusters['net1~net2'].permutation;
  // Dark boundary pixels: none in clustered order.
  const BLACK = [[0, 29], [0, 29], [0, 29]];
  assert.equal(await countPixels(page, heatmap('clusters'), BLACK), 0);
  // The membership strip: net A's colour on the left axis exactly for A's rows.
  const strip = await page.$eval('section[data-panel="clusters"] .f-axis-left', (c, count) => {
    const ratio = window.devicePixelRatio || 1, ctx = c.getContext('2d'), h = c.height / count, out = [];
    for (let i = 0; i < count; i++) {
      const d = ctx.getImageData(Math.round((52 - 4) * ratio), Math.floor((i + 0.5) * h), 1, 1).data;
      out.push(d[0] === 0x2f && d[1] === 0x6f && d[2] === 0xb2 ? 0 : d[0] === 0xd9 && d[1] === 0x62 && d[2] === 0x2b ? 1 : -1);
    }
    return out;
  }, n);
  assert.deepEqual(strip, perm.map((u) => (u < sa ? 0 : 1)));

  await page.locator('#clusters-by-net').check();
  assert.equal(await page.getAttribute(heatmap('clusters'), 'data-boundary'), String(sa));
  const column = await page.$eval(heatmap('clusters'), (c, [at, count]) => {
    const x = Math.round(at / count * c.width), d = c.getContext('2d').getImageData(x, 0, 1, c.height).data;
    let dark = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 30 && d[i + 1] < 30 && d[i + 2] < 30) dark++;
    return dark / c.height;
  }, [sa, n]);
  assert.ok(column > 0.95, 'boundary column dark for ' + column);
  // Rows before the boundary are net A's, after it net B's.
  assert.match(await hoverDisplayCell(page, 'clusters', sa - 1, sa), /row \d+: net1 unit \d+[\s\S]*col \d+: net2 unit/);
  assert.match(await hoverDisplayCell(page, 'clusters', sa + 1, 0), /row \d+: net2 unit \d+[\s\S]*col \d+: net1 unit/);
  await page.locator('section[data-panel="clusters"]').screenshot({ path: path.join(shots, 'figures-clusters-by-net.png') });
  assert.deepEqual(errors, []);
  await page.close();
});

test('zoom about the cursor, pan and reset; ticks follow the visible range', async () => {
  const { page, errors } = await open();
  const canvas = page.locator(heatmap('between'));
  const ticks = async () => JSON.parse(await canvas.getAttribute('data-x-ticks'));
  const view = async () => JSON.parse(await canvas.getAttribute('data-view'));
  const cols = summary.layers.conv1.units.net2;
  assert.deepEqual(await view(), [0, 0, cols, summary.layers.conv1.units.net1]);
  const before = await ticks();
  assert.equal(before[0], 0);
  assert.ok(before[before.length - 1] >= cols - 5);

  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  await page.mouse.move(box.x + box.width * 0.75, box.y + box.height * 0.75);
  await page.mouse.wheel(0, -600);
  await page.waitForFunction(([sel, n]) => {
    const v = JSON.parse(document.querySelector(sel).dataset.view);
    return v[2] - v[0] < n / 1.5;
  }, [heatmap('between'), cols]);
  const zoomed = await view();
  assert.ok(zoomed[2] - zoomed[0] < cols / 1.5, 'zoomed in: ' + zoomed);
  // About the cursor: the cell under the pointer (3/4 of the way) stays there.
  const under = 0.75 * cols;
  assert.ok(Math.abs(zoomed[0] + 0.75 * (zoomed[2] - zoomed[0]) - under) < 0.05, 'fixed point ' + zoomed);
  const after = await ticks();
  assert.ok(after[0] > 0, 'the first tick follows the view: ' + after);
  assert.ok(after.every((t) => t >= Math.floor(zoomed[0]) && t < zoomed[2]), after + ' in ' + zoomed);
  assert.notDeepEqual(after, before);
  // Hover still reads the right cell of the zoomed view.
  const corr = readNpy(path.join(fixture, 'conv1/net1~net2.corr.npy'));
  const r = Math.ceil(zoomed[1]) + 1, c = Math.ceil(zoomed[0]) + 1;
  const text = await hoverDisplayCell(page, 'between', r, c);
  assert.match(text, new RegExp('row ' + r + ': net1 unit ' + r + '\\b[\\s\\S]*col ' + c + ': net2 unit ' + c + '\\b'));
  assert.ok(Math.abs(tooltipValue(text) - corr.at(r, c)) < 2e-3, text);  // float16 payload
  await page.locator('section[data-panel="between"]').screenshot({ path: path.join(shots, 'figures-between-zoomed.png') });

  // Drag to pan left: the view moves towards column 0, its width unchanged.
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.5);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5, { steps: 5 });
  await page.mouse.up();
  const panned = await view();
  assert.ok(panned[0] < zoomed[0] - 1, 'panned: ' + panned + ' from ' + zoomed);
  assert.ok(Math.abs((panned[2] - panned[0]) - (zoomed[2] - zoomed[0])) < 1e-6);
  assert.equal(await page.evaluate(() => document.body.dataset.selectedPair), undefined, 'a drag is not a click');

  // The reset button and double-click give the whole matrix back; keys zoom.
  await page.locator('section[data-panel="between"] .f-tools button[data-action="reset"]').click();
  assert.deepEqual(await view(), [0, 0, cols, summary.layers.conv1.units.net1]);
  await canvas.focus();
  await page.keyboard.press('+');
  assert.ok((await view())[2] < cols, 'the + key zooms in');
  await canvas.dblclick();
  assert.deepEqual(await ticks(), before);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the cluster tree is a dendrogram; a click on a node collapses and expands it', async () => {
  const { page, errors } = await open();
  const tree = summary.layers.conv1.clusters['net1~net2'].clusters;
  const leaves = tree.filter((c) => c.leaf).length;
  const canvas = page.locator('section[data-panel="cluster_tree"] canvas.f-dendrogram');
  assert.equal(await canvas.getAttribute('data-visible-leaves'), String(leaves));
  // Branch ink and one accent-blue marker per inner node.
  assert.ok(await countPixels(page, 'section[data-panel="cluster_tree"] canvas.f-dendrogram', [[0x3a, 0x3a], [0x41, 0x41], [0x50, 0x50]]) > 200,
    'branches drawn');
  const nodes = JSON.parse(await canvas.getAttribute('data-nodes'));
  const inner = tree.filter((c) => !c.leaf);
  assert.deepEqual(Object.keys(nodes).map(Number).sort((x, y) => x - y), inner.map((c) => c.id).sort((x, y) => x - y));
  // Branch lengths: a leaf with higher between-net similarity ends further right.
  const tips = await canvas.evaluate((c) => c.dataset.nodes);
  assert.ok(tips.length > 2);

  const target = inner[0];
  const children = tree.filter((c) => c.parent === target.id).length;
  const inkBefore = await countPixels(page, 'section[data-panel="cluster_tree"] canvas.f-dendrogram', [[0x3a, 0x3a], [0x41, 0x41], [0x50, 0x50]]);
  await canvas.click({ position: { x: nodes[target.id][0], y: nodes[target.id][1] } });
  const collapsed = page.locator('section[data-panel="cluster_tree"] canvas.f-dendrogram');
  assert.deepEqual(JSON.parse(await collapsed.getAttribute('data-collapsed')), [target.id]);
  assert.equal(await collapsed.getAttribute('data-visible-leaves'), String(leaves - children + 1));
  const inkAfter = await countPixels(page, 'section[data-panel="cluster_tree"] canvas.f-dendrogram', [[0x3a, 0x3a], [0x41, 0x41], [0x50, 0x50]]);
  assert.ok(inkAfter < inkBefore, 'fewer branches drawn: ' + inkAfter + ' vs ' + inkBefore);
  // The text list below hides the same subtree.
  const rows = await page.$$eval('section[data-panel="cluster_tree"] .tree div', (d) => d.map((x) => Number(x.dataset.cluster)));
  assert.equal(rows.length, tree.length - children);
  assert.ok(rows.includes(target.id));
  await page.locator('section[data-panel="cluster_tree"]').screenshot({ path: path.join(shots, 'figures-dendrogram-collapsed.png') });
  // Expanding from the text list (keyboard) restores it.
  await page.locator('section[data-panel="cluster_tree"] .tree div[data-cluster="' + target.id + '"]').focus();
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('section[data-panel="cluster_tree"] canvas.f-dendrogram').getAttribute('data-visible-leaves'), String(leaves));
  assert.deepEqual(errors, []);
  await page.close();
});

test('Fig. 14: each curve in its own decreasing order; reference line inside the plot', async () => {
  const { page, errors } = await open();
  const c = summary.layers.conv1.clusters['net1~net2'];
  // The results list the within-net values in between-net order: not monotone.
  const within = c.sorted_within_net_similarity;
  assert.ok(within.some((v, i) => i > 0 && v > within[i - 1]), 'fixture within-net curve should spike');
  const series = JSON.parse(await page.getAttribute('section[data-panel="fig14"] canvas', 'data-series'));
  const decreasing = (ys) => ys.every((v, i) => i === 0 || v <= ys[i - 1]);
  assert.ok(decreasing(series[0]), 'between-net curve: ' + series[0]);
  assert.ok(decreasing(series[1]), 'within-net curve: ' + series[1]);
  assert.deepEqual([...series[1]].sort((x, y) => x - y), [...within].sort((x, y) => x - y));
  // Pixels: the within-net curve's (second colour) height never rises left to right.
  const heights = await page.$eval('section[data-panel="fig14"] canvas', (canvas) => {
    const ctx = canvas.getContext('2d'), out = [];
    const ratio = window.devicePixelRatio || 1;
    for (let x = Math.round(70 * ratio); x < canvas.width - 20 * ratio; x += 4) {
      const d = ctx.getImageData(x, 0, 1, canvas.height).data;
      for (let y = Math.round(40 * ratio); y < canvas.height; y++) {
        const i = 4 * y;
        if (Math.abs(d[i] - 0xd9) < 30 && Math.abs(d[i + 1] - 0x62) < 30 && Math.abs(d[i + 2] - 0x2b) < 30) { out.push(y); break; }
      }
    }
    return out;
  });
  assert.ok(heights.length > 20);
  assert.ok(heights.every((y, i) => i === 0 || y >= heights[i - 1] - 2), 'within-net curve pixels: ' + heights);
  await page.locator('section[data-panel="fig14"]').screenshot({ path: path.join(shots, 'figures-fig14.png') });

  // Sparse prediction: the 0.5 line (dashed, second colour) lies below the
  // top of the plot frame, not on it.
  const gap = await page.$eval('section[data-panel="sparse"] canvas', (canvas) => {
    const ctx = canvas.getContext('2d'), ratio = window.devicePixelRatio || 1;
    let frame = null, line = null;
    for (let x = Math.round(100 * ratio); x < Math.round(400 * ratio) && (frame === null || line === null); x++) {
      const d = ctx.getImageData(x, 0, 1, canvas.height).data;
      for (let y = 0; y < canvas.height; y++) {
        const i = 4 * y;
        if (frame === null && d[i] === 0x8a && d[i + 1] === 0x93 && d[i + 2] === 0xa3) frame = y;
        if (line === null && y > 40 * ratio && Math.abs(d[i] - 0xd9) < 20 && Math.abs(d[i + 1] - 0x62) < 20 && Math.abs(d[i + 2] - 0x2b) < 20) line = y;
      }
    }
    return [frame, line, ratio];
  });
  assert.ok(gap[0] !== null && gap[1] !== null, 'frame and reference line found: ' + gap);
  assert.ok(gap[1] - gap[0] >= 8 * gap[2], 'reference line ' + gap[1] + ' vs frame top ' + gap[0]);
  await page.locator('section[data-panel="sparse"]').screenshot({ path: path.join(shots, 'figures-sparse.png') });
  assert.deepEqual(errors, []);
  await page.close();
});

test('hover on a line plot shows the unit and its value (Fig. 3)', async () => {
  const { page, errors } = await open();
  const al = summary.layers.conv1.pairs['net1~net2'].correlation;
  const canvas = page.locator('section[data-panel="fig3"] canvas');
  const [x, y] = await canvas.evaluate((c, v) => c.toPixel(0, v), al.fig3_semi_matching[0]);
  await canvas.hover({ position: { x, y } });
  await page.waitForSelector('#tooltip:not([hidden])');
  const text = await page.locator('#tooltip').innerText();
  assert.match(text, /semi-matching/);
  assert.match(text, new RegExp('rank 0: net1 unit ' + al.fig3_order[0] + ' → net2 unit ' + al.semi_matching[al.fig3_order[0]] + '\\b'));
  assert.ok(Math.abs(tooltipValue(text) - al.fig3_semi_matching[0]) < 1e-4, text);
  assert.deepEqual(errors, []);
  await page.close();
});

test('colour maps: viridis for MI without the entropy diagonal; one scale for panels a-d', async () => {
  const { page, errors } = await open();
  const legend = (name) => page.$eval('section[data-panel="' + name + '"] .legend', (l) =>
    [l.dataset.colours, ...[...l.querySelectorAll('span')].slice(0, 2).map((s) => Number(s.textContent))]);
  assert.equal((await legend('within_a'))[0], 'diverging', 'correlation: diverging');
  await page.selectOption('#layer-select', { label: 'conv2' });
  await page.selectOption('#measure-select', 'mi');
  const mi = readNpy(path.join(fixture, 'conv2/net1~net1.mi.npy'));
  const n = mi.shape[0];
  let offDiagonal = 0, diagonal = Infinity;
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (r === c) diagonal = Math.min(diagonal, mi.at(r, c)); else offDiagonal = Math.max(offDiagonal, mi.at(r, c));
    }
  }
  assert.ok(diagonal > offDiagonal, 'fixture: entropy above every pairwise MI');
  const [map, lo, hi] = await legend('within_a');
  assert.equal(map, 'viridis');
  assert.doesNotMatch(await page.locator('section[data-panel="within_a"] .legend').textContent(), /8-bit/,
    'values read from the embedded .npy, not from grey levels');
  assert.equal(lo, 0);
  assert.ok(Math.abs(hi - offDiagonal) <= 0.01 * offDiagonal + 1e-3, 'scale top ' + hi + ' vs largest off-diagonal MI ' + offDiagonal);
  // Viridis colours, not grey: its dark purple end and yellow-green top.
  assert.ok(await countPixels(page, heatmap('within_a'), [[201, 255], [201, 255], [0, 79]]) > 0, 'viridis top colour present');
  assert.equal(await countPixels(page, heatmap('within_a'), [[1, 254], [1, 254], [1, 254]], { grey: true }), 0, 'no grey pixels');
  await page.locator('section[data-panel="within_a"]').screenshot({ path: path.join(shots, 'figures-within-mi-viridis.png') });

  const separate = await Promise.all(['within_a', 'within_b', 'between', 'matched'].map(legend));
  await page.locator('#shared-scale').check();
  const shared = await Promise.all(['within_a', 'within_b', 'between', 'matched'].map(legend));
  for (const l of shared) assert.deepEqual(l, shared[0]);
  assert.equal(shared[0][2], Math.max(...separate.map((l) => l[2])), 'the shared top is the largest panel top');
  await page.selectOption('#colour-select', 'magma');
  assert.equal((await legend('between'))[0], 'magma');
  for (const name of ['within_a', 'within_b', 'between', 'matched']) {
    await page.locator('section[data-panel="' + name + '"]').screenshot({ path: path.join(shots, 'figures-' + name + '-mi-shared.png') });
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('export: PNG and SVG of heatmaps, line plots and the dendrogram', async () => {
  const { page, errors } = await open();
  const between = await exported(page, 'between', 'png');
  assert.match(between.name, /^convergent_conv1_net1-net2_between\.png$/);
  const [w, h] = pngSize(between.bytes);
  const box = await page.locator(heatmap('between')).boundingBox();
  assert.ok(w > box.width && h > box.height, 'PNG holds the matrix and its axes: ' + w + 'x' + h);

  const svg = (await exported(page, 'between', 'svg')).bytes.toString('utf8');
  assert.match(svg, /^<\?xml[^>]*>\s*<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal((svg.match(/<svg/g) || []).length, 1);
  assert.match(svg, /<image [^>]*href="data:image\/png;base64,/);
  assert.match(svg, /net2 units/);
  assert.match(svg, /<\/svg>\s*$/);

  const plotSvg = (await exported(page, 'fig3', 'svg')).bytes.toString('utf8');
  assert.match(plotSvg, /<polyline points="[\d.,\s-]+"/, 'the curve is vector');
  assert.ok((plotSvg.match(/<circle /g) || []).length >= summary.layers.conv1.units.net1 - 4, 'matching points');
  assert.match(plotSvg, /correlation of the pair/);
  pngSize((await exported(page, 'fig3', 'png')).bytes);

  const tree = (await exported(page, 'cluster_tree', 'svg')).bytes.toString('utf8');
  assert.ok((tree.match(/<line /g) || []).length > summary.layers.conv1.clusters['net1~net2'].clusters.length, 'branches as lines');
  assert.match(tree, />#1 A\[/);
  pngSize((await exported(page, 'cluster_tree', 'png')).bytes);
  pngSize((await exported(page, 'fig14', 'png')).bytes);
  assert.match((await exported(page, 'sparse', 'svg')).bytes.toString('utf8'), /stroke-dasharray/);

  // Keyboard: the export buttons and selectors are real, labelled controls.
  assert.equal(await page.$$eval('.f-tools button', (b) => b.every((x) => x.tagName === 'BUTTON' && x.type === 'button')), true);
  assert.equal(await page.$eval('#colour-select', (s) => s.closest('label') !== null), true);
  assert.deepEqual(errors, []);
  await page.close();
});

test('screenshots of every drawn panel', async () => {
  const { page, errors } = await open();
  const names = await page.$$eval('section.panel[data-status="ok"]', (s) => s.map((x) => x.dataset.panel));
  assert.ok(names.length >= 12, names.join(', '));
  for (const name of names) {
    await page.locator('section[data-panel="' + name + '"]').screenshot({ path: path.join(shots, 'figures-panel-' + name + '.png') });
  }
  assert.deepEqual(errors, []);
  await page.close();
});
