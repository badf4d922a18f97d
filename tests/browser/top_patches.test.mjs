// Browser test of the top-patches panels (Figs. 2, 4-7, 12): a compare run
// with --images and --receptive-field on synthetic images whose pixel values
// encode the image index, so the patch drawn for a unit can be checked
// pixel by pixel against its top-k file; a click on a pair, a heatmap cell
// or a point of the Fig. 3 curve opens both units and their joint
// histogram; the top clusters and the cluster tree's leaves show patches.
//
//   CONVERGENT_CLI=build/cli/convergent node --test tests/browser/top_patches.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readPage } from './payload.mjs';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const CLI = process.env.CONVERGENT_CLI;
const PYTHON = process.env.CONVERGENT_PYTHON || '/usr/bin/python3';
const CHROMIUM = process.env.CONVERGENT_CHROMIUM || '/usr/bin/chromium';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'convergent-patches-'));
let browser;

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, cmd + ' ' + args.join(' ') + ': ' + r.stderr);
  return r;
}

// int64 / float32 C-order .npy -> {shape, data}
function readNpy(file) {
  const buf = fs.readFileSync(file);
  const headerLength = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + headerLength).toString('latin1');
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const descr = header.match(/'descr':\s*'([^']*)'/)[1];
  const body = buf.subarray(10 + headerLength);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = [];
  for (let i = 0; i < n; i++) data.push(descr === '<i8' ? Number(body.readBigInt64LE(8 * i)) : body.readFloatLE(4 * i));
  return { shape, data };
}

