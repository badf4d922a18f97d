// convergent report page: reads the embedded results, asks the WebAssembly
// core (viewer_core.cpp) for everything numeric and draws it.
//
// Safety: every string that comes from the results (net, layer, file names,
// messages) reaches the DOM through textContent or canvas fillText, never
// innerHTML; panels catch their own failures so one bad file shows an error
// in its panel and the rest of the page still works.
(function () {
  'use strict';

  const PALETTE = ['#2f6fb2', '#d9622b', '#2e9c57', '#8e44ad', '#c0392b', '#7f8c8d', '#b7950b', '#16a085'];

  const state = {
    core: null, viewer: null, payload: null, overview: null,
    layer: null, pairIndex: 0, measure: 'corr', colours: 'auto', threshold: false,
  };

  const byId = (id) => document.getElementById(id);

  function element(tag, props, children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (key === 'text') node.textContent = value;
        else if (key === 'className') node.className = value;
        else if (key === 'style') node.style.cssText = value;
        else node.setAttribute(key, value);
      }
    }
    for (const c of children || []) node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    return node;
  }

  function fmt(v, digits) {
    if (v === null || v === undefined || typeof v !== 'number' || !isFinite(v)) return '\u2013';
    return Number(v.toPrecision(digits || 4)).toString();
  }

  function fatal(message) {
    const box = byId('fatal');
    box.textContent = message;
    box.hidden = false;
    byId('meta').textContent = 'The results could not be shown.';
    byId('controls').hidden = true;
    byId('panels').hidden = true;
    document.body.dataset.state = 'error';
  }

  // ---------------------------------------------------------------- data --

  function base64Bytes(text, what) {
    let binary;
    try {
      binary = atob(text);
    } catch (e) {
      throw new Error(what + ' in this report is corrupt (not base64)');
    }
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  function readPayload() {
    const node = byId('convergent-data');
    if (!node) {
      throw new Error('This page holds no results. Create a report with: convergent report DIR');
    }
    let payload;
    try {
      payload = JSON.parse(node.textContent);
    } catch (e) {
      throw new Error('The results embedded in this page are malformed (not JSON: ' + e.message + ').');
    }
    if (!payload || typeof payload !== 'object' || payload.format !== 'convergent-report' ||
        (typeof payload.summary !== 'string' && (!payload.summary || typeof payload.summary !== 'object')) ||
        ((!payload.files || typeof payload.files !== 'object') && (!payload.index || typeof payload.index !== 'object'))) {
      throw new Error('The results embedded in this page are malformed (not a convergent report payload).');
    }
    return payload;
  }

  // Format 3 keeps the file table (files, atlases, omitted, joint_bins,
  // warnings) deflated in the blob (payload.index); a payload with its own
  // "files" (formats 1-2, or an edited page) is used as it is.
  async function readIndex(payload) {
    if (payload.files && typeof payload.files === 'object') return;
    let index;
    try {
      index = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await decodeEntry(payload.index, 'the file table')));
    } catch (e) {
      throw new Error('The results embedded in this page are malformed (file table: ' + e.message + ').');
    }
    if (!index || typeof index !== 'object' || !index.files || typeof index.files !== 'object') {
      throw new Error('The results embedded in this page are malformed (no file table).');
    }
    for (const key of ['files', 'atlases', 'omitted', 'joint_bins', 'warnings']) if (key in index) payload[key] = index[key];
  }

  // ------------------------------------------- payload, formats 1-3 ----
  // cli/report.cpp (header comment) writes each file as {encoding, ...}:
  // 'deflate' (zlib, inflated here with DecompressionStream), 'none' /
  // 'base64' (PNGs as they are) or 'atlas' (a patch sheet rebuilt from the
  // layer's atlas of distinct cells); the summary as {encoding: 'deflate'}.
  // Format 3 keeps every file's bytes in one blob (the element named by
  // payload.blob, base 125, each piece decoded when it is needed) at
  // {offset, length}; format 2 has them as base64 in `data`; a bare string
  // (format 1) is the file's base64. Files are decoded when a view first
  // needs them (ensureFiles before render), never all at load.
  const decoded = new Map();    // path -> Uint8Array
  const failed = new Map();     // path -> Error
  const decoding = new Map();   // path -> Promise

  // Load phases for the page-weight benchmark (performance.getEntriesByType('mark')).
  function mark(name) {
    try { performance.mark('convergent:' + name); } catch (e) { /* no User Timing */ }
  }

  async function inflate(bytes, what) {
    try {
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'));
      return new Uint8Array(await new Response(stream).arrayBuffer());
    } catch (e) {
      throw new Error(what + ' in this report is corrupt (cannot inflate: ' + (e && e.message ? e.message : e) + ')');
    }
  }

  // The format-3 blob (append_base125): every 6 bytes are a 48-bit number
  // written as 7 base-125 digits, most significant first; digit d is the
  // d-th of the ASCII characters 1-127 without CR and '<'. Group g starts at
  // character 7g, so each file's bytes are decoded from its own characters
  // when it is needed, never the whole blob at once.
  const BASE125 = new Int8Array(128).fill(-1);
  for (let c = 1, d = 0; c < 128; c++) if (c !== 13 && c !== 60) BASE125[c] = d++;

  let blobText = null;
  function blobCharacters() {
    if (blobText !== null) return blobText;
    const info = state.payload.blob;
    const node = info && typeof info === 'object' ? byId(String(info.id)) : null;
    if (!node || info.encoding !== 'base125' || !Number.isInteger(info.bytes) || info.bytes < 0) {
      throw new Error('The data blob of this page is missing or malformed.');
    }
    const text = node.textContent;
    if (text.length !== 7 * Math.ceil(info.bytes / 6)) {
      throw new Error('The data blob of this page is corrupt (' + text.length + ' characters for ' + info.bytes + ' bytes).');
    }
    blobText = text;
    return text;
  }

  function blobBytes(offset, length) {
    const text = blobCharacters();
    const out = new Uint8Array(length);
    let g = Math.floor(offset / 6), k = offset - 6 * g, o = 0;
    while (o < length) {
      let v = 0;
      for (let i = 7 * g, end = i + 7; i < end; i++) {
        const c = text.charCodeAt(i), d = c < 128 ? BASE125[c] : -1;
        if (d < 0) throw new Error('The data blob of this page is corrupt (character ' + i + ')');
        v = v * 125 + d;  // < 125^7 < 2^53: exact
      }
      if (v >= 281474976710656) throw new Error('The data blob of this page is corrupt (group ' + g + ')');
      const hi = Math.floor(v / 16777216), lo = v - hi * 16777216;
      for (; k < 6 && o < length; k++) out[o++] = k < 3 ? (hi >> (16 - 8 * k)) & 255 : (lo >> (40 - 8 * k)) & 255;
      k = 0;
      g++;
    }
    return out;
  }

  function entryBytes(entry, what) {
    if (typeof entry.data === 'string') return base64Bytes(entry.data, what);  // format 2
    const total = state.payload.blob && state.payload.blob.bytes;
    if (!Number.isInteger(entry.offset) || !Number.isInteger(entry.length) || entry.offset < 0 || entry.length < 0 ||
        !(entry.offset + entry.length <= total)) throw new Error(what + ' in this report is malformed (outside the data blob)');
    return blobBytes(entry.offset, entry.length);
  }

  async function decodeEntry(entry, what) {
    if (typeof entry === 'string') return base64Bytes(entry, what);
    if (!entry || typeof entry !== 'object' || (typeof entry.data !== 'string' && typeof entry.offset !== 'number')) {
      throw new Error(what + ' in this report is malformed (no data)');
    }
    const bytes = entryBytes(entry, what);
    if (entry.encoding === 'deflate') return unshuffle(await inflate(bytes, what), entry, what);
    if (entry.encoding === 'base64' || entry.encoding === 'none') return bytes;
    throw new Error(what + ' in this report has an unknown encoding ' + JSON.stringify(entry.encoding));
  }

  // An .npy header for dtype descr and shape dims (npy 1.0).
  function npyHeader(descr, dims) {
    let dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims.join(', ') + (dims.length === 1 ? ',' : '') + '), }';
    while ((10 + dict.length + 1) % 64) dict += ' ';
    dict += '\n';
    const out = new Uint8Array(10 + dict.length);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, dict.length & 0xff, dict.length >> 8]);
    for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i);
    return out;
  }

  // A 2-d .npy of 1-byte values stored column by column (the binned joint
  // samples, cli/report.cpp binned_joint_sample) back to C order.
  function fromColumns(bytes, what) {
    const start = 10 + (bytes[8] | (bytes[9] << 8));
    const header = new TextDecoder('latin1').decode(bytes.subarray(0, start));
    const shape = /'shape':\s*\((\d+),\s*(\d+)\)/.exec(header);
    if (bytes[0] !== 0x93 || bytes[6] !== 1 || !shape || !/'descr':\s*'\|u1'/.test(header) ||
        bytes.length !== start + shape[1] * shape[2]) throw new Error(what + ' in this report is corrupt (not a column-stored uint8 .npy)');
    const rows = Number(shape[1]), cols = Number(shape[2]);
    const out = new Uint8Array(bytes.length);
    out.set(bytes.subarray(0, start));
    for (let c = 0, k = start; c < cols; c++) {
      for (let r = 0; r < rows; r++, k++) out[start + r * cols + c] = bytes[k];
    }
    return out;
  }

  // A display-only matrix as laid out by the report (cli/report.cpp,
  // fixed16_copy and float16_copy) back to a plain .npy. The "upper-"
  // layouts hold only the upper triangle of a symmetric matrix (i <= j, row
  // by row). fixed16 ("classes": int16 codes of entry.step, -32768 for NaN,
  // each as its zigzag value's bit length k, one byte per value, then the
  // k - 1 bits below the leading one as one bit stream) becomes float32,
  // code * step exactly; float16 ("shuffled": low bytes, then high bytes)
  // stays float16.
  function unshuffle(bytes, entry, what) {
    const layout = entry.layout;
    if (layout === undefined) return bytes;
    if (layout === 'columns') return fromColumns(bytes, what);
    const fixed = entry.stored === 'fixed16';
    const known = fixed ? ['classes', 'upper-classes'] : ['shuffled', 'upper-shuffled'];
    if (!known.includes(layout)) throw new Error(what + ' in this report has an unknown layout ' + JSON.stringify(layout));
    if (fixed && !(entry.step > 0)) throw new Error(what + ' in this report is malformed (no fixed-point step)');
    const long = bytes[6] >= 2;
    const headerLength = long ? bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (bytes[11] << 24) : bytes[8] | (bytes[9] << 8);
    const start = (long ? 12 : 10) + headerLength;
    const header = new TextDecoder('latin1').decode(bytes.subarray(0, start));
    const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
    if (bytes[0] !== 0x93 || !shape || !(fixed ? /'descr':\s*'<i2'/ : /'descr':\s*'<f2'/).test(header)) {
      throw new Error(what + ' in this report is corrupt (not a ' + (fixed ? 'fixed-point' : 'float16') + ' .npy)');
    }
    const dims = shape[1].split(',').map((t) => t.trim()).filter((t) => t).map(Number);
    const count = dims.reduce((a, b) => a * b, 1);
    const n = dims[0];
    const upper = layout.startsWith('upper-');
    const kept = upper ? n * (n + 1) / 2 : count;
    const corrupt = () => new Error(what + ' in this report is corrupt (its values do not fill shape (' + dims.join(', ') + '))');
    if (upper && (dims.length !== 2 || dims[1] !== n)) throw corrupt();
    if (fixed) {
      const classes = bytes.subarray(start, start + kept), stream = bytes.subarray(start + kept);
      if (classes.length !== kept) throw corrupt();
      const head = npyHeader('<f4', dims);
      const out = new Uint8Array(head.length + 4 * count);
      out.set(head);
      const values = new Float32Array(out.buffer, head.length, count);
      const step = entry.step;
      let acc = 0, have = 0, at = 0, i = 0, j = 0;
      for (let m = 0; m < kept; m++) {
        const k = classes[m];
        let z = k;  // 0 -> 0, 1 -> 1
        if (k >= 2) {
          if (k > 16) throw corrupt();
          const extra = k - 1;
          while (have < extra) {
            if (at >= stream.length) throw corrupt();
            acc = ((acc << 8) | stream[at++]) & 0xffffff;
            have += 8;
          }
          have -= extra;
          z = (1 << extra) | ((acc >> have) & ((1 << extra) - 1));
        }
        const code = z & 1 ? -((z + 1) >> 1) : z >> 1;
        const v = code === -32768 ? NaN : code * step;
        if (upper) {
          values[i * n + j] = values[j * n + i] = v;
          if (++j === n) { i++; j = i; }
        } else {
          values[m] = v;
        }
      }
      return out;
    }
    if ((bytes.length - start) !== 2 * kept) throw corrupt();
    const out = new Uint8Array(start + 2 * count);
    out.set(bytes.subarray(0, start));
    const lo = bytes.subarray(start, start + kept), hi = bytes.subarray(start + kept);
    if (!upper) {
      for (let m = 0; m < count; m++) { out[start + 2 * m] = lo[m]; out[start + 2 * m + 1] = hi[m]; }
      return out;
    }
    let k = 0;
    for (let r = 0; r < n; r++) {
      for (let c = r; c < n; c++, k++) {
        const x = start + 2 * (r * n + c), y = start + 2 * (c * n + r);
        out[x] = out[y] = lo[k];
        out[x + 1] = out[y + 1] = hi[k];
      }
    }
    return out;
  }

  function fileEntry(path) {
    return state.payload && Object.prototype.hasOwnProperty.call(state.payload.files, path) ? state.payload.files[path] : undefined;
  }

  // Decodes the files (those in the page, not yet decoded); never rejects:
  // a file that cannot be decoded keeps its error for the panel that reads it.
  function ensureFiles(paths) {
    const waits = [];
    for (const path of new Set(paths)) {
      const entry = fileEntry(path);
      if (entry === undefined || decoded.has(path) || failed.has(path)) continue;
      if (entry && entry.encoding === 'atlas') continue;  // drawn from its atlas image (sprite)
      if (!decoding.has(path)) {
        decoding.set(path, decodeEntry(entry, 'file ' + path)
          .then((bytes) => { decoded.set(path, bytes); }, (e) => { failed.set(path, e); })
          .finally(() => decoding.delete(path)));
      }
      waits.push(decoding.get(path));
    }
    return Promise.all(waits);
  }

  function ready(paths) {
    return paths.every((p) => fileEntry(p) === undefined || decoded.has(p) || failed.has(p) ||
      (fileEntry(p) && fileEntry(p).encoding === 'atlas'));
  }

  // The bytes of an embedded file, decoded before (ensureFiles). A file a
  // view did not announce is noted in state.missed and decoded after this
  // render, which then runs again.
  function fileBytes(path) {
    if (decoded.has(path)) return decoded.get(path);
    if (failed.has(path)) throw failed.get(path);
    if (fileEntry(path) === undefined) throw new Error('file ' + path + ' is not in this report');
    state.missed.add(path);
    missedLater();
    throw new Error('file ' + path + ' is being decoded');
  }

  // How a display-only matrix is stored in this page, for the CSV export's
  // label: null (as in the results), or {label, note} for fixed-point
  // (multiples of entry.step: within half a step) or float16 values.
  function storedPrecision(path) {
    const entry = fileEntry(path);
    if (!entry || typeof entry !== 'object') return null;
    const full = ' (convergent report --full-precision keeps float32)';
    if (entry.stored === 'fixed16' && entry.step > 0) {
      return { label: 'CSV (\u00b1' + fmt(entry.step / 2, 2) + ')',
        note: 'values as stored in this page: multiples of ' + fmt(entry.step, 4) + ', within ' + fmt(entry.step / 2, 4) + ' of the results' + full };
    }
    if (entry.stored === 'float16') {
      return { label: 'CSV (float16)', note: 'values as stored in this page: float16, within 0.05% of the results' + full };
    }
    return null;
  }

  function halfToFloat(h) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e === 0) return s * m * Math.pow(2, -24);
    if (e === 31) return m ? NaN : s * Infinity;
    return s * (1 + m / 1024) * Math.pow(2, e - 15);
  }

  // The files a layer and pair draw from: the pair's and both nets' own
  // matrices, and both nets' top-k inputs and joint samples (not with
  // matricesOnly: the first screen draws Fig. 1 only).
  function filesFor(layer, pair, matricesOnly) {
    return pair ? pairFiles(layer, pairNets(pair), matricesOnly) : [];
  }

  function pairFiles(layer, [a, b], matricesOnly) {
    const out = [], pair = a + '~' + b;
    const l = state.summary && state.summary.layers ? state.summary.layers[layer] : null;
    if (!l) return out;
    for (const key of [pair, a + '~' + a, b + '~' + b]) {
      const entry = l.files && l.files[key];
      if (entry && typeof entry === 'object') {
        for (const p of Object.values(entry)) if (typeof p === 'string') out.push(p);
      } else if (!l.files) {
        for (const kind of ['corr', 'mi', 'corr_matched', 'mi_matched']) out.push(layer + '/' + key + '.' + kind + '.npy');
      }
    }
    const tp = l.top_patches && l.top_patches.nets && !matricesOnly ? l.top_patches.nets : null;
    for (const net of [a, b]) {
      const files = tp && tp[net];
      if (files && typeof files === 'object') for (const p of [files.topk, files.joint_sample]) if (typeof p === 'string') out.push(p);
    }
    return out;
  }

  // The summary the core parses at load (its JSON parser is the slowest step
  // of opening a page): every layer without its per-unit arrays and cluster
  // trees, which only the selected layer's views read; Table 1 and the
  // similarity table read the scalars kept here. ensureCoreLayer hands the
  // core a layer in full before it is first shown.
  // The first screen's matrices start inflating while the core starts, for
  // the layer and pair the page will most likely open with (the link's, or
  // the first layer and the first two nets, as the core lists them), so
  // that show() finds them decoded.
  function prefetchFirstScreen() {
    const s = state.summary;
    if (!s || !s.layers || typeof s.layers !== 'object' || !Array.isArray(s.nets) || s.nets.length < 2) return;
    const want = readHash(), nets = s.nets.filter((n) => typeof n === 'string');
    const layer = want.layer !== undefined && Object.prototype.hasOwnProperty.call(s.layers, want.layer) ? want.layer : Object.keys(s.layers)[0];
    let pair = [nets[0], nets[1]];
    nets.forEach((x, i) => nets.forEach((y, j) => {
      if (i < j && (want.pair === x + '~' + y || want.pair === y + '~' + x)) pair = [x, y];
    }));
    if (layer !== undefined && pair[0] !== undefined && pair[1] !== undefined) ensureFiles(pairFiles(layer, pair, true));
  }

  const PER_LAYER_ONLY = ['clusters', 'top_patches', 'mean', 'std', 'mean_activation', 'cycle_consistency'];

  function lightSummaryText(summary) {
    const isObject = (v) => v && typeof v === 'object' && !Array.isArray(v);
    if (!isObject(summary) || !isObject(summary.layers)) return null;
    const scalars = (o, keep) => (isObject(o) ? Object.fromEntries(Object.entries(o).filter(([k, v]) => !Array.isArray(v) || (keep && keep.includes(k)))) : o);
    const layers = {};
    for (const [name, layer] of Object.entries(summary.layers)) {
      if (!isObject(layer)) { layers[name] = layer; continue; }
      const light = {};
      for (const [key, value] of Object.entries(layer)) {
        if (PER_LAYER_ONLY.includes(key)) continue;
        if (key !== 'pairs' || !isObject(value)) { light[key] = value; continue; }
        light.pairs = {};
        for (const [pair, entry] of Object.entries(value)) {
          if (!isObject(entry)) { light.pairs[pair] = entry; continue; }
          light.pairs[pair] = {};
          for (const [k, v] of Object.entries(entry)) {
            if (k === 'sparse_prediction') continue;
            // The similarity table reads the scalar indices and the warnings
            // (viewer_core.cpp, similarity_indices); the spectra (cca, svcca,
            // pwcca_weights, ...) were most of this text.
            light.pairs[pair][k] = k === 'similarity_indices' ? scalars(v, ['warnings']) : scalars(v);
          }
        }
      }
      layers[name] = light;
    }
    return JSON.stringify({ ...summary, layers });
  }

  function ensureCoreLayer(layer) {
    if (!state.lightCore || !layer || state.coreLayers.has(layer)) return;
    state.coreLayers.add(layer);
    const answer = ask('loadLayer', layer, JSON.stringify(state.summary.layers[layer]));
    if (answer.status !== 'ok') console.warn('convergent: layer ' + layer + ': ' + answer.message);
  }

  // ------------------------------------- deep links (address bar state) --
  // #layer=conv2&pair=net1~net3&panel=fig3: the layer, the pair and a panel
  // to scroll to. The selectors write it back (history.replaceState), so
  // the address bar is always a link to what is shown.

  function readHash() {
    const out = {};
    for (const part of location.hash.replace(/^#/, '').split('&')) {
      if (!part) continue;
      const at = part.indexOf('=');
      const key = at < 0 ? part : part.slice(0, at);
      let value = at < 0 ? '' : part.slice(at + 1);
      try { value = decodeURIComponent(value); } catch (e) { /* kept as written */ }
      out[key] = value;
    }
    return out;
  }

  function linkNote(messages) {
    let note = byId('x-link-note');
    if (!note) {
      note = element('div', { id: 'x-link-note', className: 'x-link-note', role: 'status' });
      byId('controls').after(note);
    }
    note.textContent = messages.length ? 'This link asks for ' + messages.join('; ') + ': showing the first instead.' : '';
    note.hidden = !messages.length;
  }

  // Applies the hash to the state and the selectors; unknown values get a note.
  function applyHash() {
    const ov = state.overview, want = readHash(), problems = [];
    if (want.layer !== undefined && ov.layers.length) {
      const i = ov.layers.findIndex((l) => l.name === want.layer);
      if (i < 0) problems.push('layer \u201c' + want.layer + '\u201d, which these results do not have');
      else { state.layer = ov.layers[i].name; byId('layer-select').value = String(i); }
    }
    if (want.pair !== undefined && ov.pairs.length) {
      let i = ov.pairs.indexOf(want.pair);
      if (i < 0) {
        const [x, y] = want.pair.split('~');
        i = ov.pairs.findIndex((p) => { const [a, b] = pairNets(p); return a === y && b === x; });
      }
      if (i < 0) problems.push('pair \u201c' + want.pair + '\u201d, which these results do not have');
      else { state.pairIndex = i; byId('pair-select').value = String(i); }
    }
    state.targetPanel = null;
    if (want.panel !== undefined) {
      if (document.querySelector('section.panel[data-panel="' + CSS.escape(want.panel) + '"]')) state.targetPanel = want.panel;
      else problems.push('panel \u201c' + want.panel + '\u201d, which this page does not have');
    }
    linkNote(problems);
  }

  function writeHash() {
    const parts = [];
    if (state.layer) parts.push('layer=' + encodeURIComponent(state.layer));
    if (currentPair()) parts.push('pair=' + encodeURIComponent(currentPair()));
    if (state.targetPanel) parts.push('panel=' + encodeURIComponent(state.targetPanel));
    const hash = '#' + parts.join('&');
    if (location.hash !== hash) {
      try { history.replaceState(history.state, '', hash); } catch (e) { /* some file:// setups refuse; the page still works */ }
    }
  }

  function revealPanel() {
    for (const s of document.querySelectorAll('section.panel.x-target')) s.classList.remove('x-target');
    if (!state.targetPanel) return;
    const section = document.querySelector('section.panel[data-panel="' + CSS.escape(state.targetPanel) + '"]');
    if (!section) return;
    section.classList.add('x-target');
    for (let d = section.closest('details'); d; d = d.parentElement && d.parentElement.closest('details')) d.open = true;
    section.scrollIntoView({ block: 'start' });
    document.body.dataset.panel = state.targetPanel;
  }

  // Shows the selected layer and pair: decodes their files first (at once
  // when they are decoded already, so a switch back draws synchronously).
  // firstScreen: only the panels on the first screen now (render).
  async function show(firstScreen) {
    const token = (state.showToken = (state.showToken || 0) + 1);
    try {
      const paths = filesFor(state.layer, currentPair(), firstScreen === true);
      if (!ready(paths)) {
        document.body.dataset.loading = '1';
        await ensureFiles(paths);
        if (token !== state.showToken) return;
      }
      state.missed = new Set();
      ensureCoreLayer(state.layer);
      state.showing = true;
      render(firstScreen);
      // A file no view announced: decode it and draw again (at most twice).
      for (let round = 0; round < 2 && state.missed.size; round++) {
        document.body.dataset.loading = '1';
        const missed = Array.from(state.missed);
        state.showing = false;
        await ensureFiles(missed);
        if (token !== state.showToken) return;
        state.missed = new Set();
        state.showing = true;
        render(firstScreen);
      }
      exportLinks();
      writeHash();
    } finally {
      state.showing = false;
      if (token === state.showToken) document.body.dataset.loading = '0';
    }
  }

  // A file missed outside show() (a click that opens a view): decoded, then
  // the view is drawn again.
  function missedLater() {
    if (state.showing || state.missedTimer) return;
    state.missedTimer = setTimeout(() => {
      state.missedTimer = null;
      ensureFiles(Array.from(state.missed)).then(() => show());
    }, 0);
  }

  // ------------------------------------------------- data export (CSV) --
  // Each data panel gets a CSV link with the numbers behind it; Table 1
  // also as Markdown. Matrices come from the embedded .npy (float16 where
  // the page stores them so: the link says so), curves and tables from
  // the core's answers, which carry summary.json's full-precision values.

  const csvCell = (v) => {
    if (v === null || v === undefined) return '';
    if (typeof v === 'number') return isFinite(v) ? String(v) : (isNaN(v) ? 'NaN' : (v > 0 ? 'inf' : '-inf'));
    const s = String(v);
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  };
  const csvText = (rows) => rows.map((r) => r.map(csvCell).join(',')).join('\n') + '\n';

  function saveText(text, filename, type) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const link = element('a', { href: url, download: filename, hidden: '' });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
  }

  function csvName(panelName, ext) {
    const pair = currentPair() ? pairNets(currentPair()).join('-') : '';
    const base = ['convergent', state.layer || '', pair, panelName].filter((s) => s).join('_');
    return base.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 120) + '.' + ext;
  }

  // The .npy a Fig. 1 panel draws, and the column order (matched: net B's
  // units in the pair's matched order), or null.
  function matrixSource(name) {
    const l = state.summary && state.summary.layers ? state.summary.layers[state.layer] : null;
    if (!l || !currentPair()) return null;
    const pair = currentPair(), [a, b] = pairNets(pair);
    const key = name === 'within_a' ? a + '~' + a : name === 'within_b' ? b + '~' + b : pair;
    const kind = state.measure === 'mi' ? 'mi' : 'corr';
    const path = l.files ? (l.files[key] || {})[kind] : state.layer + '/' + key + '.' + kind + '.npy';
    if (typeof path !== 'string' || fileEntry(path) === undefined) return null;
    let order = null;
    if (name === 'matched') {
      const al = ((l.pairs || {})[pair] || {})[kind === 'mi' ? 'mutual_information' : 'correlation'];
      if (!al || !Array.isArray(al.matched_order)) return null;
      order = al.matched_order;
    }
    const rowsNet = name === 'within_b' ? b : a, colsNet = name === 'within_a' ? a : b;
    return { path, order, rowsNet, colsNet, stored: storedPrecision(path) };
  }

  // The combined matrix of the clusters panel (Sec. 4: G_{X+Y} in the
  // clustering's order, or W thresholded at tau), rebuilt from the embedded
  // .npy files as the panel draws it; rows and columns named net:unit.
  function clustersCsv() {
    const kind = state.threshold ? 'clusters_tau' : 'clusters';
    const info = makeHeatmap('clusters-export', kind, 'corr');
    if (info.status !== 'ok') throw new Error(info.message || info.note || 'no clustered matrix');
    const values = valuesFromFiles(kind, 'corr', info);
    const c = ((state.summary.layers[state.layer] || {}).clusters || {})[currentPair()];
    if (!values || !c || !Array.isArray(c.permutation)) throw new Error('the clustered matrix does not fit its files');
    const [a, b] = pairNets(currentPair()), sa = readNpy(info.files[0]).shape[0], n = info.rows;
    const label = (u) => (u < sa ? a + ':' + u : b + ':' + (u - sa));
    const names = c.permutation.map(label);
    const corner = (kind === 'clusters_tau' ? 'W (tau ' + info.tau + ')' : 'G') + ' in clustered order';
    const out = [[corner].concat(names)];
    for (let i = 0; i < n; i++) out.push([names[i]].concat(Array.from(values.subarray(i * n, (i + 1) * n))));
    return csvText(out);
  }

  // Every node of the pair's cluster tree (Sec. 4), as summary.json holds
  // it: members as space-separated unit indices of each net.
  function clusterTreeCsv() {
    const c = ((state.summary.layers[state.layer] || {}).clusters || {})[currentPair()];
    if (!c || !Array.isArray(c.clusters)) throw new Error('no cluster tree');
    const [a, b] = pairNets(currentPair());
    const members = (n, net) => ((n.members || {})[net] || []);
    const out = [['id', 'parent', 'depth', 'leaf', a + ' units', b + ' units', 'between_net_similarity',
      'within_net_similarity', a + ' members', b + ' members']];
    for (const n of c.clusters) {
      out.push([n.id, n.parent, n.depth, n.leaf ? 1 : 0, members(n, a).length, members(n, b).length,
        n.between_net_similarity, n.within_net_similarity, members(n, a).join(' '), members(n, b).join(' ')]);
    }
    return csvText(out);
  }

  function matrixCsv(src) {
    const m = readNpy(src.path);
    if (m.shape.length !== 2) throw new Error(src.path + ' is not a matrix');
    const [rows, cols] = m.shape;
    const order = src.order || Array.from({ length: cols }, (_, i) => i);
    const out = [[src.rowsNet + ' unit \\ ' + src.colsNet + ' unit'].concat(order)];
    for (let r = 0; r < rows; r++) {
      const line = [r];
      for (const c of order) line.push(c >= 0 && c < cols ? m.data[r * cols + c] : null);
      out.push(line);
    }
    return csvText(out);
  }

  function seriesCsv(spec) {
    const out = [['series', 'x', 'y']];
    for (const s of spec.series || []) {
      s.y.forEach((y, i) => out.push([s.name, s.x ? s.x[i] : i, y]));
    }
    return csvText(out);
  }

  const TABLE1_COLUMNS = [['correlation', 'semi_matching_mean'], ['correlation', 'matching_mean'], ['correlation', 'overlap_ratio'],
    ['mutual_information', 'semi_matching_mean'], ['mutual_information', 'matching_mean'], ['mutual_information', 'overlap_ratio']];

  function table1Rows() {
    const answer = ask('table1', currentPair());
    if (answer.status !== 'ok') throw new Error(answer.message || answer.note || 'Table 1 is not available');
    return answer.rows.map((row) => [row.layer].concat(TABLE1_COLUMNS.map(([m, k]) => (row[m] ? row[m][k] : null))));
  }
  const TABLE1_HEAD = ['layer'].concat(TABLE1_COLUMNS.map(([m, k]) => (m === 'correlation' ? 'corr ' : 'MI ') + k));

  function table1Markdown() {
    const [a, b] = pairNets(currentPair());
    const cell = (v) => (v === null || v === undefined ? 'not computed' : String(v).replace(/\|/g, '\\|'));
    const lines = ['Table 1: ' + a + ' vs ' + b, '', '| ' + TABLE1_HEAD.join(' | ') + ' |',
      '|' + TABLE1_HEAD.map((_, i) => (i ? ' ---: |' : ' --- |')).join('')];
    for (const r of table1Rows()) lines.push('| ' + r.map(cell).join(' | ') + ' |');
    return lines.join('\n') + '\n';
  }

  // panel -> [[label, what, () => [text, ext, type]], ...]
  function exporters(name) {
    const layer = state.layer, pair = currentPair();
    const series = (method, ...args) => () => {
      const spec = ask(method, ...args);
      if (spec.status !== 'ok') throw new Error(spec.message || spec.note || 'no data');
      return [seriesCsv(spec), 'csv', 'text/csv'];
    };
    if (['within_a', 'within_b', 'between', 'matched'].includes(name)) {
      const src = matrixSource(name);
      if (!src) return [];
      return [[src.stored ? src.stored.label : 'CSV', 'csv', () => [matrixCsv(src), 'csv', 'text/csv'],
        src.stored ? src.stored.note : 'the values of ' + src.path]];
    }
    if (name === 'cluster_tree') {
      return [['CSV', 'csv', () => [clusterTreeCsv(), 'csv', 'text/csv'],
        'every node of the tree: parent, depth, members of each net, Sec. 6.6 similarities']];
    }
    if (name === 'clusters') {
      return [['CSV', 'csv', () => [clustersCsv(), 'csv', 'text/csv'],
        'the combined matrix as the panel draws it (clustered order, W when thresholded), rows and columns named net:unit']];
    }
    if (name === 'fig3') return [['CSV', 'csv', series('alignmentCurves', layer, pair, 'correlation')]];
    if (name === 'mi') return [['CSV', 'csv', series('miVsCorrelation', layer, pair)]];
    if (name === 'sparse') return [['CSV', 'csv', series('sparsePrediction', layer, pair)]];
    if (name === 'fig14') return [['CSV', 'csv', series('clusterSimilarity', layer, pair)]];
    if (name === 'mean_activation') return [['CSV', 'csv', series('meanActivations', layer)]];
    if (name === 'cycle') {
      return [['CSV', 'csv', () => {
        const cc = ask('cycleConsistency', layer);
        if (cc.status !== 'ok') throw new Error(cc.message || cc.note || 'no data');
        return [csvText([['rank', 'unit', 'fraction_returned']].concat(cc.sorted_fractions.map((f, i) => [i, cc.order[i], f]))), 'csv', 'text/csv'];
      }]];
    }
    if (name === 'similarity') {
      return [['CSV', 'csv', () => {
        const answer = ask('similarityIndices', pair);
        if (answer.status !== 'ok') throw new Error(answer.message || answer.note || 'no data');
        const keys = [];
        for (const row of answer.rows) {
          for (const [k, v] of Object.entries(row.indices || {})) if ((typeof v === 'number' || v === null) && !keys.includes(k)) keys.push(k);
        }
        const rows = answer.rows.map((row) => [row.layer, row.matching_mean].concat(keys.map((k) => (row.indices ? row.indices[k] : null))));
        return [csvText([['layer', 'matching_mean'].concat(keys)].concat(rows)), 'csv', 'text/csv'];
      }]];
    }
    if (name === 'table1') {
      return [['CSV', 'csv', () => [csvText([TABLE1_HEAD].concat(table1Rows())), 'csv', 'text/csv']],
        ['Markdown', 'md', () => [table1Markdown(), 'md', 'text/markdown']]];
    }
    return [];
  }

  function exportLinks() {
    for (const section of document.querySelectorAll('section.panel')) exportLink(section);
  }

  // The export buttons of one panel (again after each drawing of it).
  function exportLink(section) {
    const name = section.dataset.panel;
    const old = section.querySelector('.x-export');
    if (old) old.remove();
    if (section.dataset.status !== 'ok' || !state.overview) return;
    let list;
    try {
      list = exporters(name);
    } catch (e) {
      return;  // no numbers to offer (the panel says why)
    }
    if (!list.length) return;
    const box = element('div', { className: 'x-export', 'data-export': name });
    for (const [label, what, make, title] of list) {
      const button = element('button', { type: 'button', className: 'x-export-button', 'data-export-kind': what, text: label,
        title: title || 'download the numbers of this panel' });
      button.addEventListener('click', () => {
        try {
          const [text, ext, type] = make();
          saveText(text, csvName(name, ext), type);
        } catch (e) {
          box.dataset.error = e && e.message ? e.message : String(e);
        }
      });
      box.appendChild(button);
    }
    section.querySelector('.body').appendChild(box);
  }

  // Calls a core method; the core answers JSON. A trap inside the core
  // becomes an error answer instead of an exception.
  function ask(method, ...args) {
    try {
      return JSON.parse(state.viewer[method](...args));
    } catch (e) {
      return { status: 'error', message: 'viewer core failed in ' + method + ': ' + (e && e.message ? e.message : e) };
    }
  }

  // ---------------------------------------------------------- panels ------

  // The width of a panel's body. render() measures every panel once before
  // drawing (one layout): reading clientWidth after each panel's new content
  // forced a layout of the whole page per panel.
  let panelWidths = null;
  function bodyWidth(p) {
    if (panelWidths && panelWidths.has(p.body)) return panelWidths.get(p.body);
    return p.body.clientWidth;
  }

  function measurePanels() {
    panelWidths = new Map();
    for (const body of document.querySelectorAll('section.panel .body')) panelWidths.set(body, body.clientWidth);
  }

  function panel(name) {
    const section = document.querySelector('section.panel[data-panel="' + name + '"]');
    return { section, note: section.querySelector('.note'), body: section.querySelector('.body') };
  }

  function resetPanel(p) {
    p.note.hidden = true;
    p.note.className = 'note';
    p.note.textContent = '';
    p.body.replaceChildren();
    p.section.dataset.status = '';
  }

  function showNote(p, kind, message) {
    p.note.hidden = false;
    p.note.className = 'note ' + kind;
    p.note.textContent = kind === 'missing' ? 'Not computed: ' + message
      : kind === 'error' ? 'Error: ' + message : message;
    p.section.dataset.status = kind;
  }

  // Shows a non-ok answer; returns true when the panel is done.
  function handled(p, answer) {
    if (answer.status === 'ok') {
      p.section.dataset.status = 'ok';
      return false;
    }
    if (answer.status === 'missing') showNote(p, 'missing', answer.note);
    else showNote(p, 'error', answer.message || ('unexpected answer ' + answer.status));
    return true;
  }

  function guardPanel(name, draw) {
    const p = panel(name);
    resetPanel(p);
    try {
      draw(p);
    } catch (e) {
      showNote(p, 'error', e && e.message ? e.message : String(e));
    }
    exportLink(p.section);
  }

  function currentPair() {
    return state.overview.pairs[state.pairIndex];
  }

  function pairNets(pair) {
    for (const a of state.overview.nets) {
      for (const b of state.overview.nets) {
        if (a + '~' + b === pair) return [a, b];
      }
    }
    return [pair, ''];
  }

  // --------------------------------------------------------- heatmaps -----
  // The core answers each matrix in grey (minimum black, maximum white) and
  // the page colours it here, so that one colour scale can span several
  // panels ("shared colour scale") and the MI diagonal (each unit's entropy)
  // can be left out of the scale. The values: the core's heatmapValues when
  // it has one, else rebuilt from the embedded .npy files the core names
  // (valuesFromFiles), else the core's 8-bit grey levels (the legend says so).

  const HEATMAP_MIN = 220, HEATMAP_MAX = 640;  // CSS pixels of the matrix area
  const AXIS_LEFT = 52, AXIS_BOTTOM = 40;      // tick labels, net strip and net name
  const AXIS_PAD = 12;                         // the bottom axis reaches this far past the matrix (end labels)
  const NET_COLOURS = ['#2f6fb2', '#d9622b'];  // net A, net B: membership strips, dendrogram leaves
  const MARK_COLOURS = { light: 'rgb(0,230,118)', dark: 'rgb(0,229,255)' };  // matched cells
  const BOUNDARY_COLOUR = 'rgb(0,0,0)';
  const FIG1_PANELS = ['within_a', 'within_b', 'between', 'matched'];
  const PLOT_FONT = 'system-ui, "DejaVu Sans", sans-serif';

  // Options of these figures, apart from the page state (the controls in
  // viewer.html bind to them in bindFigureControls).
  const figures = {
    models: {},                 // panel name -> the heatmap model drawn there
    collapsed: new Map(),       // layer|pair -> Set of collapsed cluster ids (dendrogram)
    sortMatched: false, groupNets: false, sharedScale: false, treeHeight: 'between',
  };

  // Colour maps as small lookup tables: stops evenly spaced in [0, 1]
  // (viridis and magma from matplotlib, sampled at ninths), expanded
  // linearly to 256 entries.
  const COLOUR_STOPS = {
    grey: [[0, 0, 0], [255, 255, 255]],
    diverging: [[59, 76, 192], [255, 255, 255], [180, 4, 38]],  // the core's blue - white - red
    viridis: [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141], [39, 173, 129],
      [92, 200, 99], [170, 220, 50], [253, 231, 37]],
    magma: [[0, 0, 4], [28, 16, 68], [79, 18, 123], [129, 37, 129], [181, 54, 122], [229, 80, 100],
      [251, 135, 97], [254, 194, 135], [252, 253, 191]],
  };
  const LUTS = {};
  function colourLut(name) {
    if (LUTS[name]) return LUTS[name];
    const stops = COLOUR_STOPS[name] || COLOUR_STOPS.grey;
    const lut = new Uint8ClampedArray(256 * 3);
    for (let i = 0; i < 256; i++) {
      const t = i / 255 * (stops.length - 1), k = Math.min(stops.length - 2, Math.floor(t)), f = t - k;
      for (let c = 0; c < 3; c++) lut[3 * i + c] = Math.round(stops[k][c] + (stops[k + 1][c] - stops[k][c]) * f);
    }
    return (LUTS[name] = lut);
  }

  function makeHeatmap(id, kind, measure) {
    // Always grey from the core: the page colours (see above).
    const args = [id, state.layer, currentPair(), kind, measure, 'grey'];
    let answer = ask('makeHeatmap', ...args);
    if (answer.status === 'need_files') {
      for (const path of answer.paths) {
        const bytes = fileBytes(path);
        const added = ask('addFile', path, bytes);
        if (added.status !== 'ok') return added;
      }
      answer = ask('makeHeatmap', ...args);
    }
    return answer;
  }

  // The values the core drew, rebuilt from the embedded .npy files it names
  // (info.files) the way the core arranges them: as stored (a, b, c), B's
  // columns in matched order (d), or the combined matrix G_{X+Y} permuted
  // by the clustering (Sec. 6.5), thresholded at tau for W. null when the
  // shapes do not fit.
  function valuesFromFiles(kind, measure, info) {
    const files = (info.files || []).map((path) => readNpy(path));
    const { rows, cols } = info;
    const fits = (m, r, c) => m.shape.length === 2 && m.shape[0] === r && m.shape[1] === c;
    if (kind === 'within_a' || kind === 'within_b' || kind === 'between') {
      return files.length === 1 && fits(files[0], rows, cols) ? Float32Array.from(files[0].data) : null;
    }
    if (kind === 'matched') {
      const m = files[0], al = alignmentOf(measure);
      if (files.length !== 1 || !fits(m, rows, cols)) return null;
      if (/_matched\.npy$/.test(info.files[0])) return Float32Array.from(m.data);
      const order = al && Array.isArray(al.matched_order) && al.matched_order.length === cols ? al.matched_order : null;
      if (!order) return null;
      const out = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = m.data[r * cols + order[c]];
      return out;
    }
    if (kind === 'clusters' || kind === 'clusters_tau') {
      const layer = state.summary.layers[state.layer] || {};
      const c = layer.clusters ? layer.clusters[currentPair()] : null;
      const perm = c && Array.isArray(c.permutation) ? c.permutation : null;
      if (files.length !== 3 || !perm || perm.length !== rows || rows !== cols) return null;
      const [xx, xy, yy] = files, sa = xx.shape[0], sb = yy.shape[0];
      if (!fits(xx, sa, sa) || !fits(xy, sa, sb) || !fits(yy, sb, sb) || sa + sb !== rows) return null;
      const at = (u, v) => (u < sa ? (v < sa ? xx.data[u * sa + v] : xy.data[u * sb + v - sa])
        : (v < sa ? xy.data[v * sb + u - sa] : yy.data[(u - sa) * sb + v - sa]));
      const tau = kind === 'clusters_tau' ? info.tau : null;
      const out = new Float32Array(rows * cols);
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          const v = at(perm[i], perm[j]);
          out[i * cols + j] = tau !== null && (i === j || v < tau) ? 0 : v;
        }
      }
      return out;
    }
    return null;
  }

  // The matrix values in the core's order (NaN where not finite).
  function heatmapValues(id, info, kind, measure) {
    const n = info.rows * info.cols;
    if (typeof state.viewer.heatmapValues === 'function') {
      const exact = state.viewer.heatmapValues(id);
      if (exact && exact.length === n) return { values: Float32Array.from(exact), exact: true };
    }
    try {
      const exact = valuesFromFiles(kind, measure, info);
      if (exact) return { values: exact, exact: true };
    } catch (e) {
      // A file the page cannot read itself (e.g. float64): the grey levels below.
    }
    const rgba = state.viewer.heatmapRgba(id);
    if (rgba.length !== n * 4) throw new Error('heatmap buffer has the wrong size');
    const values = new Float32Array(n);
    const lo = info.scale_min, span = info.scale_max - info.scale_min;
    for (let i = 0; i < n; i++) {
      const r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2];
      values[i] = r === 255 && g === 0 && b === 255 ? NaN : lo + span * r / 255;  // magenta: not finite
    }
    return { values, exact: false };
  }

  const identity = (n) => Array.from({ length: n }, (_, i) => i);

  function alignmentOf(measure) {
    const layer = state.summary && state.summary.layers ? state.summary.layers[state.layer] : null;
    const pair = layer && layer.pairs ? layer.pairs[currentPair()] : null;
    return pair ? pair[measure === 'mi' ? 'mutual_information' : 'correlation'] || null : null;
  }

  // What a heatmap panel shows: the values in the core's order, the display
  // order of rows and columns (rowMap[i]: core row of display row i), axis
  // titles, and the marks drawn over the matrix.
  function heatmapModel(name, id, kind, measure, info) {
    const [a, b] = pairNets(currentPair());
    const { values, exact } = heatmapValues(id, info, kind, measure);
    const rows = info.rows, cols = info.cols;
    const model = {
      name, id, kind, measure, info, rows, cols, values, exact,
      key: state.layer + '|' + currentPair() + '|' + measure,
      rowMap: identity(rows), colMap: identity(cols), natural: true,
      rowTitle: a + ' units', colTitle: b + ' units',
      marks: [], boundary: null, rowNets: null, blocks: null, notes: [],
      // Sec. 3.2: the diagonal of a within-net MI matrix is each unit's
      // entropy, far above every pairwise MI; it stays out of the scale.
      excludeDiagonal: measure === 'mi' && (kind === 'within_a' || kind === 'within_b') && rows === cols,
    };
    if (kind === 'within_a') model.colTitle = a + ' units';
    if (kind === 'within_b') model.rowTitle = b + ' units';
    if (kind === 'matched') {
      model.colTitle = b + ' units, matched order (position)';
      const al = alignmentOf(measure);
      const order = al && Array.isArray(al.matched_order) && al.matched_order.length === cols ? al.matched_order : null;
      const matching = al && Array.isArray(al.matching) ? al.matching : null;
      if (order && matching) {
        // Fig. 1d: row r's partner matching[r] sits at the column where
        // matched_order holds it; those cells form the (partly white) diagonal.
        const position = new Map(order.map((u, j) => [u, j]));
        const cells = [];
        for (let r = 0; r < rows && r < matching.length; r++) {
          if (Number.isInteger(matching[r]) && matching[r] >= 0 && position.has(matching[r])) cells.push([r, position.get(matching[r])]);
        }
        if (figures.sortMatched) {
          const v = al.matching_values || [];
          const key = (r) => (typeof v[r] === 'number' && isFinite(v[r]) ? v[r] : -Infinity);
          const partner = new Map(cells);
          const rowOrder = identity(rows).sort((r, q) => (partner.has(q) - partner.has(r)) || key(q) - key(r) || r - q);
          const used = new Set();
          const colOrder = [];
          for (const r of rowOrder) if (partner.has(r)) { colOrder.push(partner.get(r)); used.add(partner.get(r)); }
          for (let j = 0; j < cols; j++) if (!used.has(j)) colOrder.push(j);
          model.rowMap = rowOrder;
          model.colMap = colOrder;
          model.natural = false;
          model.rowTitle = a + ' units, by decreasing matched value (rank)';
          model.colTitle = b + ' partners (rank)';
          model.marks = cells.map((_, i) => [i, i]);
        } else {
          model.marks = cells;
        }
      } else {
        model.notes.push('no matching in the results: the matched cells are not marked');
      }
    }
    if (kind === 'clusters' || kind === 'clusters_tau') {
      const layer = state.summary.layers[state.layer] || {};
      const c = layer.clusters ? layer.clusters[currentPair()] : null;
      const perm = c && Array.isArray(c.permutation) && c.permutation.length === rows ? c.permutation : null;
      const sa = layer.units ? layer.units[a] : null;
      model.rowTitle = model.colTitle = a + ' + ' + b + ' units, clustered order (position)';
      if (perm && Number.isInteger(sa)) {
        const nets = perm.map((u) => (u < sa ? 0 : 1));
        if (figures.groupNets) {
          // Sec. 6.5 G_{X+Y} = [[XX, XY], [XY^T, YY]]: A's units, then B's,
          // each in clustered order, with the A/B boundary drawn.
          const order = identity(rows).filter((i) => nets[i] === 0).concat(identity(rows).filter((i) => nets[i] === 1));
          model.rowMap = model.colMap = order;
          model.rowNets = order.map((i) => nets[i]);
          model.boundary = nets.filter((n) => n === 0).length;
          model.rowTitle = model.colTitle = a + ' | ' + b + ' units, each in clustered order (position)';
        } else {
          model.rowNets = nets;
          model.blocks = info.blocks || null;
        }
        model.natural = false;
      } else {
        model.blocks = info.blocks || null;
      }
    }
    if (kind === 'within_a' || kind === 'within_b' || kind === 'between') model.natural = true;
    model.view = { x0: 0, y0: 0, x1: cols, y1: rows };
    return model;
  }

  // The colour scale of a model: the finite range of its values (without
  // the MI diagonal), or of every Fig. 1 panel with the shared scale.
  function valueRange(model) {
    let lo = Infinity, hi = -Infinity;
    const { rows, cols, values } = model;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        if (model.excludeDiagonal && r === c) continue;
        const v = values[r * cols + c];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    return lo <= hi ? [lo, hi] : [0, 0];
  }

  function colourScale(model) {
    let [lo, hi] = valueRange(model);
    if (figures.sharedScale && FIG1_PANELS.includes(model.name)) {
      for (const name of FIG1_PANELS) {
        const other = figures.models[name];
        if (!other || other.key !== model.key || other === model) continue;
        const [l, h] = valueRange(other);
        lo = Math.min(lo, l);
        hi = Math.max(hi, h);
      }
    }
    const nonNegative = model.measure === 'mi' || model.kind === 'clusters_tau' || lo >= 0;
    let map = state.colours || 'auto';
    if (map === 'auto') map = nonNegative ? 'viridis' : 'diverging';
    if (!COLOUR_STOPS[map]) map = 'grey';
    if (map === 'diverging') {
      const e = Math.max(Math.abs(lo), Math.abs(hi));
      lo = -e;
      hi = e;
    } else if (nonNegative && model.measure === 'mi' && lo > 0) {
      lo = 0;  // MI is >= 0: its sequential scale starts at 0
    }
    return { map, lo, hi, shared: figures.sharedScale && FIG1_PANELS.includes(model.name) };
  }

  // The coloured matrix in display order, one pixel per cell.
  function colourModel(model) {
    model.scale = colourScale(model);
    const { lo, hi, map } = model.scale;
    const lut = colourLut(map);
    const { rows, cols, values, rowMap, colMap } = model;
    const rgba = new Uint8ClampedArray(rows * cols * 4);
    const span = hi - lo;
    for (let i = 0; i < rows; i++) {
      const base = rowMap[i] * cols;
      for (let j = 0; j < cols; j++) {
        const v = values[base + colMap[j]], o = 4 * (i * cols + j);
        rgba[o + 3] = 255;
        if (v !== v) { rgba[o] = 255; rgba[o + 1] = 0; rgba[o + 2] = 255; continue; }  // NaN: magenta
        const t = span > 0 ? (v - lo) / span : 0.5;
        const k = 3 * Math.round(255 * (t < 0 ? 0 : t > 1 ? 1 : t));
        rgba[o] = lut[k];
        rgba[o + 1] = lut[k + 1];
        rgba[o + 2] = lut[k + 2];
      }
    }
    if (!model.source) model.source = document.createElement('canvas');
    model.source.width = cols;
    model.source.height = rows;
    model.source.getContext('2d').putImageData(new ImageData(rgba, cols, rows), 0, 0);
  }

  // Integer ticks (1, 2, 5 x 10^k apart) over the display indices visible
  // in [v0, v1) cells.
  function indexTicks(v0, v1, target) {
    const lo = Math.max(0, Math.ceil(v0 - 0.5)), hi = Math.floor(v1 - 0.5);
    if (hi < lo) return [];
    const raw = Math.max(1, (v1 - v0) / target);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    let step = mag;
    for (const f of [1, 2, 5, 10]) { step = f * mag; if (step >= raw) break; }
    step = Math.max(1, Math.round(step));
    const ticks = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) ticks.push(t);
    return ticks;
  }

  // Ticks, the net-membership strips and the axis titles around a matrix
  // drawn at (ox, oy, W, H); parts: which axes.
  function paintHeatmapAxes(painter, model, ox, oy, W, H, parts) {
    const v = model.view;
    const X = (j) => ox + (j - v.x0) / (v.x1 - v.x0) * W, Y = (i) => oy + (i - v.y0) / (v.y1 - v.y0) * H;
    const strip = model.rowNets ? 6 : 0;
    const ticks = { x: indexTicks(v.x0, v.x1, Math.max(2, Math.round(W / 70))), y: indexTicks(v.y0, v.y1, Math.max(2, Math.round(H / 45))) };
    model.ticks = ticks;
    const ink = { stroke: '#5d6677', lineWidth: 1 };
    const runs = (from, to, draw) => {
      // Consecutive display indices of the same net, as one rectangle each.
      let start = Math.max(0, Math.floor(from));
      const end = Math.min(model.rowNets.length, Math.ceil(to));
      while (start < end) {
        let stop = start + 1;
        while (stop < end && model.rowNets[stop] === model.rowNets[start]) stop++;
        draw(Math.max(start, from), Math.min(stop, to), NET_COLOURS[model.rowNets[start]]);
        start = stop;
      }
    };
    if (parts.left) {
      if (strip) runs(v.y0, v.y1, (s, e, colour) => painter.rect(ox - strip - 1, Y(s), strip, Y(e) - Y(s), { fill: colour }));
      for (const t of ticks.y) {
        const y = Math.round(Y(t + 0.5)) + 0.5;
        painter.line(ox - strip - 5, y, ox - strip - 1, y, ink);
        painter.text(String(t), ox - strip - 7, y, { size: 10, fill: '#3a4150', align: 'right', baseline: 'middle' });
      }
      painter.text(fitText(painter, model.rowTitle, H - 4, 11), ox - AXIS_LEFT + 9, oy + H / 2,
        { size: 11, fill: '#1d2330', align: 'center', baseline: 'middle', rotate: -Math.PI / 2 });
    }
    if (parts.bottom) {
      if (strip) runs(v.x0, v.x1, (s, e, colour) => painter.rect(X(s), oy + H + 1, X(e) - X(s), strip, { fill: colour }));
      for (const t of ticks.x) {
        const x = Math.round(X(t + 0.5)) + 0.5;
        painter.line(x, oy + H + strip + 1, x, oy + H + strip + 5, ink);
        painter.text(String(t), x, oy + H + strip + 6, { size: 10, fill: '#3a4150', align: 'center', baseline: 'top' });
      }
      painter.text(fitText(painter, model.colTitle, W, 11), ox + W / 2, oy + H + AXIS_BOTTOM - 3,
        { size: 11, fill: '#1d2330', align: 'center', baseline: 'bottom' });
    }
  }

  // A name cut with an ellipsis to fit width CSS pixels.
  function fitText(painter, text, width, size) {
    if (painter.measure(text, size) <= width) return text;
    let n = text.length;
    while (n > 1 && painter.measure(text.slice(0, n) + '\u2026', size) > width) n--;
    return text.slice(0, n) + '\u2026';
  }

  // The visible part of the matrix, with the matched cells, the A/B
  // boundary and the leaf-cluster blocks, on the heatmap canvas.
  function paintMatrix(model) {
    const canvas = model.canvas, v = model.view;
    const ctx = canvas.getContext('2d');
    const cw = canvas.width, ch = canvas.height;
    const sx = cw / (v.x1 - v.x0), sy = ch / (v.y1 - v.y0);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, cw, ch);
    ctx.imageSmoothingEnabled = sx < 1 || sy < 1;
    ctx.drawImage(model.source, v.x0, v.y0, v.x1 - v.x0, v.y1 - v.y0, 0, 0, cw, ch);
    const X = (j) => (j - v.x0) * sx, Y = (i) => (i - v.y0) * sy;
    const ratio = window.devicePixelRatio || 1;
    const visible = (i, j) => j + 1 > v.x0 && j < v.x1 && i + 1 > v.y0 && i < v.y1;
    if (model.marks.length) {
      ctx.strokeStyle = model.scale.map === 'viridis' || model.scale.map === 'magma' ? MARK_COLOURS.dark : MARK_COLOURS.light;
      ctx.lineWidth = Math.max(1, Math.round(ratio));
      if (Math.min(sx, sy) >= 4) {
        // Large cells: each matched cell outlined.
        const lw = ctx.lineWidth;
        for (const [i, j] of model.marks) {
          if (!visible(i, j)) continue;
          const x = Math.round(X(j)), y = Math.round(Y(i));
          ctx.strokeRect(x + lw / 2, y + lw / 2, Math.round(X(j + 1)) - x - lw, Math.round(Y(i + 1)) - y - lw);
        }
      } else {
        // Small cells: a strip along the matched cells, a few pixels to
        // either side, so the values themselves stay visible.
        const gap = 2 * ratio + 0.5 * Math.max(sx, sy);
        for (const side of [-1, 1]) {
          ctx.beginPath();
          let last = null;
          for (const [i, j] of model.marks) {
            const x = X(j + 0.5) + side * gap, y = Y(i + 0.5);
            if (last && Math.abs(last[0] - i) <= 1 && Math.abs(last[1] - j) <= 1) ctx.lineTo(x, y); else ctx.moveTo(x, y);
            last = [i, j];
          }
          ctx.stroke();
        }
      }
    }
    if (model.blocks && model.blocks.length <= 4000) {
      // Leaf clusters that sit in one contiguous block (Fig. 13).
      ctx.strokeStyle = 'rgba(255, 140, 0, 0.9)';
      ctx.lineWidth = Math.max(1, ratio);
      for (const [start, length] of model.blocks) ctx.strokeRect(X(start), Y(start), length * sx, length * sy);
    }
    if (model.boundary !== null && model.boundary > 0 && model.boundary < Math.max(model.rows, model.cols)) {
      // The A/B boundary of the combined matrix, with a light halo so it
      // shows on dark colours too.
      const bx = Math.round(X(model.boundary)), by = Math.round(Y(model.boundary));
      for (const [colour, width] of [['rgba(255,255,255,0.9)', 4 * ratio], [BOUNDARY_COLOUR, 2 * ratio]]) {
        ctx.fillStyle = colour;
        if (bx > -width && bx < cw + width) ctx.fillRect(bx - width / 2, 0, width, ch);
        if (by > -width && by < ch + width) ctx.fillRect(0, by - width / 2, cw, width);
      }
    }
    canvas.dataset.view = JSON.stringify([v.x0, v.y0, v.x1, v.y1].map((t) => Number(t.toFixed(3))));
  }

  function paintHeatmap(model) {
    paintMatrix(model);
    for (const [axis, parts, ox, oy] of [[model.leftAxis, { left: true }, AXIS_LEFT, 0], [model.bottomAxis, { bottom: true }, AXIS_PAD, -model.height]]) {
      const ctx = axis.getContext('2d');
      const ratio = window.devicePixelRatio || 1;
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.clearRect(0, 0, axis.width, axis.height);
      paintHeatmapAxes(canvasPainter(ctx), model, ox, oy, model.width, model.height, parts);
    }
    model.canvas.dataset.xTicks = JSON.stringify(model.ticks.x);
    model.canvas.dataset.yTicks = JSON.stringify(model.ticks.y);
  }

  function sizedCanvas(className, width, height) {
    const canvas = element('canvas', { className });
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = width + 'px';
    canvas.style.height = height + 'px';
    return canvas;
  }

  // Display cell under a pointer event, as fractions of the core's matrix
  // (what heatmapCell takes), or null outside.
  function coreFractions(model, event) {
    const canvas = model.canvas, rect = canvas.getBoundingClientRect(), v = model.view;
    const fx = (event.clientX - rect.left - canvas.clientLeft) / canvas.clientWidth;
    const fy = (event.clientY - rect.top - canvas.clientTop) / canvas.clientHeight;
    if (!(fx >= 0 && fx < 1 && fy >= 0 && fy < 1)) return null;
    const j = Math.min(model.cols - 1, Math.floor(v.x0 + fx * (v.x1 - v.x0)));
    const i = Math.min(model.rows - 1, Math.floor(v.y0 + fy * (v.y1 - v.y0)));
    return [(model.colMap[j] + 0.5) / model.cols, (model.rowMap[i] + 0.5) / model.rows, fx, fy];
  }

  function setView(model, x0, y0, w, h) {
    w = Math.min(model.cols, Math.max(Math.min(model.cols, 4), w));
    h = Math.min(model.rows, Math.max(Math.min(model.rows, 4), h));
    x0 = Math.min(model.cols - w, Math.max(0, x0));
    y0 = Math.min(model.rows - h, Math.max(0, y0));
    model.view = { x0, y0, x1: x0 + w, y1: y0 + h };
    paintHeatmap(model);
  }

  // Zoom by factor (< 1: in) about the point at fractions (fx, fy) of the view.
  function zoomHeatmap(model, factor, fx, fy) {
    const v = model.view, w = v.x1 - v.x0, h = v.y1 - v.y0;
    const cx = v.x0 + fx * w, cy = v.y0 + fy * h;
    const nw = Math.min(model.cols, Math.max(Math.min(model.cols, 4), w * factor));
    const nh = Math.min(model.rows, Math.max(Math.min(model.rows, 4), h * factor));
    setView(model, cx - fx * nw, cy - fy * nh, nw, nh);
  }

  function resetHeatmap(model) {
    setView(model, 0, 0, model.cols, model.rows);
  }

  function heatmapInteraction(model) {
    const canvas = model.canvas;
    let drag = null;
    canvas.addEventListener('wheel', (event) => {
      const f = coreFractions(model, event);
      if (!f) return;
      event.preventDefault();
      zoomHeatmap(model, Math.pow(1.0015, Math.max(-400, Math.min(400, event.deltaY))), f[2], f[3]);
      hover(event, model);
    }, { passive: false });
    canvas.addEventListener('mousedown', (event) => {
      if (event.button !== 0) return;
      drag = { x: event.clientX, y: event.clientY, view: { ...model.view }, moved: false };
      event.preventDefault();  // no text selection while dragging
      canvas.focus({ preventScroll: true });
    });
    canvas.addEventListener('mouseup', () => { if (drag) setTimeout(() => { drag = null; }, 0); });
    canvas.addEventListener('mousemove', (event) => {
      if (drag && (event.buttons & 1)) {
        const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
        if (drag.moved) {
          const v = drag.view, w = v.x1 - v.x0, h = v.y1 - v.y0;
          setView(model, v.x0 - dx / canvas.clientWidth * w, v.y0 - dy / canvas.clientHeight * h, w, h);
          return;
        }
      }
      hover(event, model);
    });
    canvas.addEventListener('mouseleave', () => { byId('tooltip').hidden = true; });
    canvas.addEventListener('dblclick', () => resetHeatmap(model));
    canvas.addEventListener('keydown', (event) => {
      const v = model.view, w = v.x1 - v.x0, h = v.y1 - v.y0;
      const pan = { ArrowLeft: [-0.1, 0], ArrowRight: [0.1, 0], ArrowUp: [0, -0.1], ArrowDown: [0, 0.1] }[event.key];
      if (event.key === '+' || event.key === '=') zoomHeatmap(model, 1 / 1.5, 0.5, 0.5);
      else if (event.key === '-' || event.key === '_') zoomHeatmap(model, 1.5, 0.5, 0.5);
      else if (event.key === '0' || event.key === 'Home') resetHeatmap(model);
      else if (pan) setView(model, v.x0 + pan[0] * w, v.y0 + pan[1] * h, w, h);
      else return;
      event.preventDefault();
    });
    // A click opens both units' top inputs (Figs. 2, 4, 7).
    canvas.addEventListener('click', (event) => {
      if (drag && drag.moved) return;
      const f = coreFractions(model, event);
      if (!f) return;
      const cell = ask('heatmapCell', model.id, f[0], f[1]);
      if (cell.status === 'ok' && topPatches()) selectUnitPair(cell.row_net, cell.row_unit, cell.col_net, cell.col_unit, cell.value);
    });
  }

  function drawHeatmap(p, id, info, name, kind, measure) {
    const model = heatmapModel(name || id, id, kind, measure, info);
    figures.models[model.name] = model;
    colourModel(model);
    const rows = info.rows, cols = info.cols;
    const avail = (bodyWidth(p) || 320) - AXIS_LEFT - 8;
    const cell = Math.max(HEATMAP_MIN, Math.min(HEATMAP_MAX, avail)) / Math.max(rows, cols, 1);
    model.width = Math.max(1, Math.round(cols * cell));
    model.height = Math.max(1, Math.round(rows * cell));
    model.canvas = sizedCanvas('heatmap', model.width, model.height);
    model.canvas.dataset.heatmap = id;
    model.canvas.tabIndex = 0;
    model.canvas.setAttribute('aria-label', 'heatmap ' + rows + ' by ' + cols +
      ': wheel or + and - to zoom, drag or arrow keys to pan, double-click or 0 to reset');
    if (model.marks.length) model.canvas.dataset.marks = String(model.marks.length);
    if (model.boundary !== null) model.canvas.dataset.boundary = String(model.boundary);
    model.leftAxis = sizedCanvas('f-axis f-axis-left', AXIS_LEFT, model.height);
    model.bottomAxis = sizedCanvas('f-axis f-axis-bottom', model.width + 2 * AXIS_PAD, AXIS_BOTTOM);
    // The matrix canvas first: it is the panel's main canvas.
    const figure = element('div', { className: 'f-heatmap' }, [model.canvas, model.leftAxis, model.bottomAxis]);
    paintHeatmap(model);
    heatmapInteraction(model);
    p.body.appendChild(figureTools(p, name || id, {
      png: () => heatmapExportCanvas(model, p),
      svg: () => heatmapSvg(model, p),
      reset: () => resetHeatmap(model),
    }));
    p.body.appendChild(figure);
    model.legend = colourLegend(model);
    p.body.appendChild(model.legend);
    const caption = rows + ' \u00d7 ' + cols + ', min ' + fmt(info.min) + ', max ' + fmt(info.max) +
      (model.blocks ? ', ' + model.blocks.length + ' leaf clusters outlined' : '') +
      (info.thresholded ? ', thresholded at \u03c4 = ' + fmt(info.tau) + ' (entries < \u03c4 and the diagonal shown as 0)' : '') +
      (model.marks.length ? ', ' + model.marks.length + ' matched cells marked' : '') +
      (model.boundary !== null ? ', ' + model.boundary + ' units of the first net, then the second' : '');
    p.body.appendChild(element('p', { className: 'caption', text: caption }));
    if (info.note) p.body.appendChild(element('p', { className: 'caption', text: info.note }));
    for (const note of model.notes) p.body.appendChild(element('p', { className: 'caption', text: note }));
    if (figures.sharedScale && FIG1_PANELS.includes(model.name)) applySharedScale(model.key);
  }

  // Recolours every Fig. 1 panel of this layer, pair and measure on one scale.
  function applySharedScale(key) {
    for (const name of FIG1_PANELS) {
      const m = figures.models[name];
      if (!m || m.key !== key || !m.canvas.isConnected) continue;
      colourModel(m);
      paintHeatmap(m);
      const legend = colourLegend(m);
      m.legend.replaceWith(legend);
      m.legend = legend;
    }
  }

  function colourLegend(model) {
    const { lo, hi, map } = model.scale;
    const bar = element('canvas');
    bar.width = 160;
    bar.height = 10;
    const ctx = bar.getContext('2d');
    const lut = colourLut(map);
    for (let x = 0; x < 160; x++) {
      const k = 3 * Math.round(255 * x / 159);
      ctx.fillStyle = 'rgb(' + lut[k] + ',' + lut[k + 1] + ',' + lut[k + 2] + ')';
      ctx.fillRect(x, 0, 1, 10);
    }
    const parts = [element('span', { text: fmt(lo, 3) }), bar, element('span', { text: fmt(hi, 3) })];
    const notes = [map];
    if (model.scale.shared) notes.push('shared by panels a\u2013d');
    if (model.excludeDiagonal) notes.push('diagonal (entropy) above the scale');
    if (!model.exact) notes.push('8-bit values');
    parts.push(element('span', { className: 'f-legend-note', text: '(' + notes.join('; ') + ')' }));
    return element('div', { className: 'legend', 'data-colours': map }, parts);
  }

  function hover(event, model) {
    const tip = byId('tooltip');
    const f = coreFractions(model, event);
    const cell = f ? ask('heatmapCell', model.id, f[0], f[1]) : { status: 'missing' };
    if (cell.status !== 'ok') {
      tip.hidden = true;
      return;
    }
    tip.replaceChildren(
      element('div', { 'data-field': 'row', text: 'row ' + cell.row + ': ' + cell.row_net + ' unit ' + cell.row_unit }),
      element('div', { 'data-field': 'col', text: 'col ' + cell.col + ': ' + cell.col_net + ' unit ' + cell.col_unit }),
      element('div', { 'data-field': 'value', text: 'value: ' + (cell.value === null ? 'n/a' : cell.value.toPrecision(6)) }));
    showTooltip(event);
  }

  function showTooltip(event) {
    const tip = byId('tooltip');
    tip.hidden = false;
    const x = Math.min(event.clientX + 14, window.innerWidth - tip.offsetWidth - 4);
    const y = Math.min(event.clientY + 14, window.innerHeight - tip.offsetHeight - 4);
    tip.style.left = Math.max(0, x) + 'px';
    tip.style.top = Math.max(0, y) + 'px';
  }

  function heatmapPanel(name, kind, measure) {
    guardPanel(name, (p) => {
      const id = name;
      const info = makeHeatmap(id, kind, measure);
      if (handled(p, info)) return;
      drawHeatmap(p, id, info, name, kind, measure);
    });
  }

  // ------------------------------------------------- painters, export -----
  // One drawing interface for a canvas and for SVG text, so a figure's PNG
  // and SVG come from the same code (drawPlot, the heatmap axes, the
  // dendrogram). Coordinates are CSS pixels.

  const MEASURE_CONTEXT = document.createElement('canvas').getContext('2d');
  function measureText(text, size, weight) {
    MEASURE_CONTEXT.font = (weight ? weight + ' ' : '') + size + 'px ' + PLOT_FONT;
    return MEASURE_CONTEXT.measureText(text).width;
  }

  function canvasPainter(ctx) {
    const stroke = (o) => {
      ctx.strokeStyle = o.stroke || '#000';
      ctx.lineWidth = o.lineWidth || 1;
      ctx.setLineDash(o.dash || []);
      ctx.stroke();
      ctx.setLineDash([]);
    };
    return {
      measure: (text, size, weight) => measureText(text, size, weight),
      line(x1, y1, x2, y2, o) { ctx.beginPath(); ctx.moveTo(x1, y1); ctx.lineTo(x2, y2); stroke(o); },
      // points: [[x, y] | null, ...]; null breaks the line.
      polyline(points, o) {
        ctx.beginPath();
        let open = false;
        for (const pt of points) {
          if (!pt) { open = false; continue; }
          if (open) ctx.lineTo(pt[0], pt[1]); else ctx.moveTo(pt[0], pt[1]);
          open = true;
        }
        stroke(o);
      },
      rect(x, y, w, h, o) {
        if (o.fill) { ctx.fillStyle = o.fill; ctx.fillRect(x, y, w, h); }
        if (o.stroke) { ctx.strokeStyle = o.stroke; ctx.lineWidth = o.lineWidth || 1; ctx.strokeRect(x, y, w, h); }
      },
      circle(x, y, r, o) {
        ctx.beginPath();
        ctx.arc(x, y, r, 0, 2 * Math.PI);
        if (o.fill) { ctx.fillStyle = o.fill; ctx.fill(); }
        if (o.stroke) stroke(o);
      },
      text(text, x, y, o) {
        ctx.save();
        ctx.font = (o.weight ? o.weight + ' ' : '') + (o.size || 11) + 'px ' + PLOT_FONT;
        ctx.fillStyle = o.fill || '#000';
        ctx.textAlign = o.align || 'left';
        ctx.textBaseline = o.baseline || 'alphabetic';
        ctx.translate(x, y);
        if (o.rotate) ctx.rotate(o.rotate);
        ctx.fillText(text, 0, 0);
        ctx.restore();
      },
      clip(x, y, w, h, draw) { ctx.save(); ctx.beginPath(); ctx.rect(x, y, w, h); ctx.clip(); draw(); ctx.restore(); },
      image(source, x, y, w, h) { ctx.drawImage(source, x, y, w, h); },
    };
  }

  const xmlText = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
  const num = (v) => String(Math.round(v * 100) / 100);

  function svgPainter(width, height) {
    const parts = [];
    let clips = 0;
    const strokeAttrs = (o) => ' fill="none" stroke="' + xmlText(o.stroke || '#000') + '" stroke-width="' + num(o.lineWidth || 1) + '"' +
      (o.dash && o.dash.length ? ' stroke-dasharray="' + o.dash.join(' ') + '"' : '');
    const anchors = { left: 'start', center: 'middle', right: 'end' };
    const baselines = { top: 'hanging', middle: 'central', bottom: 'text-after-edge', alphabetic: 'auto' };
    return {
      measure: (text, size, weight) => measureText(text, size, weight),
      line(x1, y1, x2, y2, o) {
        parts.push('<line x1="' + num(x1) + '" y1="' + num(y1) + '" x2="' + num(x2) + '" y2="' + num(y2) + '"' + strokeAttrs(o) + '/>');
      },
      polyline(points, o) {
        let run = [];
        const flush = () => {
          if (run.length > 1) parts.push('<polyline points="' + run.join(' ') + '"' + strokeAttrs(o) + '/>');
          run = [];
        };
        for (const pt of points) {
          if (!pt) flush(); else run.push(num(pt[0]) + ',' + num(pt[1]));
        }
        flush();
      },
      rect(x, y, w, h, o) {
        parts.push('<rect x="' + num(x) + '" y="' + num(y) + '" width="' + num(w) + '" height="' + num(h) + '"' +
          (o.fill ? ' fill="' + xmlText(o.fill) + '"' : ' fill="none"') +
          (o.stroke ? ' stroke="' + xmlText(o.stroke) + '" stroke-width="' + num(o.lineWidth || 1) + '"' : '') + '/>');
      },
      circle(x, y, r, o) {
        parts.push('<circle cx="' + num(x) + '" cy="' + num(y) + '" r="' + num(r) + '"' +
          (o.fill ? ' fill="' + xmlText(o.fill) + '"' : ' fill="none"') +
          (o.stroke ? ' stroke="' + xmlText(o.stroke) + '" stroke-width="' + num(o.lineWidth || 1) + '"' : '') + '/>');
      },
      text(text, x, y, o) {
        const transform = o.rotate ? ' transform="rotate(' + num(o.rotate * 180 / Math.PI) + ' ' + num(x) + ' ' + num(y) + ')"' : '';
        parts.push('<text x="' + num(x) + '" y="' + num(y) + '" font-size="' + (o.size || 11) + '"' +
          (o.weight ? ' font-weight="' + o.weight + '"' : '') + ' fill="' + xmlText(o.fill || '#000') +
          '" text-anchor="' + anchors[o.align || 'left'] + '" dominant-baseline="' + baselines[o.baseline || 'alphabetic'] + '"' +
          transform + '>' + xmlText(text) + '</text>');
      },
      clip(x, y, w, h, draw) {
        const id = 'clip' + (++clips);
        parts.push('<clipPath id="' + id + '"><rect x="' + num(x) + '" y="' + num(y) + '" width="' + num(w) + '" height="' + num(h) + '"/></clipPath><g clip-path="url(#' + id + ')">');
        draw();
        parts.push('</g>');
      },
      image(source, x, y, w, h) {
        // Raster content (a heatmap) embedded as PNG; xlink:href for SVG 1.1 readers.
        const url = source.toDataURL('image/png');
        parts.push('<image x="' + num(x) + '" y="' + num(y) + '" width="' + num(w) + '" height="' + num(h) +
          '" preserveAspectRatio="none" style="image-rendering:pixelated" href="' + url + '" xlink:href="' + url + '"/>');
      },
      toString() {
        return '<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="' + width + '" height="' + height +
          '" viewBox="0 0 ' + width + ' ' + height + '" font-family="' + xmlText(PLOT_FONT) + '">\n' + parts.join('\n') + '\n</svg>\n';
      },
    };
  }

  function exportName(panelName, ext) {
    const pair = currentPair() ? pairNets(currentPair()).join('-') : '';
    const base = ['convergent', state.layer || '', pair, panelName].filter((s) => s).join('_');
    return base.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 120) + '.' + ext;
  }

  function download(blob, filename) {
    const url = URL.createObjectURL(blob);
    const link = element('a', { href: url, download: filename, hidden: '' });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
  }

  // The small per-panel buttons: PNG, SVG and, for heatmaps, reset zoom.
  // make.png: () => canvas; make.svg: () => SVG text.
  function figureTools(p, panelName, make) {
    const title = p.section.querySelector('h3') ? p.section.querySelector('h3').textContent : panelName;
    const box = element('div', { className: 'f-tools', role: 'toolbar', 'aria-label': 'export ' + title });
    const button = (label, what, action) => {
      const b = element('button', { type: 'button', 'data-action': what, title: label + ': ' + title, text: label });
      b.addEventListener('click', action);
      box.appendChild(b);
    };
    if (make.reset) button('Reset zoom', 'reset', make.reset);
    button('PNG', 'png', () => {
      make.png().toBlob((blob) => { if (blob) download(blob, exportName(panelName, 'png')); }, 'image/png');
    });
    button('SVG', 'svg', () => download(new Blob([make.svg()], { type: 'image/svg+xml' }), exportName(panelName, 'svg')));
    if (make.csv) button('CSV', 'csv', () => download(new Blob([make.csv()], { type: 'text/csv' }), exportName(panelName, 'csv')));
    return box;
  }

  function panelTitle(p) {
    const h = p.section.querySelector('h3');
    return h ? h.textContent : '';
  }

  // A heatmap as one picture: title, matrix and axes.
  function heatmapLayout(model) {
    return { width: AXIS_LEFT + model.width + 12, height: 22 + model.height + AXIS_BOTTOM + 28, ox: AXIS_LEFT, oy: 22 };
  }

  function paintHeatmapFigure(painter, model, p, image) {
    const g = heatmapLayout(model);
    painter.rect(0, 0, g.width, g.height, { fill: '#fff' });
    painter.text(fitText(painter, panelTitle(p), g.width - 8, 12), 4, 6, { size: 12, weight: 600, fill: '#1d2330', baseline: 'top' });
    painter.image(image, g.ox, g.oy, model.width, model.height);
    paintHeatmapAxes(painter, model, g.ox, g.oy, model.width, model.height, { left: true, bottom: true });
    // The colour bar: 64 steps of the map, its ends labelled.
    const { lo, hi, map } = model.scale, lut = colourLut(map);
    const y = g.oy + model.height + AXIS_BOTTOM + 8, x0 = g.ox + 40, w = 160;
    for (let k = 0; k < 64; k++) {
      const i = 3 * Math.round(255 * k / 63);
      painter.rect(x0 + k * w / 64, y, w / 64 + 0.3, 10, { fill: 'rgb(' + lut[i] + ',' + lut[i + 1] + ',' + lut[i + 2] + ')' });
    }
    painter.text(fmt(lo, 3), x0 - 4, y + 5, { size: 10, fill: '#3a4150', align: 'right', baseline: 'middle' });
    painter.text(fmt(hi, 3) + '  (' + map + (model.excludeDiagonal ? '; diagonal above the scale' : '') + ')', x0 + w + 4, y + 5,
      { size: 10, fill: '#3a4150', baseline: 'middle' });
  }

  function heatmapExportCanvas(model, p) {
    const g = heatmapLayout(model);
    const canvas = sizedCanvas('', g.width, g.height);
    const ratio = window.devicePixelRatio || 1;
    const ctx = canvas.getContext('2d');
    ctx.scale(ratio, ratio);
    ctx.imageSmoothingEnabled = false;
    paintHeatmapFigure(canvasPainter(ctx), model, p, model.canvas);
    return canvas;
  }

  // A drawn canvas (the cross-layer maps: their labels are part of the
  // raster) as SVG wrapping its PNG.
  function canvasSvg(canvas) {
    const width = canvas.clientWidth || canvas.width, height = canvas.clientHeight || canvas.height;
    const painter = svgPainter(width, height);
    painter.image(canvas, 0, 0, width, height);
    return painter.toString();
  }

  function heatmapSvg(model, p) {
    const g = heatmapLayout(model);
    const painter = svgPainter(g.width, g.height);
    paintHeatmapFigure(painter, model, p, model.canvas);
    return painter.toString();
  }

  // ------------------------------------------------------------ plots -----

  function tickText(v) {
    if (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0)) return v.toExponential(1);
    return Number(v.toPrecision(4)).toString();
  }

  // The plot geometry of a spec: margins, ranges and the data -> CSS pixel
  // maps. A reference line (a dashed series) on the edge of the range gets
  // half a tick of room, so it is drawn inside the plot area.
  function plotGeometry(spec, width, height) {
    const perRow = Math.max(1, Math.floor((width - 72) / 150));
    const legendRows = Math.ceil(spec.series.length / perRow);
    const m = { left: 58, right: 14, top: 12 + 14 * legendRows, bottom: 42 };
    const pw = width - m.left - m.right, ph = height - m.top - m.bottom;
    const [x0, x1] = spec.x_range;
    let [y0, y1] = spec.y_range;
    const step = spec.y_ticks.length > 1 ? Math.abs(spec.y_ticks[1] - spec.y_ticks[0]) : Math.abs(y1 - y0) || 1;
    for (const s of spec.series) {
      if (s.style !== 'dashed') continue;
      for (const y of s.y) {
        if (typeof y !== 'number') continue;
        if (y >= y1 - 1e-9 * step) y1 = y + step / 2;
        if (y <= y0 + 1e-9 * step) y0 = y - step / 2;
      }
    }
    const X = (x) => m.left + (x1 === x0 ? 0.5 : (x - x0) / (x1 - x0)) * pw;
    const Y = (y) => m.top + ph - (y1 === y0 ? 0.5 : (y - y0) / (y1 - y0)) * ph;
    return { m, pw, ph, x0, x1, y0, y1, X, Y };
  }

  function paintPlot(painter, spec, width, height) {
    const g = plotGeometry(spec, width, height);
    const { m, pw, ph, X, Y } = g;
    painter.rect(0, 0, width, height, { fill: '#fff' });
    const grid = { stroke: '#e3e6ec', lineWidth: 1 };
    for (const t of spec.y_ticks) {
      if (t < g.y0 || t > g.y1) continue;
      const y = Math.round(Y(t)) + 0.5;
      painter.line(m.left, y, m.left + pw, y, grid);
      painter.text(tickText(t), m.left - 6, Y(t), { size: 11, fill: '#5d6677', align: 'right', baseline: 'middle' });
    }
    for (const t of spec.x_ticks) {
      const x = Math.round(X(t)) + 0.5;
      painter.line(x, m.top, x, m.top + ph, grid);
      painter.text(tickText(t), X(t), m.top + ph + 5, { size: 11, fill: '#5d6677', align: 'center', baseline: 'top' });
    }
    painter.rect(m.left + 0.5, m.top + 0.5, pw, ph, { stroke: '#8a93a3' });
    painter.text(spec.x_label, m.left + pw / 2, height - 16, { size: 11, fill: '#3a4150', align: 'center', baseline: 'top' });
    painter.text(spec.y_label, 13, m.top + ph / 2, { size: 11, fill: '#3a4150', align: 'center', baseline: 'middle', rotate: -Math.PI / 2 });

    painter.clip(m.left, m.top, pw, ph, () => {
      spec.series.forEach((s, k) => {
        const colour = PALETTE[k % PALETTE.length];
        const xs = s.x || null;
        const at = (i) => {
          const x = xs ? xs[i] : i, y = s.y[i];
          return x === null || y === null || x === undefined ? null : [X(x), Y(y)];
        };
        if (s.style !== 'points' && s.style !== 'bars') {
          painter.polyline(s.y.map((_, i) => at(i)), { stroke: colour, lineWidth: 1.6, dash: s.style === 'dashed' ? [5, 4] : null });
        }
        if (s.style === 'bars') {
          // One bar per point, from 0 to y, as wide as the x spacing.
          const w = Math.max(1, pw / Math.max(1, s.y.length));
          s.y.forEach((y, i) => {
            const x = xs ? xs[i] : i;
            if (y === null || x === null) return;
            const top = Y(Math.max(y, 0)), bottom = Y(Math.min(y, 0));
            painter.rect(X(x) - w / 2, top, w, Math.max(1, bottom - top), { fill: colour });
          });
        }
        if (s.style === 'points' || s.style === 'line+points') {
          const r = s.y.length > 200 ? 1.4 : 2.4;
          s.y.forEach((_, i) => {
            const pt = at(i);
            if (pt) painter.circle(pt[0], pt[1], r, { fill: colour });
          });
        }
      });
    });

    // Legend above the plot area (canvas text: names are never parsed as HTML).
    let lx = m.left, ly = 9;
    spec.series.forEach((s, k) => {
      const name = s.name.length > 40 ? s.name.slice(0, 39) + '\u2026' : s.name;
      const w = 20 + painter.measure(name, 11) + 14;
      if (lx + w > width - m.right && lx > m.left) { lx = m.left; ly += 14; }
      const colour = PALETTE[k % PALETTE.length];
      if (s.style === 'points') painter.circle(lx + 7, ly, 2.6, { fill: colour });
      else if (s.style === 'dashed') painter.line(lx, ly, lx + 14, ly, { stroke: colour, lineWidth: 2, dash: [4, 3] });
      else painter.rect(lx, ly - 1.5, 14, 3, { fill: colour });
      painter.text(name, lx + 20, ly, { size: 11, fill: '#1d2330', baseline: 'middle' });
      lx += w;
    });
    return g;
  }

  function drawPlot(spec, width, height) {
    const canvas = element('canvas', { className: 'plot' });
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = width + 'px';
    canvas.style.height = height + 'px';
    const ctx = canvas.getContext('2d');
    ctx.scale(ratio, ratio);
    const g = paintPlot(canvasPainter(ctx), spec, width, height);
    // CSS pixels <-> data coordinates, for panels whose points can be clicked.
    canvas.toPixel = (x, y) => [g.X(x), g.Y(y)];
    canvas.toData = (px, py) => [g.x0 + (px - g.m.left) / g.pw * (g.x1 - g.x0), g.y0 + (g.m.top + g.ph - py) / g.ph * (g.y1 - g.y0)];
    canvas.plotSpec = spec;
    canvas.svg = () => plotSvg(spec, width, height);
    canvas.addEventListener('mousemove', (event) => plotHover(event, canvas, spec, g));
    canvas.addEventListener('mouseleave', () => { byId('tooltip').hidden = true; });
    return canvas;
  }

  function plotSvg(spec, width, height) {
    const painter = svgPainter(width, height);
    paintPlot(painter, spec, width, height);
    return painter.toString();
  }

  // The point nearest the pointer (within 24 CSS pixels): its series, its
  // label (a unit, a cluster, an L1 strength) and its value.
  function plotHover(event, canvas, spec, g) {
    const rect = canvas.getBoundingClientRect();
    const px = event.clientX - rect.left - canvas.clientLeft, py = event.clientY - rect.top - canvas.clientTop;
    let best = null;
    spec.series.forEach((s, k) => {
      if (s.style === 'dashed' && s.y.length <= 2) return;  // a reference line
      s.y.forEach((y, i) => {
        const x = s.x ? s.x[i] : i;
        if (typeof y !== 'number' || typeof x !== 'number') return;
        const d = Math.hypot(g.X(x) - px, g.Y(y) - py);
        if (d < 24 && (!best || d < best.d)) best = { d, k, i, x, y };
      });
    });
    const tip = byId('tooltip');
    if (!best) { tip.hidden = true; return; }
    const s = spec.series[best.k];
    const label = s.labels && s.labels[best.i] !== undefined ? s.labels[best.i]
      : (s.x ? spec.x_label + ': ' + fmt(best.x, 4) : 'rank ' + best.i);
    tip.replaceChildren(
      element('div', { 'data-field': 'series', text: s.name }),
      element('div', { 'data-field': 'point', text: label }),
      element('div', { 'data-field': 'value', text: 'value: ' + fmt(best.y, 5) }));
    showTooltip(event);
  }

  // Appends a drawPlot canvas with its PNG / SVG buttons.
  function plotFigure(p, panelName, canvas, parent) {
    p.body.appendChild(figureTools(p, panelName, { png: () => canvas, svg: () => canvas.svg() }));
    (parent || p.body).appendChild(canvas);
    return canvas;
  }

  function plotWidth(p, fallback) {
    const w = bodyWidth(p) || fallback;
    return Math.max(320, Math.min(w, 900));
  }

  function stats(items) {
    const list = element('ul', { className: 'stats' });
    for (const [label, value] of items) {
      list.appendChild(element('li', {}, [element('b', { text: label + ': ' }), String(value)]));
    }
    return list;
  }

  // ---------------------------------------------------------- analyses ----

  function fig3Panel() {
    guardPanel('fig3', (p) => {
      const spec = ask('alignmentCurves', state.layer, currentPair(), 'correlation');
      if (handled(p, spec)) return;
      fig3Labels(spec);
      const canvas = drawPlot(spec, plotWidth(p, 520), 300);
      canvas.dataset.plot = 'fig3';
      const clickable = fig3Click(canvas, spec);
      plotFigure(p, 'fig3', canvas);
      const s = spec.stats;
      p.body.appendChild(element('p', { className: 'caption',
        text: 'semi-matching mean ' + fmt(s.semi_matching_mean) + ', matching mean ' + fmt(s.matching_mean) +
          ', overlap ' + fmt(s.overlap_ratio) + ' (' + s.units + ' units' +
          (s.unmatched ? ', ' + s.unmatched + ' unmatched' : '') + ')' +
          (clickable ? '. Click a point to open the pair below.' : '') }));
    });
  }

  // The rows of the Fig. 3 curve in plotting order (Sec. 3.1: decreasing
  // semi-matching value, ties lower row first), as the core sorts them.
  function fig3Rows(al) {
    if (Array.isArray(al.fig3_order)) return al.fig3_order;
    const v = al.semi_matching_values || [];
    const rows = v.map((_, r) => r);
    const key = (r) => (typeof v[r] === 'number' && isFinite(v[r]) ? v[r] : -Infinity);
    return rows.sort((r, q) => key(q) - key(r) || r - q);
  }

  // Hover labels of the Fig. 3 points: the unit of net A at each rank and
  // its partner in B.
  function fig3Labels(spec) {
    const layer = state.summary && state.summary.layers ? state.summary.layers[state.layer] : null;
    const al = layer && layer.pairs && layer.pairs[currentPair()] ? layer.pairs[currentPair()].correlation : null;
    if (!al || !Array.isArray(al.semi_matching_values)) return;
    const rows = fig3Rows(al);
    const [a, b] = pairNets(currentPair());
    const label = (partners) => rows.map((r, i) => 'rank ' + i + ': ' + a + ' unit ' + r +
      (Array.isArray(partners) && partners[r] >= 0 ? ' → ' + b + ' unit ' + partners[r] : ' (unmatched)'));
    if (spec.series[0] && spec.series[0].y.length === rows.length) spec.series[0].labels = label(al.semi_matching);
    if (spec.series[1] && spec.series[1].y.length === rows.length) spec.series[1].labels = label(al.matching);
  }

  // A click on the Fig. 3 curve opens the pair of that rank (Figs. 2, 7):
  // the semi-matching partner, or the matching partner when the click is
  // nearer the matching point. Returns whether the canvas was made clickable.
  function fig3Click(canvas, spec) {
    const layer = state.summary && state.summary.layers ? state.summary.layers[state.layer] : null;
    const al = layer && layer.pairs && layer.pairs[currentPair()] ? layer.pairs[currentPair()].correlation : null;
    if (!al || !Array.isArray(al.semi_matching) || !topPatches()) return false;
    const rows = fig3Rows(al);
    const [a, b] = pairNets(currentPair());
    const semi = spec.series[0].y, match = spec.series[1].y;
    canvas.style.cursor = 'pointer';
    canvas.addEventListener('click', (event) => {
      const rect = canvas.getBoundingClientRect();
      const [x, y] = canvas.toData(event.clientX - rect.left - canvas.clientLeft, event.clientY - rect.top - canvas.clientTop);
      const i = Math.round(x);
      if (!(i >= 0 && i < rows.length)) return;
      const r = rows[i];
      const partner = Array.isArray(al.matching) ? al.matching[r] : -1;
      const nearMatch = typeof partner === 'number' && partner >= 0 && match[i] !== null &&
        Math.abs(y - match[i]) < Math.abs(y - semi[i]);
      if (nearMatch) selectUnitPair(a, r, b, partner, match[i], 'matching, rank ' + i);
      else selectUnitPair(a, r, b, al.semi_matching[r], semi[i], 'semi-matching, rank ' + i);
    });
    return true;
  }

  // Under a Table 1 value: its bootstrap interval, permutation null and
  // held-out score (docs/resampling.md), those that were computed.
  function resamplingNote(r, key) {
    // As the cell itself: the overlap ratio in percent with one decimal, the means to 3 digits.
    const f = (v) => (key === 'overlap_ratio' && typeof v === 'number' && isFinite(v) ? (100 * v).toFixed(1) + '%' : fmt(v, 3));
    const parts = [];
    if ('low' in r) parts.push('CI [' + f(r.low) + ', ' + f(r.high) + ']');
    if ('null_mean' in r) parts.push('null ' + f(r.null_mean) + ' (p ' + fmt(r.p_value, 3) + ')');
    if ('held_out' in r) parts.push('held-out ' + f(r.held_out));
    return element('div', { className: 'resampling', text: parts.join(' \u00b7 ') });
  }

  function table1Panel() {
    guardPanel('table1', (p) => {
      const answer = ask('table1', currentPair());
      if (handled(p, answer)) return;
      const table = element('table');
      const head = element('thead');
      head.appendChild(element('tr', {}, [
        element('th', { text: 'layer' }),
        element('th', { text: 'semi-matching mean' }), element('th', { text: 'matching mean' }),
        element('th', { text: 'overlap ratio' }),
        element('th', { text: 'MI semi-matching' }), element('th', { text: 'MI matching' }),
        element('th', { text: 'MI overlap' })]));
      table.appendChild(head);
      const body = element('tbody');
      for (const row of answer.rows) {
        const tr = element('tr', { 'data-layer': row.layer });
        if (row.layer === state.layer) tr.className = 'selected';
        tr.appendChild(element('td', { text: row.layer }));
        for (const measure of ['correlation', 'mutual_information']) {
          const values = row[measure];
          if (!values) {
            tr.appendChild(element('td', { className: 'missing', text: 'not computed', colspan: '3' }));
            continue;
          }
          for (const key of ['semi_matching_mean', 'matching_mean', 'overlap_ratio']) {
            const v = values[key];
            const td = element('td', { text: key === 'overlap_ratio' && typeof v === 'number'
              ? (100 * v).toFixed(1) + '%' : fmt(v, 3) });
            const res = measure === 'correlation' ? row.resampling : row.mi_resampling;
            if (res && res[key]) td.appendChild(resamplingNote(res[key], key));
            tr.appendChild(td);
          }
        }
        body.appendChild(tr);
      }
      table.appendChild(body);
      p.body.appendChild(table);
      const [a, b] = pairNets(currentPair());
      p.body.appendChild(element('p', { className: 'caption',
        text: 'Pair ' + a + ' vs ' + b + '. Overlap ratio: fraction of units whose semi-matching and matching partners coincide.' }));
    });
  }

  // Whole-layer similarity indices of the pair, every layer, beside the
  // Table 1 matching mean (unit matching can be low where CKA is high: the
  // layers agree up to a rotation).
  function similarityPanel() {
    guardPanel('similarity', (p) => {
      const answer = ask('similarityIndices', currentPair());
      if (handled(p, answer)) return;
      const [a, b] = pairNets(currentPair());
      const columns = [['matching_mean', 'matching mean (Table 1)'], ['cka', 'linear CKA'],
        ['cka_debiased', 'debiased CKA'], ['cca_mean', 'mean CCA'], ['svcca_mean', 'SVCCA'],
        ['pwcca', 'PWCCA (' + a + ' weights)'], ['pwcca_symmetric', 'PWCCA (symmetric)'], ['procrustes_angular', 'Procrustes angle'],
        ['procrustes_euclidean', 'Procrustes distance']];
      const table = element('table');
      table.appendChild(element('thead', {}, [element('tr', {},
        [element('th', { text: 'layer' })].concat(columns.map(([, label]) => element('th', { text: label })),
          [element('th', { text: 'SVCCA dims' }), element('th', { text: 'notes' })]))]));
      const body = element('tbody');
      for (const row of answer.rows) {
        const tr = element('tr', { 'data-layer': row.layer });
        if (row.layer === state.layer) tr.className = 'selected';
        tr.appendChild(element('td', { text: row.layer }));
        const si = row.indices;
        if (!si) {
          tr.appendChild(element('td', { text: fmt(row.matching_mean, 3) }));
          tr.appendChild(element('td', { className: 'missing', text: 'not computed', colspan: String(columns.length + 1) }));
          body.appendChild(tr);
          continue;
        }
        for (const [key] of columns) {
          const v = key === 'matching_mean' ? row.matching_mean : si[key];
          const missing = v === null || v === undefined;
          const td = element('td', { className: missing ? 'missing' : '',
            text: missing ? (key === 'cka_debiased' ? 'n/a' : '\u2013') : fmt(v, 3) });
          // Its bootstrap interval, permutation null and held-out score, when computed.
          if (row.resampling && row.resampling[key]) td.appendChild(resamplingNote(row.resampling[key], key));
          tr.appendChild(td);
        }
        const dims = si.svcca_dims ? si.svcca_dims[a] + ' / ' + si.svcca_dims[b] : '';
        tr.appendChild(element('td', { text: dims }));
        const notes = [];
        const dead = si.dead_units_excluded;
        if (dead && (dead[a] || dead[b])) notes.push('dead units excluded: ' + dead[a] + ' / ' + dead[b]);
        if (si.cka_debiased_note) notes.push('debiased CKA ' + si.cka_debiased_note);
        for (const w of si.warnings || []) notes.push(w);
        tr.appendChild(element('td', { className: 'caption', text: notes.join('; ') }));
        body.appendChild(tr);
      }
      table.appendChild(body);
      p.body.appendChild(table);
      p.body.appendChild(element('p', { className: 'caption',
        text: 'Pair ' + a + ' vs ' + b + '. CKA, CCA, SVCCA and PWCCA are 1 for identical layers; the Procrustes ' +
          'angle (radians) and distance (per sample) are 0. CKA and Procrustes are invariant to rotations, ' +
          'the CCA family to any invertible linear map, unit matching to neither: see docs/summary_schema.md.' }));
    });
  }

  function miPanel() {
    guardPanel('mi', (p) => {
      const spec = ask('miVsCorrelation', state.layer, currentPair());
      if (handled(p, spec)) return;
      const [a, b] = pairNets(currentPair());
      const row = element('div', { className: 'flex' });
      const miAlignment = alignmentOf('mi');
      const labels = miAlignment && Array.isArray(miAlignment.semi_matching_values) ? fig3Rows(miAlignment) : [];
      if (spec.series[0] && labels.length === spec.series[0].y.length) {
        for (const series of spec.series.slice(0, 2)) series.labels = labels.map((r, i) => 'rank ' + i + ': ' + a + ' unit ' + r);
      }
      plotFigure(p, 'mi', drawPlot(spec, Math.min(560, plotWidth(p, 560)), 280), row);
      const s = spec.stats;
      const items = [
        ['MI semi-matching mean', fmt(s.semi_matching_mean) + ' nats'],
        ['MI matching mean', fmt(s.matching_mean) + ' nats'],
        ['MI overlap ratio', fmt(s.overlap_ratio)],
        ['top-8 overlap with correlation', spec.reported_top8_overlap === null ? 'not reported'
          : fmt(spec.reported_top8_overlap) + ' of 8'],
      ];
      if (spec.recomputed_top8_overlap !== undefined) items.push(['top-8 overlap recomputed here', spec.recomputed_top8_overlap + ' of 8']);
      if (spec.semi_matching_agreement !== undefined) items.push(['semi-matching partners equal to correlation\u2019s', fmt(100 * spec.semi_matching_agreement, 3) + '%']);
      if (spec.matching_agreement !== undefined) items.push(['matching partners equal to correlation\u2019s', fmt(100 * spec.matching_agreement, 3) + '%']);
      if (spec.bins !== null) items.push(['bins', fmt(spec.bins)]);
      if (spec.samples !== null) items.push(['samples', fmt(spec.samples, 8)]);
      row.appendChild(stats(items));
      p.body.appendChild(row);
      if (spec.top8) {
        const table = element('table', { style: 'margin-top:10px' });
        table.appendChild(element('thead', {}, [element('tr', {}, [
          element('th', { text: 'rank' }),
          element('th', { text: 'by correlation: ' + a + ' unit \u2192 ' + b + ' unit' }), element('th', { text: 'correlation' }),
          element('th', { text: 'by MI: ' + a + ' unit \u2192 ' + b + ' unit' }), element('th', { text: 'MI (nats)' })])]));
        const body = element('tbody');
        for (const r of spec.top8) {
          const cells = [element('td', { text: String(r.rank) })];
          for (const key of ['correlation', 'mutual_information']) {
            const e = r[key];
            if (!e) {
              cells.push(element('td', { text: '' }), element('td', { text: '' }));
              continue;
            }
            cells.push(element('td', { className: e.shared ? 'shared' : '', text: e.row + ' \u2192 ' + e.col + (e.shared ? '  (in both)' : '') }));
            cells.push(element('td', { text: fmt(e.value, 3) }));
          }
          body.appendChild(element('tr', {}, cells));
        }
        table.appendChild(body);
        p.body.appendChild(table);
      }
    });
  }

  function sparsePanel() {
    guardPanel('sparse', (p) => {
      const spec = ask('sparsePrediction', state.layer, currentPair());
      if (handled(p, spec)) return;
      const row = element('div', { className: 'flex' });
      if (spec.series[0] && Array.isArray(spec.alphas)) spec.series[0].labels = spec.alphas.map((v) => 'L1 strength ' + fmt(v, 3));
      plotFigure(p, 'sparse', drawPlot(spec, Math.min(560, plotWidth(p, 560)), 280), row);
      row.appendChild(stats([
        ['targets', spec.targets], ['predictors', spec.predictors],
        ['L1 strengths (path order)', spec.alphas.map((v) => fmt(v, 3)).join(', ')],
        ['loss at the densest fit', fmt(spec.series[0].y[spec.series[0].y.length - 1], 3)],
      ]));
      p.body.appendChild(row);
    });
  }

  // Fig. 6 as a dendrogram: the cluster tree of the hierarchical spectral
  // clustering (Sec. 4.3), the first-level clusters joined at an "all units"
  // root. A branch ends at its cluster's similarity (Sec. 6.6: between-net
  // b or within-net w, chosen beside the tree), so tight clusters reach far
  // to the right; the node heights come from the tree rows the page already
  // has (ids, depths, b, w). A click on a node collapses or expands it.
  const TREE_ROW = 16, TREE_TOP = 42, TREE_LABEL = 250;

  // The tree rows (depth-first, with depths) as linked nodes.
  function treeNodes(tree) {
    const root = { id: 'all', virtual: true, children: [], depth: -1, leaf: false, size_a: 0, size_b: 0 };
    const stack = [root];
    for (const r of tree.rows) {
      while (stack.length > 1 && stack[stack.length - 1].depth >= r.depth) stack.pop();
      const node = { ...r, children: [], parent: stack[stack.length - 1] };
      node.parent.children.push(node);
      if (node.parent === root) { root.size_a += r.size_a; root.size_b += r.size_b; }
      stack.push(node);
    }
    return root;
  }

  function treeKey() {
    return state.layer + '|' + currentPair();
  }

  function collapsedSet() {
    const key = treeKey();
    if (!figures.collapsed.has(key)) figures.collapsed.set(key, new Set());
    return figures.collapsed.get(key);
  }

  // Positions: one row per visible leaf (a leaf or a collapsed node), a
  // parent at the middle of its children; x from the chosen similarity.
  function treeLayout(root, width) {
    const collapsed = collapsedSet();
    const key = figures.treeHeight === 'within' ? 'within' : 'between';
    const terminals = [], inner = [];
    const walk = (n) => {
      const open = n.children.length && !collapsed.has(n.id);
      n.open = Boolean(open);
      if (!open) { terminals.push(n); return; }
      inner.push(n);
      n.children.forEach(walk);
    };
    walk(root);
    let lo = Infinity, hi = -Infinity;
    for (const n of terminals.concat(inner)) {
      const s = n[key];
      if (typeof s === 'number' && isFinite(s)) { lo = Math.min(lo, s); hi = Math.max(hi, s); }
    }
    if (!(lo <= hi)) { lo = 0; hi = 1; }
    if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
    const left = 14, right = width - TREE_LABEL - 10;
    const base = lo - 0.08 * (hi - lo);  // the root, left of every cluster
    const X = (s) => left + (s - base) / (hi - base) * (right - left);
    terminals.forEach((n, i) => { n.y = TREE_TOP + (i + 0.5) * TREE_ROW; });
    const place = (n) => {
      const s = n[key];
      n.sim = typeof s === 'number' && isFinite(s) ? s : null;
      n.x = n.virtual ? X(base) : X(n.sim === null ? lo : n.sim);
      if (n.open) {
        n.children.forEach(place);
        n.y = (n.children[0].y + n.children[n.children.length - 1].y) / 2;
      }
    };
    place(root);
    return { root, terminals, inner, X, lo, hi, base, left, right, key,
      height: TREE_TOP + terminals.length * TREE_ROW + 8, width };
  }

  function leafCount(n) {
    return n.children.length ? n.children.reduce((c, k) => c + leafCount(k), 0) : 1;
  }

  function paintDendrogram(painter, layout, tree) {
    const { root, terminals, inner, X, left, right, width, height } = layout;
    painter.rect(0, 0, width, height, { fill: '#fff' });
    // Similarity axis along the top.
    const span = layout.hi - layout.base;
    const raw = span / 5, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    let step = mag;
    for (const f of [1, 2, 5, 10]) { step = f * mag; if (step >= raw) break; }
    painter.line(left, TREE_TOP - 8, right, TREE_TOP - 8, { stroke: '#8a93a3' });
    for (let t = Math.ceil(layout.base / step) * step; t <= layout.hi + 1e-9; t += step) {
      const x = Math.round(X(t)) + 0.5;
      painter.line(x, TREE_TOP - 11, x, TREE_TOP - 8, { stroke: '#8a93a3' });
      painter.line(x, TREE_TOP - 6, x, height - 6, { stroke: '#eef0f4' });
      painter.text(tickText(Math.abs(t) < step * 1e-9 ? 0 : t), x, TREE_TOP - 13, { size: 10, fill: '#5d6677', align: 'center', baseline: 'bottom' });
    }
    painter.text((layout.key === 'within' ? 'within-net similarity w' : 'between-net similarity b') + ' (Sec. 6.6) \u2192',
      left, 3, { size: 10, fill: '#5d6677', baseline: 'top' });
    // Branches: a vertical line at the parent's similarity spanning its
    // children, then one horizontal line to each child.
    const branch = { stroke: '#3a4150', lineWidth: 1 };
    const crisp = (v) => Math.round(v) + 0.5;
    for (const n of inner) {
      painter.line(crisp(n.x), crisp(n.children[0].y), crisp(n.x), crisp(n.children[n.children.length - 1].y), branch);
      for (const c of n.children) {
        painter.line(crisp(n.x), crisp(c.y), crisp(c.x), crisp(c.y), c.sim === null && !c.virtual ? { ...branch, dash: [3, 3] } : branch);
      }
    }
    for (const n of inner) painter.circle(n.x, n.y, n.virtual ? 3 : 3.2, { fill: '#2f6fb2' });
    const list = (units, size) => '[' + units.slice(0, 6).join(',') + (size > Math.min(6, units.length) ? ',\u2026' : '') + ']';
    for (const n of terminals) {
      const both = n.size_a > 0 && n.size_b > 0;
      const colour = both ? '#8e44ad' : n.size_a > 0 ? NET_COLOURS[0] : NET_COLOURS[1];
      painter.line(n.x, n.y, right + 4, n.y, { stroke: '#c9ced8', lineWidth: 1, dash: [1, 2] });
      if (n.children.length) {
        // A collapsed node: a triangle-like marker and its leaf count.
        painter.rect(n.x - 4, n.y - 4, 8, 8, { fill: '#fff', stroke: '#2f6fb2', lineWidth: 1.5 });
      } else {
        painter.circle(n.x, n.y, 2.6, { fill: colour });
      }
      const label = n.virtual ? 'all units' : n.children.length
        ? '\u25b8 #' + n.id + ': ' + leafCount(n) + ' leaves, ' + n.size_a + ' + ' + n.size_b + ' units'
        : '#' + n.id + ' A' + list(n.members_a || [], n.size_a) + ' B' + list(n.members_b || [], n.size_b);
      painter.text(fitText(painter, label, TREE_LABEL - 8, 11), right + 8, n.y, { size: 11, fill: both ? '#1d2330' : '#5d6677', baseline: 'middle' });
    }
    return layout;
  }

  function drawDendrogram(p, tree, box) {
    const root = treeNodes(tree);
    const width = Math.max(420, Math.min(900, (bodyWidth(p) || 480) - 20));
    const layout = treeLayout(root, width);
    const canvas = sizedCanvas('f-dendrogram', width, layout.height);
    const ctx = canvas.getContext('2d');
    const ratio = window.devicePixelRatio || 1;
    ctx.scale(ratio, ratio);
    paintDendrogram(canvasPainter(ctx), layout, tree);
    const nodes = {};
    for (const n of layout.inner.concat(layout.terminals)) {
      if (n.children.length && !n.virtual) nodes[n.id] = [Number(n.x.toFixed(1)), Number(n.y.toFixed(1))];
    }
    canvas.dataset.nodes = JSON.stringify(nodes);
    canvas.dataset.visibleLeaves = String(layout.terminals.length);
    canvas.dataset.collapsed = JSON.stringify([...collapsedSet()]);
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', 'dendrogram of ' + tree.nodes + ' clusters; the list below toggles the same nodes');
    canvas.svg = () => {
      const painter = svgPainter(width, layout.height);
      paintDendrogram(painter, layout, tree);
      return painter.toString();
    };
    canvas.addEventListener('click', (event) => {
      const rect = canvas.getBoundingClientRect();
      const x = event.clientX - rect.left, y = event.clientY - rect.top;
      let best = null;
      for (const n of layout.inner.concat(layout.terminals)) {
        if (!n.children.length || n.virtual) continue;
        const d = Math.hypot(n.x - x, n.y - y);
        if (d < 10 && (!best || d < best.d)) best = { d, n };
        // A collapsed node also toggles from its label.
        if (!n.open && Math.abs(n.y - y) < TREE_ROW / 2 && x > layout.right && !best) best = { d: 10, n };
      }
      if (best) toggleCluster(best.n.id);
    });
    canvas.addEventListener('mousemove', (event) => {
      const rect = canvas.getBoundingClientRect();
      const x = event.clientX - rect.left, y = event.clientY - rect.top;
      const tip = byId('tooltip');
      let best = null;
      for (const n of layout.inner.concat(layout.terminals)) {
        if (n.virtual) continue;
        const d = Math.hypot(n.x - x, n.y - y);
        if (d < 10 && (!best || d < best.d)) best = { d, n };
      }
      canvas.style.cursor = best && best.n.children.length ? 'pointer' : 'default';
      if (!best) { tip.hidden = true; return; }
      const n = best.n;
      tip.replaceChildren(
        element('div', { 'data-field': 'cluster', text: 'cluster #' + n.id + (n.children.length ? (n.open ? ' (click to collapse)' : ' (click to expand)') : ' (leaf)') }),
        element('div', { text: 'b = ' + fmt(n.between, 3) + ', w = ' + fmt(n.within, 3) }),
        element('div', { text: tree.net_a + ': ' + n.size_a + ' units, ' + tree.net_b + ': ' + n.size_b + ' units' }));
      showTooltip(event);
    });
    canvas.addEventListener('mouseleave', () => { byId('tooltip').hidden = true; });
    box.appendChild(canvas);
    return canvas;
  }

  function toggleCluster(id) {
    const set = collapsedSet();
    if (set.has(id)) set.delete(id); else set.add(id);
    byId('tooltip').hidden = true;
    const scroll = document.querySelector('section[data-panel="cluster_tree"] .f-dendrogram-box');
    const top = scroll ? scroll.scrollTop : 0;
    clusterTreePanel();
    const again = document.querySelector('section[data-panel="cluster_tree"] .f-dendrogram-box');
    if (again) again.scrollTop = top;
  }

  function clusterTreePanel() {
    guardPanel('cluster_tree', (p) => {
      const tree = ask('clusterTree', state.layer, currentPair());
      if (handled(p, tree)) return;
      p.body.appendChild(element('p', { className: 'caption',
        text: 'k = ' + fmt(tree.k) + ' (eigengap suggests ' + fmt(tree.k_eigengap) + '), \u03c4 = ' + fmt(tree.tau) +
          ', \u03b1 = ' + fmt(tree.alpha) + '; ' + tree.nodes + ' clusters, ' + tree.leaves + ' leaves. ' +
          'A: ' + tree.net_a + ', B: ' + tree.net_b + '; b / w: between- / within-net similarity (Sec. 6.6).' }));
      const heightSelect = element('select', { id: 'f-tree-height' }, [
        element('option', { value: 'between', text: 'between-net similarity b' }),
        element('option', { value: 'within', text: 'within-net similarity w' })]);
      heightSelect.value = figures.treeHeight;
      heightSelect.addEventListener('change', () => { figures.treeHeight = heightSelect.value; clusterTreePanel(); });
      const collapsed = collapsedSet();
      const expandAll = element('button', { type: 'button', 'data-action': 'expand-all', text: 'Expand all' });
      expandAll.addEventListener('click', () => { collapsed.clear(); clusterTreePanel(); });
      const box = element('div', { className: 'f-dendrogram-box' });
      const canvas = drawDendrogram(p, tree, box);
      const tools = figureTools(p, 'cluster_tree', { png: () => canvas, svg: () => canvas.svg() });
      tools.prepend(element('label', { className: 'f-inline' }, ['Branch ends at ', heightSelect]), expandAll);
      p.body.appendChild(tools);
      p.body.appendChild(box);
      p.body.appendChild(element('p', { className: 'caption', text: 'Click a node (\u25cf) to collapse it, a box (\u25a1) to expand it; ' +
        'leaves: \u25cf purple holds units of both nets, blue only ' + tree.net_a + ', orange only ' + tree.net_b + '.' }));
      const list = (units, size) => '[' + units.join(', ') + (size > units.length ? ', \u2026' : '') + ']';
      const textTree = element('div', { className: 'tree' });
      // Fig. 6: each leaf shows the best input of its first few units per
      // net; past TREE_THUMB_LEAVES leaves the tree stays text only. Inner
      // rows are buttons that collapse like the dendrogram's nodes.
      let thumbs = 0, hiddenBelow = Infinity;
      for (const r of tree.rows) {
        if (r.depth > hiddenBelow) continue;
        hiddenBelow = Infinity;
        const closed = !r.leaf && collapsed.has(r.id);
        if (closed) hiddenBelow = r.depth;
        const row = element('div', {
          className: r.leaf ? 'leaf' : 'inner', style: 'padding-left:' + (r.depth * 18) + 'px', 'data-cluster': String(r.id),
          text: (r.leaf ? '\u2022 ' : closed ? '\u25b8 ' : '\u25be ') + '#' + r.id + '  b=' + fmt(r.between, 2) + ' w=' + fmt(r.within, 2) +
            '  A' + list(r.members_a, r.size_a) + ' B' + list(r.members_b, r.size_b) });
        if (!r.leaf) {
          row.setAttribute('role', 'button');
          row.setAttribute('tabindex', '0');
          row.setAttribute('aria-expanded', closed ? 'false' : 'true');
          row.addEventListener('click', () => toggleCluster(r.id));
          row.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); toggleCluster(r.id); } });
        }
        if (r.leaf && thumbs < TREE_THUMB_LEAVES) {
          const strip = thumbnailStrip([[tree.net_a, r.members_a.slice(0, TREE_THUMB_UNITS)], [tree.net_b, r.members_b.slice(0, TREE_THUMB_UNITS)]]);
          if (strip) { row.appendChild(strip); thumbs++; }
        }
        textTree.appendChild(row);
      }
      p.body.appendChild(textTree);
    });
  }

  // Fig. 14: each curve sorted by its own decreasing value (clusters with no
  // value last), as the paper plots the distributions; the cluster of each
  // point comes from the leaves in summary.json when they match the curves.
  function fig14Sorted(spec) {
    const layer = state.summary && state.summary.layers ? state.summary.layers[state.layer] || {} : {};
    const clustering = layer.clusters ? layer.clusters[currentPair()] : null;
    const leaves = clustering && Array.isArray(clustering.clusters) ? clustering.clusters.filter((c) => c && c.leaf) : [];
    const key = (v) => (typeof v === 'number' && isFinite(v) ? v : -Infinity);
    spec.series.forEach((s, k) => {
      const field = k === 0 ? 'between_net_similarity' : 'within_net_similarity';
      if (leaves.length === s.y.length) {
        const items = leaves.map((c) => [typeof c[field] === 'number' ? c[field] : null, c.id]);
        items.sort((x, y) => key(y[0]) - key(x[0]) || x[1] - y[1]);
        s.y = items.map((t) => t[0]);
        s.labels = items.map((t, i) => 'rank ' + i + ': cluster #' + t[1]);
      } else {
        s.y = s.y.slice().sort((x, y) => key(y) - key(x));
      }
    });
    spec.x_label = 'leaf clusters, each curve sorted by decreasing similarity';
  }

  function fig14Panel() {
    guardPanel('fig14', (p) => {
      const spec = ask('clusterSimilarity', state.layer, currentPair());
      if (handled(p, spec)) return;
      fig14Sorted(spec);
      const canvas = drawPlot(spec, plotWidth(p, 400), 280);
      canvas.dataset.plot = 'fig14';
      canvas.dataset.series = JSON.stringify(spec.series.map((s) => s.y));
      plotFigure(p, 'fig14', canvas);
      p.body.appendChild(element('p', { className: 'caption', text: spec.series.length + ' curves over ' + spec.clusters +
        ' leaf clusters, each sorted by its own decreasing value (Fig. 14); a cluster\u2019s rank differs between the curves: hover a point for its cluster.' }));
    });
  }

  function cyclePanel() {
    guardPanel('cycle', (p) => {
      const cc = ask('cycleConsistency', state.layer);
      if (handled(p, cc)) return;
      const pct = (v) => (typeof v === 'number' && isFinite(v) ? (100 * v).toFixed(1) + '%' : '\u2013');
      const figures = element('div', { className: 'cycle-figures' });
      const figure = (field, value, label) => figures.appendChild(element('div', { 'data-field': field }, [
        element('div', { className: 'big', text: value }), element('div', { className: 'label', text: label })]));
      figure('core_fraction', pct(cc.core_fraction), 'core units (return in every triangle)' +
        (cc.core_units !== null ? ': ' + cc.core_units + ' of ' + cc.units : ''));
      figure('cycle_return_fraction', pct(cc.cycle_return_fraction), 'return around the full cycle ' +
        (cc.cycle.length ? cc.cycle.join(' \u2192 ') : ''));
      figure('rare_units', cc.rare_units === null ? '\u2013' : String(cc.rare_units), 'rare units');
      p.body.appendChild(figures);
      const n = cc.sorted_fractions.length;
      const spec = {
        series: [{ name: 'share of triangles returned, per unit',
          y: cc.sorted_fractions, style: 'bars' }],
        x_label: 'units of ' + (cc.reference || 'the reference net') + ', sorted by decreasing return fraction',
        y_label: 'triangles returned', x_range: [-0.5, Math.max(0.5, n - 0.5)], y_range: [0, 1],
        x_ticks: [], y_ticks: [0, 0.25, 0.5, 0.75, 1],
      };
      spec.series[0].labels = cc.order.map((u) => (cc.reference || 'reference net') + ' unit ' + u);
      const canvas = drawPlot(spec, plotWidth(p, 620), 170);
      canvas.dataset.values = JSON.stringify(cc.sorted_fractions);
      plotFigure(p, 'cycle', canvas);
      const head = cc.order.slice(0, 24).join(', ') + (cc.order.length > 24 ? ', \u2026' : '');
      p.body.appendChild(element('p', { className: 'caption',
        text: (cc.triangles !== null ? fmt(cc.triangles) + (cc.triangles === 1 ? ' triangle' : ' triangles') +
          ' (' + (cc.reference || 'net 0') + ' \u2192 i \u2192 j \u2192 ' + (cc.reference || 'net 0') + ') per unit; ' : '') +
          cc.all_triangles_units + ' of ' + cc.units + ' units return in all of them. Units in bar order: ' + head + (cc.order.length > 24 ? '' : '.') }));
    });
  }

  function meanActivationPanel() {
    guardPanel('mean_activation', (p) => {
      const spec = ask('meanActivations', state.layer);
      if (handled(p, spec)) return;
      const row = element('div', { className: 'flex' });
      plotFigure(p, 'mean_activation', drawPlot(spec, Math.min(620, plotWidth(p, 620)), 280), row);
      const items = [];
      if (spec.source === 'mean') {
        showNote(p, 'info', 'The mean-activation comparison was not computed; the curves are the layer\u2019s unit means sorted here.');
        p.section.dataset.status = 'ok';
      }
      if (spec.between_net_distance && typeof spec.between_net_distance === 'object') {
        for (const [key, v] of Object.entries(spec.between_net_distance)) {
          const [a, b] = pairNets(key);
          items.push(['RMS distance ' + a + ' vs ' + b, fmt(v, 3)]);
        }
      }
      if (spec.within_net_spread && typeof spec.within_net_spread === 'object') {
        for (const [net, v] of Object.entries(spec.within_net_spread)) items.push(['spread of ' + net, fmt(v, 3)]);
      }
      if (typeof spec.distance_to_spread_ratio === 'number') items.push(['distance / spread', fmt(spec.distance_to_spread_ratio, 3)]);
      if (items.length) row.appendChild(stats(items));
      p.body.appendChild(row);
    });
  }

  // ------------------------------------------------- cross-layer maps -----
  // summary.json "cross_layers" (docs/summary_schema.md): one layer x layer
  // linear CKA heatmap per net pair and per net with itself, the layer
  // names on both axes. The maps are small (layers x layers), so they are
  // drawn from summary.json's full-precision values directly.

  function crossLayersPanel() {
    guardPanel('cross_layers', (p) => {
      const xl = state.crossLayers;
      if (!xl || !xl.maps) {
        showNote(p, 'missing', 'run compare with --cross-layers for the layer \u00d7 layer maps');
        return;
      }
      p.section.dataset.status = 'ok';
      // In net order: each net with itself, then with the nets after it.
      const nets = state.overview.nets;
      nets.forEach((a, i) => nets.slice(i).forEach((b) => {
        const key = a + '~' + b;
        if (!xl.maps[key]) return;
        const figure = crossLayerMap(key, xl.maps[key]);
        const canvas = figure.querySelector('canvas');
        const m = xl.maps[key];
        // The numbers: rows = a's layers, columns = b's, as summary.json holds them.
        const csv = () => csvText([[a + ' layer \\ ' + b + ' layer'].concat(m.col_layers)]
          .concat(m.row_layers.map((layer, i) => [layer].concat(m.cka[i]))));
        figure.appendChild(figureTools(p, 'cross_layers_' + key, { png: () => canvas, svg: () => canvasSvg(canvas), csv }));
        p.body.appendChild(figure);
      }));
      p.section.appendChild(element('p', { className: 'caption', text:
        'CKA in [0, 1]: black 0, white 1 (negative estimates shown as 0, undefined ones magenta). ' +
        xl.batches + ' minibatch' + (xl.batches === 1 ? '' : 'es') + ' of ' + xl.batch_size + ' inputs in input order' +
        (xl.dropped_images ? ', the last ' + xl.dropped_images + ' inputs dropped' : '') + '.' }));
    });
  }

  function crossLayerMap(key, m) {
    const rows = m.row_layers.length, cols = m.col_layers.length;
    const cell = Math.max(6, Math.min(36, Math.floor(360 / Math.max(rows, cols, 1))));
    const ratio = window.devicePixelRatio || 1;
    const probe = document.createElement('canvas').getContext('2d');
    probe.font = '11px sans-serif';
    const widest = (names) => names.reduce((w, n) => Math.max(w, probe.measureText(String(n)).width), 0);
    const left = Math.ceil(widest(m.row_layers)) + 8, top = Math.ceil(widest(m.col_layers)) + 8;
    const width = left + cols * cell, height = top + rows * cell;
    const canvas = element('canvas', { className: 'cross-layer-map' });
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = width + 'px';
    canvas.style.height = height + 'px';
    canvas.dataset.map = key;
    canvas.dataset.rowLayers = JSON.stringify(m.row_layers);
    canvas.dataset.colLayers = JSON.stringify(m.col_layers);
    const ctx = canvas.getContext('2d');
    ctx.scale(ratio, ratio);
    for (let i = 0; i < rows; ++i) {
      for (let j = 0; j < cols; ++j) {
        const v = m.cka[i][j];
        if (typeof v !== 'number') {
          ctx.fillStyle = 'rgb(255,0,255)';
        } else {
          const g = Math.round(255 * Math.min(1, Math.max(0, v)));
          ctx.fillStyle = 'rgb(' + g + ',' + g + ',' + g + ')';
        }
        ctx.fillRect(left + j * cell, top + i * cell, cell, cell);
      }
    }
    ctx.strokeStyle = '#999';
    ctx.lineWidth = 1;
    ctx.strokeRect(left - 0.5, top - 0.5, cols * cell + 1, rows * cell + 1);
    // Layer names: rows at the left, columns vertical along the top.
    ctx.fillStyle = '#222';
    ctx.font = '11px sans-serif';
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    m.row_layers.forEach((name, i) => ctx.fillText(String(name), left - 4, top + (i + 0.5) * cell));
    ctx.save();
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'left';
    m.col_layers.forEach((name, j) => ctx.fillText(String(name), -(top - 4), left + (j + 0.5) * cell));
    ctx.restore();
    canvas.addEventListener('mousemove', (event) => {
      const rect = canvas.getBoundingClientRect();
      const j = Math.floor((event.clientX - rect.left - left) / cell), i = Math.floor((event.clientY - rect.top - top) / cell);
      const tip = byId('tooltip');
      if (i < 0 || j < 0 || i >= rows || j >= cols) {
        tip.hidden = true;
        return;
      }
      const v = m.cka[i][j];
      tip.replaceChildren(
        element('div', { 'data-field': 'row', text: m.rows + ' ' + m.row_layers[i] }),
        element('div', { 'data-field': 'col', text: m.cols + ' ' + m.col_layers[j] }),
        element('div', { 'data-field': 'value', text: 'CKA: ' + (typeof v === 'number' ? v.toPrecision(6) : 'n/a') }));
      tip.hidden = false;
      tip.style.left = Math.max(0, Math.min(event.clientX + 14, window.innerWidth - tip.offsetWidth - 4)) + 'px';
      tip.style.top = Math.max(0, Math.min(event.clientY + 14, window.innerHeight - tip.offsetHeight - 4)) + 'px';
    });
    canvas.addEventListener('mouseleave', () => { byId('tooltip').hidden = true; });
    const title = m.rows === m.cols ? m.rows + ' with itself' : m.rows + ' (rows) \u00d7 ' + m.cols + ' (columns)';
    return element('figure', {}, [element('figcaption', { text: title }), canvas]);
  }

  // ------------------------------------------------------------- page -----

  // ------------------------------------- top patches (Figs. 2, 4, 7) --
  // Per layer, summary.json "top_patches" names each net's top-k inputs, its
  // PNG sprite sheet (units rows x k columns of equal cells) and its joint
  // sample (docs/summary_schema.md); the page reads them itself.

  const PATCH_CELL = 30;        // CSS pixels per patch in the pair lists
  const CLUSTER_CELL = 20;      // ... in the cluster list (Figs. 5, 12)
  const TOP_CLUSTERS = 12;      // clusters listed (Fig. 12 shows 12)
  const CLUSTER_UNITS = 8;      // units per net and cluster drawn
  const TREE_THUMB_CELL = 14;   // CSS pixels per thumbnail in the cluster tree (Fig. 6)
  const TREE_THUMB_UNITS = 3;   // units per net and leaf with a thumbnail
  const TREE_THUMB_LEAVES = 400;
  const JOINT_BINS = 24;
  const sprites = {};           // path -> Promise of an HTMLImageElement
  const npys = {};              // path -> {shape, data}

  function topPatches() {
    const layer = state.summary && state.summary.layers ? state.summary.layers[state.layer] : null;
    return layer && layer.top_patches && layer.top_patches.available ? layer.top_patches : null;
  }

  function readNpy(path) {
    if (npys[path]) return npys[path];
    if (!(path in state.payload.files)) throw new Error('file ' + path + ' is not in this report');
    const bytes = fileBytes(path);
    if (bytes[0] !== 0x93 || String.fromCharCode(...bytes.slice(1, 6)) !== 'NUMPY') throw new Error(path + ' is not an .npy file');
    const long = bytes[6] >= 2;
    const headerLength = long ? bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (bytes[11] << 24) : bytes[8] | (bytes[9] << 8);
    const start = (long ? 12 : 10);
    const header = new TextDecoder('latin1').decode(bytes.slice(start, start + headerLength));
    const descr = /'descr':\s*'([^']*)'/.exec(header), shape = /'shape':\s*\(([^)]*)\)/.exec(header);
    if (!descr || !shape || /'fortran_order':\s*True/.test(header)) throw new Error(path + ': unsupported .npy header');
    const dims = shape[1].split(',').map((t) => t.trim()).filter((t) => t).map(Number);
    const count = dims.reduce((a, b) => a * b, 1);
    const body = bytes.buffer.slice(bytes.byteOffset + start + headerLength);
    let data;
    if (descr[1] === '<f4') data = new Float32Array(body, 0, count);
    else if (descr[1] === '<f2') data = Float32Array.from(new Uint16Array(body, 0, count), halfToFloat);
    else if (descr[1] === '<i8') data = Array.from(new BigInt64Array(body, 0, count), Number);
    else if (descr[1] === '|u1') data = new Uint8Array(body, 0, count);
    else throw new Error(path + ': dtype ' + descr[1] + ' is not float16, float32, int64 or uint8');
    npys[path] = { shape: dims, data };
    return npys[path];
  }

  function pngImage(base64, what) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error(what + ' cannot be decoded'));
      img.src = 'data:image/png;base64,' + base64;
    });
  }

  // An image held in the page's blob (format 3) or as base64 (formats 1-2).
  function entryImage(entry, what, type) {
    if (typeof entry === 'string') return pngImage(entry, what);
    if (entry && typeof entry.data === 'string') return pngImage(entry.data, what);
    return new Promise((resolve) => resolve(entryBytes(entry || {}, what)))
      .then((bytes) => createImageBitmap(new Blob([bytes], { type: type || 'image/png' })))
      .catch((e) => { throw new Error(what + ' cannot be decoded' + (e && e.message ? ' (' + e.message + ')' : '')); });
  }

  // A patch sheet: the PNG itself, or (format 2, 'atlas') a canvas of the
  // same layout drawn from the layer's atlas of distinct cells.
  function sprite(path) {
    if (!sprites[path]) {
      const entry = fileEntry(path);
      const what = 'the patch sheet ' + path;
      if (entry && typeof entry === 'object' && entry.encoding === 'atlas') {
        const atlas = (state.payload.atlases || {})[entry.atlas];
        if (!atlas) return Promise.reject(new Error(what + ': its atlas is not in this report'));
        if (!sprites['#atlas:' + entry.atlas]) sprites['#atlas:' + entry.atlas] = entryImage(atlas, 'the patch atlas of ' + entry.atlas, atlas.type);
        sprites[path] = sprites['#atlas:' + entry.atlas].then((img) => {
          const w = atlas.cell_width, h = atlas.cell_height;
          const canvas = document.createElement('canvas');
          canvas.width = entry.columns * w;
          canvas.height = entry.rows * h;
          const ctx = canvas.getContext('2d');
          entry.cells.forEach((c, i) => {
            ctx.drawImage(img, (c % atlas.columns) * w, Math.floor(c / atlas.columns) * h, w, h,
              (i % entry.columns) * w, Math.floor(i / entry.columns) * h, w, h);
          });
          return canvas;
        });
      } else {
        sprites[path] = entryImage(entry, what);
      }
    }
    return sprites[path];
  }

  // A unit's top-k patches as a grid (3 x 3 for k = 9), best first, row by row.
  function unitFigure(net, unit, cell, label) {
    const tp = topPatches();
    const files = tp.nets[net] || {};
    const k = tp.k, side = Math.ceil(Math.sqrt(k));
    const canvas = element('canvas', { className: 'patches', 'data-net': net, 'data-unit': String(unit) });
    canvas.width = side * cell;
    canvas.height = Math.ceil(k / side) * cell;
    const figure = element('figure', { className: 'unit' }, [canvas, element('figcaption', { text: label || (net + ' #' + unit) })]);
    if (!files.patches || !(files.patches in state.payload.files)) {
      // No --images: the input indices instead.
      const top = readNpy(files.topk);
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = '#fff';
      ctx.font = Math.max(8, cell / 3) + 'px sans-serif';
      ctx.textAlign = 'center';
      for (let j = 0; j < k; j++) {
        const v = top.data[unit * k + j];
        ctx.fillText(v < 0 ? '' : String(v), (j % side + 0.5) * cell, (Math.floor(j / side) + 0.6) * cell);
      }
      canvas.dataset.drawn = 'indices';
      return figure;
    }
    const patch = tp.patch;
    sprite(files.patches).then((img) => {
      const ctx = canvas.getContext('2d');
      ctx.imageSmoothingEnabled = false;
      for (let j = 0; j < k; j++) {
        ctx.drawImage(img, j * patch.width, unit * patch.height, patch.width, patch.height,
          (j % side) * cell, Math.floor(j / side) * cell, cell, cell);
      }
      canvas.dataset.drawn = 'patches';
    }).catch((e) => { canvas.dataset.drawn = 'error'; figure.appendChild(element('div', { className: 'note error', text: e.message })); });
    return figure;
  }

  // The joint 2-D histogram of two units over the joint sample (Fig. 7):
  // counts on a log scale, unit a along x, unit b along y (up).
  function jointHistogram(a, ua, b, ub) {
    const tp = topPatches();
    const fa = tp.nets[a] && tp.nets[a].joint_sample, fb = tp.nets[b] && tp.nets[b].joint_sample;
    if (!fa || !fb || !(fa in state.payload.files) || !(fb in state.payload.files)) return null;
    const xa = readNpy(fa), xb = readNpy(fb);
    const rows = xa.shape[0], wa = xa.shape[1], wb = xb.shape[1];
    // Each column's bin index: embedded by `convergent report` (joint_bins,
    // the same arithmetic), or computed here from a float32 sample.
    const binned = (file, sample, width, unit) => {
      const pre = state.payload.joint_bins && state.payload.joint_bins[file];
      const bins = new Uint8Array(rows);
      if (pre && pre.bins === JOINT_BINS) {
        for (let r = 0; r < rows; r++) bins[r] = sample.data[r * width + unit];
        return { bins, lo: pre.lo[unit], hi: pre.hi[unit] };
      }
      let lo = Infinity, hi = -Infinity;
      for (let r = 0; r < rows; r++) {
        const t = sample.data[r * width + unit];
        if (isFinite(t)) { lo = Math.min(lo, t); hi = Math.max(hi, t); }
      }
      if (!isFinite(lo)) lo = hi = 0;
      if (!(hi > lo)) hi = lo + 1;
      for (let r = 0; r < rows; r++) {
        const t = sample.data[r * width + unit];
        bins[r] = isFinite(t) ? Math.min(JOINT_BINS - 1, Math.floor((t - lo) / (hi - lo) * JOINT_BINS)) : 255;
      }
      return { bins, lo, hi };
    };
    const bx = binned(fa, xa, wa, ua), by = binned(fb, xb, wb, ub);
    const [x0, x1, y0, y1] = [bx.lo, bx.hi, by.lo, by.hi];
    const counts = new Float64Array(JOINT_BINS * JOINT_BINS);
    for (let r = 0; r < rows; r++) {
      const i = bx.bins[r], j = by.bins[r];
      if (i < JOINT_BINS && j < JOINT_BINS) counts[(JOINT_BINS - 1 - j) * JOINT_BINS + i] += 1;
    }
    let max = 0;
    for (const c of counts) max = Math.max(max, c);
    const rgba = new Uint8ClampedArray(JOINT_BINS * JOINT_BINS * 4);
    for (let i = 0; i < counts.length; i++) {
      const v = counts[i] ? 255 - Math.round(235 * Math.log1p(counts[i]) / Math.log1p(max)) : 255;
      rgba.set([v, v, v, 255], 4 * i);
    }
    const source = document.createElement('canvas');
    source.width = source.height = JOINT_BINS;
    source.getContext('2d').putImageData(new ImageData(rgba, JOINT_BINS, JOINT_BINS), 0, 0);
    const canvas = element('canvas', { className: 'joint', 'data-joint': a + ':' + ua + '~' + b + ':' + ub });
    canvas.width = canvas.height = 168;
    const ctx = canvas.getContext('2d');
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(source, 0, 0, 168, 168);
    return element('figure', { className: 'unit' }, [canvas, element('figcaption', {
      text: 'joint histogram, ' + rows + ' samples: ' + a + ' #' + ua + ' (x, ' + fmt(x0, 3) + '\u2013' + fmt(x1, 3) +
        ') vs ' + b + ' #' + ub + ' (y, ' + fmt(y0, 3) + '\u2013' + fmt(y1, 3) + ')' })]);
  }

  // Small thumbnails of each unit's best input (Fig. 6 leaves): groups of
  // [net, units], net A's units framed, a gap between the nets. null without
  // patch sheets.
  function thumbnailStrip(groups) {
    const tp = topPatches();
    if (!tp || !tp.patch) return null;
    const loaded = [];
    for (const [net, units] of groups) {
      const files = tp.nets[net] || {};
      if (!files.patches || !(files.patches in state.payload.files)) return null;
      loaded.push([net, units, files.patches]);
    }
    const cell = TREE_THUMB_CELL, gap = 8;
    const count = loaded.reduce((n, g) => n + g[1].length, 0);
    if (!count) return null;
    const canvas = element('canvas', { className: 'thumbs',
      'data-units': loaded.map(([net, units]) => units.map((u) => net + ':' + u).join(',')).join('|') });
    canvas.width = count * (cell + 2) + gap * (loaded.length - 1);
    canvas.height = cell + 2;
    Promise.all(loaded.map((g) => sprite(g[2]))).then((images) => {
      const ctx = canvas.getContext('2d');
      ctx.imageSmoothingEnabled = false;
      let x = 0;
      loaded.forEach(([, units], g) => {
        for (const u of units) {
          if (g === 0) { ctx.fillStyle = '#1d2330'; ctx.fillRect(x, 0, cell + 2, cell + 2); }
          ctx.drawImage(images[g], 0, u * tp.patch.height, tp.patch.width, tp.patch.height, x + 1, 1, cell, cell);
          x += cell + 2;
        }
        x += gap;
      });
      canvas.dataset.drawn = 'patches';
    }).catch(() => { canvas.dataset.drawn = 'error'; });
    return canvas;
  }

  // Integer unit indices of a cluster member list, inside 0..units-1.
  function memberUnits(list, units) {
    return Array.isArray(list) ? list.filter((u) => Number.isInteger(u) && u >= 0 && u < units) : [];
  }

  // Figs. 5 and 12: the leaf clusters of the pair with the highest
  // between-net similarity (Sec. 6.6), each with both nets' units as grids
  // of their top inputs.
  function clusterPatchesPanel() {
    guardPanel('cluster_patches', (p) => {
      const tp = topPatches();
      const layer = state.summary && state.summary.layers ? state.summary.layers[state.layer] || {} : {};
      const clustering = layer.clusters ? layer.clusters[currentPair()] : null;
      if (!clustering || !Array.isArray(clustering.clusters)) {
        showNote(p, 'missing', 'clustering not computed for this pair in layer ' + state.layer);
        return;
      }
      if (!tp) {
        showNote(p, 'missing', layer.top_patches && layer.top_patches.note ? layer.top_patches.note : 'no top-k inputs for this layer');
        return;
      }
      const [a, b] = pairNets(currentPair());
      const units = (net) => (tp.nets[net] && tp.nets[net].topk ? readNpy(tp.nets[net].topk).shape[0] : 0);
      const ua = units(a), ub = units(b);
      const nodes = new Map();
      for (const c of clustering.clusters) if (c && typeof c === 'object') nodes.set(c.id, c);
      const similarity = (c) => (typeof c.between_net_similarity === 'number' ? c.between_net_similarity : -Infinity);
      let order = Array.isArray(clustering.leaves_by_similarity) ? clustering.leaves_by_similarity.filter((id) => nodes.has(id)) : null;
      if (!order) {
        order = clustering.clusters.filter((c) => c && c.leaf).map((c) => c.id);
        order.sort((x, y) => similarity(nodes.get(y)) - similarity(nodes.get(x)) || x - y);
      }
      const list = element('div', { className: 'clusters-list' });
      let shown = 0;
      for (const id of order) {
        if (shown === TOP_CLUSTERS) break;
        const c = nodes.get(id);
        const members = c.members || {};
        const ma = memberUnits(members[a], ua), mb = memberUnits(members[b], ub);
        if (!ma.length || !mb.length) continue;  // a one-net cluster matches nothing (Sec. 6.6 is undefined there)
        const side = (net, m) => {
          const box = element('div', { className: net === a ? 'cluster-side first' : 'cluster-side', 'data-net': net });
          for (const u of m.slice(0, CLUSTER_UNITS)) box.appendChild(unitFigure(net, u, CLUSTER_CELL));
          if (m.length > CLUSTER_UNITS) box.appendChild(element('span', { className: 'more', text: '+' + (m.length - CLUSTER_UNITS) + ' more' }));
          return box;
        };
        shown++;
        list.appendChild(element('div', { className: 'cluster', 'data-cluster': String(id), 'data-rank': String(shown) }, [
          element('div', { className: 'cluster-label', text: '#' + shown + ' (cluster ' + id + ')  b = ' +
            fmt(c.between_net_similarity, 3) + ', w = ' + fmt(c.within_net_similarity, 3) + '; ' + ma.length + ' + ' + mb.length + ' units' }),
          side(a, ma), side(b, mb)]));
      }
      if (!shown) { showNote(p, 'info', 'no leaf cluster holds units of both nets'); return; }
      p.body.appendChild(list);
      p.body.appendChild(element('p', { className: 'caption', text: 'The ' + shown + ' leaf clusters with the highest between-net similarity b ' +
        '(w: within-net similarity, Sec. 6.6); ' + a + '\u2019s units in the dashed box, then ' + b + '\u2019s, each its ' + tp.k +
        ' highest-activating inputs, best first; at most ' + CLUSTER_UNITS + ' units per net drawn.' }));
      p.section.dataset.status = 'ok';
    });
  }

  function selectUnitPair(a, ua, b, ub, value, how) {
    state.selectedPair = { layer: state.layer, a, ua, b, ub, value, how };
    unitPairPanel();
    document.body.dataset.selectedPair = a + ':' + ua + '~' + b + ':' + ub;
  }

  function unitPairPanel() {
    guardPanel('unit_pair', (p) => {
      if (!topPatches()) { showNote(p, 'missing', 'no top-k inputs for this layer (run compare without --no-top-patches)'); return; }
      const sel = state.selectedPair;
      if (!sel || sel.layer !== state.layer) {
        showNote(p, 'info', 'Click a pair above, a point of the semi-matching curve or a cell of a correlation or MI matrix.');
        return;
      }
      const row = element('div', { className: 'flex' }, [
        unitFigure(sel.a, sel.ua, 48, sel.a + ' unit ' + sel.ua),
        unitFigure(sel.b, sel.ub, 48, sel.b + ' unit ' + sel.ub)]);
      const joint = jointHistogram(sel.a, sel.ua, sel.b, sel.ub);
      if (joint) row.appendChild(joint);
      p.body.appendChild(row);
      if (sel.value !== undefined && sel.value !== null) {
        p.body.appendChild(element('p', { className: 'caption',
          text: 'value of the pair: ' + fmt(sel.value, 4) + (sel.how ? ' (' + sel.how + ')' : '') }));
      }
      p.section.dataset.status = 'ok';
    });
  }

  // Figs. 2 and 4: the 8 best and worst semi-matched pairs (Sec. 3.1), by
  // correlation and by MI, each unit a grid of its top inputs.
  function topPatchesPanel() {
    guardPanel('top_patches', (p) => {
      const tp = topPatches();
      const layer = state.summary.layers[state.layer] || {};
      if (!tp) {
        showNote(p, 'missing', layer.top_patches && layer.top_patches.note ? layer.top_patches.note : 'no top-k inputs for this layer');
        return;
      }
      const [a, b] = pairNets(currentPair());
      const pair = (layer.pairs || {})[currentPair()] || {};
      let shown = 0;
      for (const [key, label] of [['correlation', 'correlation'], ['mutual_information', 'MI']]) {
        const al = pair[key];
        if (!al || !al.fig3_order) continue;
        const grid = element('div', { className: 'unit-pairs', 'data-measure': key });
        const order = al.fig3_order;
        for (const [title, rows] of [['best 8 by ' + label, order.slice(0, 8)], ['worst 8 by ' + label, order.slice(-8).reverse()]]) {
          grid.appendChild(element('h4', { text: title }));
          rows.forEach((r, i) => {
            const col = al.semi_matching[r], value = al.semi_matching_values[r];
            const item = element('div', { className: 'unit-pair', 'data-rank': String(i), 'data-pair': a + ':' + r + '~' + b + ':' + col }, [
              unitFigure(a, r, PATCH_CELL), unitFigure(b, col, PATCH_CELL), element('span', { className: 'value', text: fmt(value, 3) })]);
            item.addEventListener('click', () => selectUnitPair(a, r, b, col, value));
            grid.appendChild(item);
          });
        }
        p.body.appendChild(grid);
        shown++;
      }
      if (!shown) { showNote(p, 'missing', 'no semi-matching for this pair (correlation matching and MI were skipped)'); return; }
      p.body.appendChild(element('p', { className: 'caption', text: 'Each unit: its ' + tp.k + ' highest-activating inputs, best first' +
        (tp.receptive_field ? ', cropped to the receptive field (' + tp.receptive_field.size + ' px)' : ', whole inputs') +
        '; the number is the semi-matching value of ' + a + '\u2019s unit to its partner in ' + b + '.' }));
      p.section.dataset.status = 'ok';
    });
  }

  function setLabels() {
    const [a, b] = pairNets(currentPair());
    for (const node of document.querySelectorAll('[data-label="net_a"]')) node.textContent = a;
    for (const node of document.querySelectorAll('[data-label="net_b"]')) node.textContent = b;
    byId('matrices-title').textContent = state.measure === 'mi' ? 'Mutual information matrices' : 'Correlation matrices';
  }

  const PER_LAYER_PANELS = ['within_a', 'within_b', 'between', 'matched', 'fig3', 'table1', 'similarity', 'mi', 'sparse',
    'clusters', 'cluster_tree', 'fig14', 'cycle', 'mean_activation', 'top_patches', 'unit_pair', 'cluster_patches'];

  // Opening the page draws only the panels on its first screen before
  // `ready` (render(true)); the others wait in `deferred` (panel name ->
  // draw function) and are drawn after it, one a task, the one scrolled to
  // first (drawDeferred). Every later render (a switch of layer, pair or
  // measure, a resize, an edited link) draws every panel at once.
  // body[data-drawn]: "all" when no panel waits, "first-screen" before.
  const deferred = new Map();
  let deferredWidths = null, deferredTimer = null, deferredObserver = null;
  const FOLD_MARGIN = 200;  // px below the window that count as on screen

  function render(firstScreen) {
    measurePanels();
    try {
      renderPanels(firstScreen === true);
    } finally {
      deferredWidths = panelWidths;
      panelWidths = null;
    }
    markDrawn();
  }

  function markDrawn() {
    document.body.dataset.drawn = deferred.size ? 'first-screen' : 'all';
    if (!deferred.size && !state.allDrawn) {
      state.allDrawn = true;
      mark('all-drawn');
    }
  }

  // Draws the panels of list ([name, draw] in drawing order); with
  // firstScreen, those from the first row that starts below the window
  // (and all after it) are deferred instead.
  function drawPanels(list, firstScreen) {
    const fold = firstScreen ? window.innerHeight + FOLD_MARGIN : Infinity;
    let row = null, later = false;
    for (const [name, draw] of list) {
      if (!later && fold !== Infinity) {
        const section = document.querySelector('section.panel[data-panel="' + name + '"]');
        const r = section && section.closest('.row');
        if (r && r !== row) {
          row = r;
          later = r.getBoundingClientRect().top > fold;  // one layout a row, not a panel
        }
      }
      if (later) deferred.set(name, draw);
      else {
        deferred.delete(name);
        draw();
      }
    }
  }

  // A panel that waits is drawn as it would have been (the widths measured
  // with the others).
  function drawDeferredPanel(name) {
    const draw = deferred.get(name);
    if (!draw) return;
    deferred.delete(name);
    panelWidths = deferredWidths;
    try {
      draw();
    } catch (e) {
      const p = panel(name);
      showNote(p, 'error', e && e.message ? e.message : String(e));
    } finally {
      panelWidths = null;
    }
  }

  function drawDeferred() {
    if (!deferredObserver && typeof IntersectionObserver === 'function') {
      deferredObserver = new IntersectionObserver((entries) => {
        let drew = false;
        for (const e of entries) {
          if (e.isIntersecting && deferred.has(e.target.dataset.panel)) {
            drawDeferredPanel(e.target.dataset.panel);
            drew = true;
          }
        }
        if (drew) markDrawn();
      }, { rootMargin: FOLD_MARGIN + 'px 0px' });
      for (const section of document.querySelectorAll('section.panel')) deferredObserver.observe(section);
    }
    if (deferredTimer !== null) return;
    deferredTimer = -1;  // the files of the views below the first screen first
    const next = () => {
      deferredTimer = null;
      const first = deferred.keys().next();
      if (!first.done) drawDeferredPanel(first.value);
      markDrawn();
      if (deferred.size) deferredTimer = setTimeout(next, 0);
    };
    ensureFiles(state.layer && currentPair() ? filesFor(state.layer, currentPair()) : []).then(() => {
      if (deferred.size) deferredTimer = setTimeout(next, 0);
      else deferredTimer = null;
    });
  }

  function renderPanels(firstScreen) {
    byId('tooltip').hidden = true;
    if (!state.layer) {
      // Only the cross-layer maps (nets without a common layer).
      for (const name of PER_LAYER_PANELS) {
        const p = panel(name);
        resetPanel(p);
        deferred.delete(name);
        showNote(p, 'missing', 'no layer is common to every net, so the per-layer analyses did not run; ' +
          'the cross-layer maps below cover every layer');
      }
      document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
      return;
    }
    setLabels();
    const list = [];
    if (!currentPair()) {
      for (const name of ['within_a', 'within_b', 'between', 'matched', 'fig3', 'table1', 'similarity', 'mi', 'sparse',
        'clusters', 'cluster_tree', 'fig14', 'top_patches', 'unit_pair', 'cluster_patches']) {
        list.push([name, () => {
          const p = panel(name);
          resetPanel(p);
          showNote(p, 'missing', 'the results hold a single net, so there is no pair to compare');
        }]);
      }
    } else {
      for (const name of FIG1_PANELS) list.push([name, () => heatmapPanel(name, name, state.measure)]);
      list.push(['fig3', fig3Panel], ['table1', table1Panel], ['similarity', similarityPanel], ['mi', miPanel],
        ['sparse', sparsePanel],
        ['clusters', () => heatmapPanel('clusters', state.threshold ? 'clusters_tau' : 'clusters', 'corr')],
        ['cluster_tree', clusterTreePanel], ['fig14', fig14Panel], ['top_patches', topPatchesPanel],
        ['cluster_patches', clusterPatchesPanel], ['unit_pair', unitPairPanel]);
    }
    list.push(['cycle', cyclePanel], ['mean_activation', meanActivationPanel]);
    drawPanels(list, firstScreen);
    document.body.dataset.layer = state.layer;
    document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
  }

  function buildControls() {
    const ov = state.overview;
    const layerSelect = byId('layer-select');
    layerSelect.replaceChildren();
    ov.layers.forEach((layer, i) => layerSelect.appendChild(element('option', { value: String(i), text: layer.name })));
    const pairSelect = byId('pair-select');
    pairSelect.replaceChildren();
    ov.pairs.forEach((pair, i) => {
      const [a, b] = pairNets(pair);
      pairSelect.appendChild(element('option', { value: String(i), text: a + ' vs ' + b }));
    });
    state.layer = ov.layers.length ? ov.layers[0].name : null;
    layerSelect.addEventListener('change', () => { state.layer = ov.layers[Number(layerSelect.value)].name; show(); });
    pairSelect.addEventListener('change', () => { state.pairIndex = Number(pairSelect.value); show(); });
    byId('measure-select').addEventListener('change', (e) => { state.measure = e.target.value; show(); });
    byId('colour-select').addEventListener('change', (e) => { state.colours = e.target.value; show(); });
    byId('clusters-threshold').addEventListener('change', (e) => {
      state.threshold = e.target.checked;
      byId('tooltip').hidden = true;
      deferred.delete('clusters');
      if (currentPair()) heatmapPanel('clusters', state.threshold ? 'clusters_tau' : 'clusters', 'corr');
      markDrawn();
    });
    byId('controls').hidden = false;
  }

  function describe(ov) {
    const parts = [];
    if (ov.convergent_version) parts.push('convergent ' + ov.convergent_version);
    if (ov.backend) parts.push('backend ' + ov.backend + (ov.backend_device ? ' (' + ov.backend_device + ')' : ''));
    parts.push(ov.nets.length + (ov.nets.length === 1 ? ' net: ' : ' nets: ') + ov.nets.join(', '));
    parts.push(ov.layers.length + (ov.layers.length === 1 ? ' layer' : ' layers'));
    return parts.join(' \u00b7 ');
  }

  async function main() {
    let summaryText, core;
    mark('start');
    state.missed = new Set();
    try {
      state.payload = readPayload();
      mark('payload-json');
      const index = readIndex(state.payload);
      index.catch(() => {});  // awaited below
      // Format 3 carries the core's wasm, deflated, in the blob: it is
      // inflated and compiled (off the main thread) while the summary is
      // inflated and parsed.
      const wasm = state.payload.core ? decodeEntry(state.payload.core, 'the viewer core') : null;
      core = (wasm ? wasm.then((bytes) => createConvergentViewerCore({ wasmBinary: bytes })) : createConvergentViewerCore());
      core.catch(() => {});  // awaited below
      summaryText = new TextDecoder('utf-8', { fatal: true }).decode(await decodeEntry(state.payload.summary, 'summary.json'));
      await index;
    } catch (e) {
      fatal(e.message);
      return;
    }
    mark('payload');
    try {
      state.summary = JSON.parse(summaryText);
    } catch (e) {
      state.summary = null;
    }
    try {
      prefetchFirstScreen();
    } catch (e) { /* only a head start: show() decodes what it needs */ }
    try {
      state.core = await core;
      state.viewer = new state.core.Viewer();
    } catch (e) {
      fatal('The viewer core (WebAssembly) could not start: ' + (e && e.message ? e.message : e));
      return;
    }
    mark('core');
    const light = state.summary && typeof state.viewer.loadLayer === 'function' ? lightSummaryText(state.summary) : null;
    state.lightCore = light !== null;
    state.coreLayers = new Set();
    const ov = ask('loadSummary', light !== null ? light : summaryText);
    mark('core-summary');
    if (ov.status !== 'ok') {
      fatal('These results cannot be shown: ' + ov.message);
      return;
    }
    state.crossLayers = (state.summary && state.summary.cross_layers) || null;
    if (!ov.layers.length && !state.crossLayers) {
      fatal('summary.json lists no layers.');
      return;
    }
    state.overview = ov;
    ask('setAvailableFiles', JSON.stringify({ files: Object.keys(state.payload.files), omitted: state.payload.omitted || {} }));
    byId('meta').textContent = describe(ov);
    const warnings = (ov.warnings || []).concat(state.payload.warnings || []);
    if (warnings.length) {
      const list = byId('warnings');
      for (const w of warnings) list.appendChild(element('li', { text: String(w) }));
      list.hidden = false;
    }
    buildControls();
    applyHash();
    byId('panels').hidden = false;
    // A link to a panel draws every panel first (the page then scrolls there).
    await show(!state.targetPanel);
    mark('first-view');
    if (deferred.size) deferred.set('cross_layers', crossLayersPanel);
    else crossLayersPanel();
    markDrawn();
    document.body.dataset.state = 'ready';
    mark('ready');
    drawDeferred();
    revealPanel();
    // A panel's title puts it into the link; an edited hash is followed.
    for (const section of document.querySelectorAll('section.panel')) {
      const h = section.querySelector('h3');
      if (h) h.addEventListener('click', () => { state.targetPanel = section.dataset.panel; writeHash(); });
    }
    window.addEventListener('hashchange', () => { applyHash(); show().then(revealPanel); });
  }

  // The figure options in viewer.html (shared colour scale, Fig. 1d order,
  // combined matrix by net): each redraws only the panels it changes.
  function bindFigureControls() {
    const redraw = (names) => {
      if (!state.overview || !state.layer || !currentPair()) return;
      byId('tooltip').hidden = true;
      for (const name of names) {
        deferred.delete(name);
        if (name === 'clusters') heatmapPanel('clusters', state.threshold ? 'clusters_tau' : 'clusters', 'corr');
        else heatmapPanel(name, name, state.measure);
      }
      markDrawn();
    };
    const bind = (id, field, names) => {
      const box = byId(id);
      if (!box) return;
      figures[field] = box.checked;
      box.addEventListener('change', () => { figures[field] = box.checked; redraw(names); });
    };
    bind('shared-scale', 'sharedScale', FIG1_PANELS);
    bind('matched-sort', 'sortMatched', ['matched']);
    bind('clusters-by-net', 'groupNets', ['clusters']);
  }

  // The panels take their size from the page's width: draw them again when
  // it changes (debounced; a change of the height alone is ignored).
  let resizeTimer = null;
  let drawnWidth = window.innerWidth;
  window.addEventListener('resize', () => {
    if (window.innerWidth === drawnWidth) return;
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      drawnWidth = window.innerWidth;
      if (!state.overview || !state.layer) return;
      show().catch((e) => fatal('Unexpected failure: ' + (e && e.message ? e.message : e)));
    }, 150);
  });

  window.addEventListener('DOMContentLoaded', bindFigureControls);
  window.addEventListener('DOMContentLoaded', () => {
    main().catch((e) => fatal('Unexpected failure: ' + (e && e.message ? e.message : e)));
  });
})();