before(async () => {
  assert.ok(CLI, 'CONVERGENT_CLI must name the convergent binary');
  // 40 images of 12 x 12: pixel (r, c) of image i = 5 * i + (r + c) % 5 + 1
  // (never 0, so padding is visible); conv map 3 x 3 with field 6, stride 3, padding 1.
  const script = `
import numpy as np, sys
d = sys.argv[1]
rng = np.random.default_rng(1)
n = 40
r, c = np.meshgrid(np.arange(12), np.arange(12), indexing="ij")
images = np.stack([5 * i + (r + c) % 5 + 1 for i in range(n)]).astype(np.uint8)
np.save(d + "/images.npy", images)
base = rng.normal(size=(n, 4, 3, 3)).astype(np.float32)
dense = rng.normal(size=(n, 5)).astype(np.float32)
for k, net in enumerate(("a", "b")):
    np.savez(d + f"/{net}.npz", conv=np.maximum(base[:, ::(1 if k == 0 else -1)] + 0.3 * rng.normal(size=base.shape), 0).astype(np.float32),
             fc=(dense + 0.2 * rng.normal(size=dense.shape)).astype(np.float32))
`;
  run(PYTHON, ['-c', script, work]);
  run(CLI, ['compare', path.join(work, 'a.npz'), path.join(work, 'b.npz'), '--out', path.join(work, 'out'),
    '--images', path.join(work, 'images.npy'), '--receptive-field', 'conv=6,3,1', '--no-sparse', '--mi-samples', '200']);
  run(CLI, ['report', path.join(work, 'out')]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  if (browser) await browser.close();
});

async function open() {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(pathToFileURL(path.join(work, 'out', 'report.html')).href);
  await page.waitForSelector('body[data-state="ready"]', { timeout: 30000 });
  // `ready` comes when the panels of the first screen are drawn; the rest
  // are drawn right after it (body[data-drawn="all"]), and the checks below
  // look at every panel.
  await page.waitForSelector('body[data-drawn="all"]', { timeout: 30000 });
  // A switch to a layer whose files are not decoded yet draws once they are.
  const select = page.selectOption.bind(page);
  page.selectOption = async (...args) => {
    const chosen = await select(...args);
    await page.waitForFunction(() => document.body.dataset.loading !== '1');
    return chosen;
  };
  return { page, errors };
}

// Grey value at the centre of patch j of a unit canvas (cells of cell px).
async function patchCentres(page, selector, k, cell) {
  await page.waitForSelector(selector + '[data-drawn="patches"]');
  return page.evaluate(([sel, k, cell]) => {
    const canvas = document.querySelector(sel);
    const ctx = canvas.getContext('2d');
    const side = Math.ceil(Math.sqrt(k));
    const out = [];
    for (let j = 0; j < k; j++) {
      // pixel (2, 2) of the patch: inside the image for every position here
      const x = (j % side) * cell + Math.floor(2.5 * cell / 6), y = Math.floor(j / side) * cell + Math.floor(2.5 * cell / 6);
      out.push(Array.from(ctx.getImageData(x, y, 1, 1).data));
    }
    return out;
  }, [selector, k, cell]);
}

test('Figs. 2 and 4: best and worst pairs show each unit\'s top-k patches (pixel check)', async () => {
  const { page, errors } = await open();
  await page.selectOption('#layer-select', { label: 'conv' });
  const status = await page.evaluate(() => document.querySelector('section[data-panel="top_patches"]').dataset.status);
  assert.equal(status, 'ok');
  const pairs = await page.$$eval('section[data-panel="top_patches"] .unit-pair', (els) => els.map((e) => e.dataset.pair));
  assert.equal(pairs.length, 2 * 2 * 4);  // (best + worst) x (corr + MI), 4 units per net here
  const top = readNpy(path.join(work, 'out', 'conv', 'a.topk.npy'));
  const pos = readNpy(path.join(work, 'out', 'conv', 'a.topk_positions.npy'));
  const [first] = pairs;
  const unit = Number(first.split('~')[0].split(':')[1]);
  const centres = await patchCentres(page,
    'section[data-panel="top_patches"] .unit-pair[data-pair="' + first + '"] canvas[data-net="a"]', 9, 30);
  for (let j = 0; j < 9; j++) {
    const image = top.data[unit * 9 + j];
    const p = pos.data[unit * 9 + j];
    const y = Math.floor(p / 3), x = p % 3;
    // patch pixel (2, 2) is image pixel (3y - 1 + 2, 3x - 1 + 2)
    const expected = 5 * image + ((3 * y + 1) + (3 * x + 1)) % 5 + 1;
    assert.deepEqual(centres[j], [expected, expected, expected, 255], 'patch ' + j + ' of unit ' + unit);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('a click on a pair or a heatmap cell opens both units and their joint histogram (Fig. 7)', async () => {
  const { page, errors } = await open();
  await page.selectOption('#layer-select', { label: 'conv' });
  const first = await page.$eval('section[data-panel="top_patches"] .unit-pair', (e) => e.dataset.pair);
  await page.click('section[data-panel="top_patches"] .unit-pair[data-pair="' + first + '"]');
  assert.equal(await page.evaluate(() => document.body.dataset.selectedPair), first);
  const [ua, ub] = first.split('~').map((s) => s.split(':')[1]);
  await page.waitForSelector('section[data-panel="unit_pair"] canvas[data-net="a"][data-unit="' + ua + '"][data-drawn="patches"]');
  await page.waitForSelector('section[data-panel="unit_pair"] canvas[data-net="b"][data-unit="' + ub + '"][data-drawn="patches"]');
  // The joint histogram has dark (counted) and white (empty) bins.
  const shades = await page.$eval('section[data-panel="unit_pair"] canvas.joint', (c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < d.length; i += 4) seen.add(d[i]);
    return [...seen];
  });
  assert.ok(shades.includes(255) && shades.some((v) => v < 200), 'joint histogram shades ' + shades);
  // A click on the between-net heatmap's top-left cell: unit 0 of a and unit 0 of b.
  await page.locator('section[data-panel="between"] canvas.heatmap').click({ position: { x: 2, y: 2 } });
  assert.equal(await page.evaluate(() => document.body.dataset.selectedPair), 'a:0~b:0');
  await page.waitForSelector('section[data-panel="unit_pair"] canvas[data-net="b"][data-unit="0"][data-drawn="patches"]');
  assert.deepEqual(errors, []);
  await page.close();
});

// Expected grey of patch pixel (2, 2) for a unit's j-th best input (see the
// fixture above: field 6, stride 3, padding 1 on a 3 x 3 map).
function expectedCentres(net, unit) {
  const top = readNpy(path.join(work, 'out', 'conv', net + '.topk.npy'));
  const pos = readNpy(path.join(work, 'out', 'conv', net + '.topk_positions.npy'));
  const out = [];
  for (let j = 0; j < 9; j++) {
    const image = top.data[unit * 9 + j], p = pos.data[unit * 9 + j];
    const y = Math.floor(p / 3), x = p % 3;
    const v = 5 * image + ((3 * y + 1) + (3 * x + 1)) % 5 + 1;
    out.push([v, v, v, 255]);
  }
  return out;
}

test('Figs. 5 and 12: the clusters with the highest between-net similarity show their units\' patches (pixel check)', async () => {
  const { page, errors } = await open();
  await page.selectOption('#layer-select', { label: 'conv' });
  const summary = JSON.parse(fs.readFileSync(path.join(work, 'out', 'summary.json'), 'utf8'));
  const clustering = summary.layers.conv.clusters['a~b'];
  const nodes = new Map(clustering.clusters.map((c) => [c.id, c]));
  const both = clustering.leaves_by_similarity.filter((id) => nodes.get(id).members.a.length && nodes.get(id).members.b.length);
  assert.equal(await page.$eval('section[data-panel="cluster_patches"]', (s) => s.dataset.status), 'ok');
  const shown = await page.$$eval('section[data-panel="cluster_patches"] .cluster', (els) => els.map((e) => Number(e.dataset.cluster)));
  assert.deepEqual(shown, both.slice(0, 12), 'leaf clusters in decreasing between-net similarity');
  const first = nodes.get(shown[0]);
  const label = await page.$eval('section[data-panel="cluster_patches"] .cluster[data-rank="1"] .cluster-label', (e) => e.textContent);
  assert.match(label, new RegExp('b = ' + Number(first.between_net_similarity.toPrecision(3))));
  assert.match(label, new RegExp('w = ' + Number(first.within_net_similarity.toPrecision(3))));
  for (const net of ['a', 'b']) {
    const units = await page.$$eval('section[data-panel="cluster_patches"] .cluster[data-rank="1"] .cluster-side[data-net="' + net + '"] canvas',
      (els) => els.map((e) => Number(e.dataset.unit)));
    assert.deepEqual(units, first.members[net], net + '\'s members of cluster ' + shown[0]);
    const unit = first.members[net][0];
    const centres = await patchCentres(page, 'section[data-panel="cluster_patches"] .cluster[data-rank="1"] canvas[data-net="' +
      net + '"][data-unit="' + unit + '"]', 9, 20);
    assert.deepEqual(centres, expectedCentres(net, unit), net + ' unit ' + unit);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('Fig. 6: the cluster tree\'s leaves show thumbnails of their units\' best input', async () => {
  const { page, errors } = await open();
  await page.selectOption('#layer-select', { label: 'conv' });
  const summary = JSON.parse(fs.readFileSync(path.join(work, 'out', 'summary.json'), 'utf8'));
  const leaves = summary.layers.conv.clusters['a~b'].clusters.filter((c) => c.leaf);
  await page.waitForSelector('section[data-panel="cluster_tree"] canvas.thumbs[data-drawn="patches"]');
  const strips = await page.$$eval('section[data-panel="cluster_tree"] .tree div', (ds) =>
    ds.filter((d) => d.querySelector('canvas.thumbs')).map((d) => [Number(d.dataset.cluster), d.querySelector('canvas.thumbs').dataset.units]));
  assert.equal(strips.length, leaves.length, 'one strip per leaf');
  const inner = await page.$$eval('section[data-panel="cluster_tree"] .tree div.inner canvas', (c) => c.length);
  assert.equal(inner, 0, 'inner nodes stay text');
  for (const [id, units] of strips) {
    const c = leaves.find((l) => l.id === id);
    assert.equal(units, c.members.a.slice(0, 3).map((u) => 'a:' + u).join(',') + '|' + c.members.b.slice(0, 3).map((u) => 'b:' + u).join(','));
  }
  // Pixel check of one leaf: the centre of each thumbnail (14 px cells with a
  // 1 px frame, 8 px between the nets) is patch pixel (2 or 3, ...) of the best input.
  const [id] = strips[0];
  const c = leaves.find((l) => l.id === id);
  await page.waitForSelector('section[data-panel="cluster_tree"] .tree div[data-cluster="' + id + '"] canvas.thumbs[data-drawn="patches"]');
  const got = await page.$eval('section[data-panel="cluster_tree"] .tree div[data-cluster="' + id + '"] canvas.thumbs', (canvas) => {
    const ctx = canvas.getContext('2d');
    const out = [];
    for (let x = 1; x + 14 <= canvas.width; x += 16) out.push(Array.from(ctx.getImageData(x + 6, 1 + 6, 1, 1).data));
    return out;
  });
  // 14 px cell over a 6 px patch: cell pixel 6 is patch pixel floor(6 * 6 / 14) = 2.
  assert.deepEqual(got[0], expectedCentres('a', c.members.a[0])[0]);
  const bx = await page.$eval('section[data-panel="cluster_tree"] .tree div[data-cluster="' + id + '"] canvas.thumbs', (canvas) => {
    const [a] = canvas.dataset.units.split('|');
    const x = a.split(',').length * 16 + 8 + 1 + 6;
    return Array.from(canvas.getContext('2d').getImageData(x, 7, 1, 1).data);
  });
  assert.deepEqual(bx, expectedCentres('b', c.members.b[0])[0]);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a click on a point of the Fig. 3 curve opens that pair', async () => {
  const { page, errors } = await open();
  await page.selectOption('#layer-select', { label: 'conv' });
  const summary = JSON.parse(fs.readFileSync(path.join(work, 'out', 'summary.json'), 'utf8'));
  const al = summary.layers.conv.pairs['a~b'].correlation;
  for (const rank of [0, 3]) {
    const row = al.fig3_order[rank];
    const at = await page.$eval('section[data-panel="fig3"] canvas[data-plot="fig3"]', (c, [i, y]) => c.toPixel(i, y),
      [rank, al.fig3_semi_matching[rank]]);
    await page.locator('section[data-panel="fig3"] canvas[data-plot="fig3"]').click({ position: { x: at[0], y: at[1] } });
    const expected = 'a:' + row + '~b:' + al.semi_matching[row];
    assert.equal(await page.evaluate(() => document.body.dataset.selectedPair), expected, 'rank ' + rank);
    await page.waitForSelector('section[data-panel="unit_pair"] canvas[data-net="a"][data-unit="' + row + '"][data-drawn="patches"]');
    const centres = await patchCentres(page, 'section[data-panel="unit_pair"] canvas[data-net="a"][data-unit="' + row + '"]', 9, 48);
    assert.deepEqual(centres, expectedCentres('a', row));
    assert.match(await page.$eval('section[data-panel="unit_pair"] .body', (b) => b.textContent), /semi-matching, rank \d/);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('Fig. 7 from the pre-binned joint sample equals the histogram of the float32 sample', async () => {
  const { page, errors } = await open();
  await page.selectOption('#layer-select', { label: 'conv' });
  const html = fs.readFileSync(path.join(work, 'out', 'report.html'), 'utf8');
  const { payload, inflated } = readPage(html);
  const entry = payload.files['conv/a.joint_sample.npy'];
  assert.equal(entry.encoding, 'deflate');
  assert.equal(entry.layout, 'columns');
  const embedded = { bins: payload.joint_bins, head: inflated(entry).subarray(0, 80).toString('latin1') };
  assert.equal(embedded.bins['conv/a.joint_sample.npy'].bins, 24);
  assert.match(embedded.head, /'descr': '\|u1'/, 'the report embeds bin indices, not the float32 sample');
  await page.locator('section[data-panel="between"] canvas.heatmap').click({ position: { x: 2, y: 2 } });
  await page.waitForSelector('section[data-panel="unit_pair"] canvas.joint');
  const shades = await page.$eval('section[data-panel="unit_pair"] canvas.joint', (c) => {
    const ctx = c.getContext('2d');
    const out = [];
    for (let row = 0; row < 24; row++) for (let col = 0; col < 24; col++) out.push(ctx.getImageData(col * 7 + 3, row * 7 + 3, 1, 1).data[0]);
    return out;
  });
  // The float32 sample, binned as the page did before pre-binning (unit 0 of a along x, unit 0 of b up).
  const xa = readNpy(path.join(work, 'out', 'conv', 'a.joint_sample.npy'));
  const xb = readNpy(path.join(work, 'out', 'conv', 'b.joint_sample.npy'));
  const rows = xa.shape[0];
  const column = (s) => Array.from({ length: rows }, (_, r) => Math.fround(s.data[r * s.shape[1]]));
  const bin = (v) => {
    const lo = Math.min(...v), max = Math.max(...v), hi = max > lo ? max : lo + 1;
    return v.map((t) => Math.min(23, Math.floor((t - lo) / (hi - lo) * 24)));
  };
  const bx = bin(column(xa)), by = bin(column(xb));
  const counts = new Array(24 * 24).fill(0);
  for (let r = 0; r < rows; r++) counts[(23 - by[r]) * 24 + bx[r]] += 1;
  const max = Math.max(...counts);
  assert.deepEqual(shades, counts.map((c) => (c ? 255 - Math.round(235 * Math.log1p(c) / Math.log1p(max)) : 255)));
  assert.deepEqual(errors, []);
  await page.close();
});
