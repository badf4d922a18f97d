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
  const HEATMAP_SIZE = 280;

  const state = {
    core: null, viewer: null, payload: null, overview: null,
    layer: null, pairIndex: 0, measure: 'corr', colours: 'grey', threshold: false,
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
        typeof payload.summary !== 'string' || !payload.files || typeof payload.files !== 'object') {
      throw new Error('The results embedded in this page are malformed (not a convergent report payload).');
    }
    return payload;
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

  function makeHeatmap(id, kind, measure) {
    const args = [id, state.layer, currentPair(), kind, measure, state.colours];
    let answer = ask('makeHeatmap', ...args);
    if (answer.status === 'need_files') {
      for (const path of answer.paths) {
        const bytes = base64Bytes(state.payload.files[path], 'file ' + path);
        const added = ask('addFile', path, bytes);
        if (added.status !== 'ok') return added;
      }
      answer = ask('makeHeatmap', ...args);
    }
    return answer;
  }

  function drawHeatmap(p, id, info) {
    const rows = info.rows, cols = info.cols;
    const scale = HEATMAP_SIZE / Math.max(rows, cols);
    const width = Math.max(1, Math.round(cols * scale)), height = Math.max(1, Math.round(rows * scale));
    const canvas = element('canvas', { className: 'heatmap', 'data-heatmap': id });
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = width + 'px';
    canvas.style.height = height + 'px';

    const rgba = state.viewer.heatmapRgba(id);
    if (rgba.length !== rows * cols * 4) throw new Error('heatmap buffer has the wrong size');
    const source = document.createElement('canvas');
    source.width = cols;
    source.height = rows;
    source.getContext('2d').putImageData(new ImageData(rgba, cols, rows), 0, 0);
    const ctx = canvas.getContext('2d');
    ctx.imageSmoothingEnabled = rows > height * ratio || cols > width * ratio;
    ctx.drawImage(source, 0, 0, canvas.width, canvas.height);

    if (info.blocks && info.blocks.length <= 4000) {
      // Leaf clusters that sit in one contiguous block (Fig. 13).
      ctx.strokeStyle = 'rgba(255, 140, 0, 0.9)';
      ctx.lineWidth = Math.max(1, ratio);
      const s = canvas.width / cols;
      for (const [start, length] of info.blocks) ctx.strokeRect(start * s, start * s, length * s, length * s);
    }

    canvas.addEventListener('mousemove', (event) => hover(event, canvas, id));
    canvas.addEventListener('mouseleave', () => { byId('tooltip').hidden = true; });
    // A click opens both units' top inputs (Figs. 2, 4, 7).
    canvas.addEventListener('click', (event) => {
      const rect = canvas.getBoundingClientRect();
      const cell = ask('heatmapCell', id, (event.clientX - rect.left - canvas.clientLeft) / canvas.clientWidth,
        (event.clientY - rect.top - canvas.clientTop) / canvas.clientHeight);
      if (cell.status === 'ok' && topPatches()) selectUnitPair(cell.row_net, cell.row_unit, cell.col_net, cell.col_unit, cell.value);
    });
    p.body.appendChild(canvas);
    p.body.appendChild(colourLegend(info));
    const caption = rows + ' \u00d7 ' + cols + ', min ' + fmt(info.min) + ', max ' + fmt(info.max) +
      (info.blocks ? ', ' + info.blocks.length + ' leaf clusters outlined' : '') +
      (info.thresholded ? ', thresholded at \u03c4 = ' + fmt(info.tau) + ' (entries < \u03c4 and the diagonal shown as 0)' : '');
    p.body.appendChild(element('p', { className: 'caption', text: caption }));
    if (info.note) p.body.appendChild(element('p', { className: 'caption', text: info.note }));
  }

  function colourLegend(info) {
    const bar = element('canvas');
    bar.width = 160;
    bar.height = 10;
    const ctx = bar.getContext('2d');
    const gradient = ctx.createLinearGradient(0, 0, 160, 0);
    if (info.colours === 'grey') {
      gradient.addColorStop(0, '#000');
      gradient.addColorStop(1, '#fff');
    } else {
      gradient.addColorStop(0, 'rgb(59,76,192)');
      gradient.addColorStop(0.5, '#fff');
      gradient.addColorStop(1, 'rgb(180,4,38)');
    }
    ctx.fillStyle = gradient;
    ctx.fillRect(0, 0, 160, 10);
    return element('div', { className: 'legend' },
      [element('span', { text: fmt(info.scale_min, 3) }), bar, element('span', { text: fmt(info.scale_max, 3) })]);
  }

  function hover(event, canvas, id) {
    // Fractions of the drawn area (inside the border) under the pointer.
    const rect = canvas.getBoundingClientRect();
    const fx = (event.clientX - rect.left - canvas.clientLeft) / canvas.clientWidth;
    const fy = (event.clientY - rect.top - canvas.clientTop) / canvas.clientHeight;
    const tip = byId('tooltip');
    const cell = ask('heatmapCell', id, fx, fy);
    if (cell.status !== 'ok') {
      tip.hidden = true;
      return;
    }
    tip.replaceChildren(
      element('div', { 'data-field': 'row', text: 'row ' + cell.row + ': ' + cell.row_net + ' unit ' + cell.row_unit }),
      element('div', { 'data-field': 'col', text: 'col ' + cell.col + ': ' + cell.col_net + ' unit ' + cell.col_unit }),
      element('div', { 'data-field': 'value', text: 'value: ' + (cell.value === null ? 'n/a' : cell.value.toPrecision(6)) }));
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
      drawHeatmap(p, id, info);
    });
  }

  // ------------------------------------------------------------ plots -----

  function tickText(v) {
    if (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0)) return v.toExponential(1);
    return Number(v.toPrecision(4)).toString();
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
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, width, height);
    const legendRows = Math.ceil(spec.series.length / Math.max(1, Math.floor((width - 72) / 150)));
    const m = { left: 58, right: 14, top: 12 + 14 * legendRows, bottom: 42 };
    const pw = width - m.left - m.right, ph = height - m.top - m.bottom;
    const [x0, x1] = spec.x_range, [y0, y1] = spec.y_range;
    const X = (x) => m.left + (x1 === x0 ? 0.5 : (x - x0) / (x1 - x0)) * pw;
    const Y = (y) => m.top + ph - (y1 === y0 ? 0.5 : (y - y0) / (y1 - y0)) * ph;
    // CSS pixels <-> data coordinates, for panels whose points can be clicked.
    canvas.toPixel = (x, y) => [X(x), Y(y)];
    canvas.toData = (px, py) => [x0 + (px - m.left) / pw * (x1 - x0), y0 + (m.top + ph - py) / ph * (y1 - y0)];

    ctx.font = '11px system-ui, "DejaVu Sans", sans-serif';
    ctx.strokeStyle = '#e3e6ec';
    ctx.fillStyle = '#5d6677';
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const t of spec.y_ticks) {
      ctx.beginPath();
      ctx.moveTo(m.left, Math.round(Y(t)) + 0.5);
      ctx.lineTo(m.left + pw, Math.round(Y(t)) + 0.5);
      ctx.stroke();
      ctx.fillText(tickText(t), m.left - 6, Y(t));
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const t of spec.x_ticks) {
      ctx.beginPath();
      ctx.moveTo(Math.round(X(t)) + 0.5, m.top);
      ctx.lineTo(Math.round(X(t)) + 0.5, m.top + ph);
      ctx.stroke();
      ctx.fillText(tickText(t), X(t), m.top + ph + 5);
    }
    ctx.strokeStyle = '#8a93a3';
    ctx.strokeRect(m.left + 0.5, m.top + 0.5, pw, ph);
    ctx.fillStyle = '#3a4150';
    ctx.fillText(spec.x_label, m.left + pw / 2, height - 16);
    ctx.save();
    ctx.translate(13, m.top + ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = 'middle';
    ctx.fillText(spec.y_label, 0, 0);
    ctx.restore();

    ctx.save();
    ctx.beginPath();
    ctx.rect(m.left, m.top, pw, ph);
    ctx.clip();
    spec.series.forEach((s, k) => {
      const colour = PALETTE[k % PALETTE.length];
      const xs = s.x || null;
      ctx.strokeStyle = colour;
      ctx.fillStyle = colour;
      ctx.lineWidth = 1.6;
      ctx.setLineDash(s.style === 'dashed' ? [5, 4] : []);
      if (s.style !== 'points' && s.style !== 'bars') {
        ctx.beginPath();
        let open = false;
        s.y.forEach((y, i) => {
          const x = xs ? xs[i] : i;
          if (y === null || x === null) { open = false; return; }
          if (open) ctx.lineTo(X(x), Y(y)); else ctx.moveTo(X(x), Y(y));
          open = true;
        });
        ctx.stroke();
      }
      if (s.style === 'bars') {
        // One bar per point, from 0 to y, as wide as the x spacing.
        const w = Math.max(1, pw / Math.max(1, s.y.length));
        s.y.forEach((y, i) => {
          const x = xs ? xs[i] : i;
          if (y === null || x === null) return;
          const top = Y(Math.max(y, 0)), bottom = Y(Math.min(y, 0));
          ctx.fillRect(X(x) - w / 2, top, w, Math.max(1, bottom - top));
        });
      }
      if (s.style === 'points' || s.style === 'line+points') {
        const r = s.y.length > 200 ? 1.4 : 2.4;
        s.y.forEach((y, i) => {
          const x = xs ? xs[i] : i;
          if (y === null || x === null) return;
          ctx.beginPath();
          ctx.arc(X(x), Y(y), r, 0, 2 * Math.PI);
          ctx.fill();
        });
      }
    });
    ctx.restore();
    ctx.setLineDash([]);

    // Legend above the plot area (canvas text: names are never parsed as HTML).
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    let lx = m.left, ly = 9;
    spec.series.forEach((s, k) => {
      const name = s.name.length > 40 ? s.name.slice(0, 39) + '\u2026' : s.name;
      const w = 20 + ctx.measureText(name).width + 14;
      if (lx + w > width - m.right && lx > m.left) { lx = m.left; ly += 14; }
      ctx.fillStyle = PALETTE[k % PALETTE.length];
      if (s.style === 'points') { ctx.beginPath(); ctx.arc(lx + 7, ly, 2.6, 0, 2 * Math.PI); ctx.fill(); }
      else ctx.fillRect(lx, ly - 1.5, 14, 3);
      ctx.fillStyle = '#1d2330';
      ctx.fillText(name, lx + 20, ly);
      lx += w;
    });
    return canvas;
  }

  function plotWidth(p, fallback) {
    const w = p.body.clientWidth || fallback;
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
      const canvas = drawPlot(spec, plotWidth(p, 520), 300);
      canvas.dataset.plot = 'fig3';
      const clickable = fig3Click(canvas, spec);
      p.body.appendChild(canvas);
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
            tr.appendChild(element('td', { text: key === 'overlap_ratio' && typeof v === 'number'
              ? (100 * v).toFixed(1) + '%' : fmt(v, 3) }));
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
        ['pwcca', 'PWCCA (' + a + ' weights)'], ['procrustes_angular', 'Procrustes angle'],
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
          tr.appendChild(element('td', { className: missing ? 'missing' : '',
            text: missing ? (key === 'cka_debiased' ? 'n/a' : '\u2013') : fmt(v, 3) }));
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
      row.appendChild(drawPlot(spec, Math.min(560, plotWidth(p, 560)), 280));
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
      row.appendChild(drawPlot(spec, Math.min(560, plotWidth(p, 560)), 280));
      row.appendChild(stats([
        ['targets', spec.targets], ['predictors', spec.predictors],
        ['L1 strengths (path order)', spec.alphas.map((v) => fmt(v, 3)).join(', ')],
        ['loss at the densest fit', fmt(spec.series[0].y[spec.series[0].y.length - 1], 3)],
      ]));
      p.body.appendChild(row);
    });
  }

  function clusterTreePanel() {
    guardPanel('cluster_tree', (p) => {
      const tree = ask('clusterTree', state.layer, currentPair());
      if (handled(p, tree)) return;
      p.body.appendChild(element('p', { className: 'caption',
        text: 'k = ' + fmt(tree.k) + ' (eigengap suggests ' + fmt(tree.k_eigengap) + '), \u03c4 = ' + fmt(tree.tau) +
          ', \u03b1 = ' + fmt(tree.alpha) + '; ' + tree.nodes + ' clusters, ' + tree.leaves + ' leaves. ' +
          'A: ' + tree.net_a + ', B: ' + tree.net_b + '; b / w: between- / within-net similarity (Sec. 6.6).' }));
      const box = element('div', { className: 'tree' });
      const list = (units, size) => '[' + units.join(', ') + (size > units.length ? ', \u2026' : '') + ']';
      // Fig. 6: each leaf shows the best input of its first few units per
      // net; past TREE_THUMB_LEAVES leaves the tree stays text only.
      let thumbs = 0;
      for (const r of tree.rows) {
        const row = element('div', {
          className: r.leaf ? 'leaf' : 'inner', style: 'padding-left:' + (r.depth * 18) + 'px', 'data-cluster': String(r.id),
          text: (r.leaf ? '\u2022 ' : '\u25be ') + '#' + r.id + '  b=' + fmt(r.between, 2) + ' w=' + fmt(r.within, 2) +
            '  A' + list(r.members_a, r.size_a) + ' B' + list(r.members_b, r.size_b) });
        if (r.leaf && thumbs < TREE_THUMB_LEAVES) {
          const strip = thumbnailStrip([[tree.net_a, r.members_a.slice(0, TREE_THUMB_UNITS)], [tree.net_b, r.members_b.slice(0, TREE_THUMB_UNITS)]]);
          if (strip) { row.appendChild(strip); thumbs++; }
        }
        box.appendChild(row);
      }
      p.body.appendChild(box);
    });
  }

  function fig14Panel() {
    guardPanel('fig14', (p) => {
      const spec = ask('clusterSimilarity', state.layer, currentPair());
      if (handled(p, spec)) return;
      p.body.appendChild(drawPlot(spec, plotWidth(p, 400), 280));
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
      const canvas = drawPlot(spec, plotWidth(p, 620), 170);
      canvas.dataset.values = JSON.stringify(cc.sorted_fractions);
      p.body.appendChild(canvas);
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
      row.appendChild(drawPlot(spec, Math.min(620, plotWidth(p, 620)), 280));
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
        if (xl.maps[key]) p.body.appendChild(crossLayerMap(key, xl.maps[key]));
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
    const bytes = base64Bytes(state.payload.files[path], 'file ' + path);
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
    else if (descr[1] === '<i8') data = Array.from(new BigInt64Array(body, 0, count), Number);
    else if (descr[1] === '|u1') data = new Uint8Array(body, 0, count);
    else throw new Error(path + ': dtype ' + descr[1] + ' is not float32, int64 or uint8');
    npys[path] = { shape: dims, data };
    return npys[path];
  }

  function sprite(path) {
    if (!sprites[path]) {
      sprites[path] = new Promise((resolve, reject) => {
        const img = new Image();
        img.onload = () => resolve(img);
        img.onerror = () => reject(new Error('the patch sheet ' + path + ' cannot be decoded'));
        img.src = 'data:image/png;base64,' + state.payload.files[path];
      });
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

  function render() {
    byId('tooltip').hidden = true;
    if (!state.layer) {
      // Only the cross-layer maps (nets without a common layer).
      for (const name of PER_LAYER_PANELS) {
        const p = panel(name);
        resetPanel(p);
        showNote(p, 'missing', 'no layer is common to every net, so the per-layer analyses did not run; ' +
          'the cross-layer maps below cover every layer');
      }
      document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
      return;
    }
    setLabels();
    if (!currentPair()) {
      for (const name of ['within_a', 'within_b', 'between', 'matched', 'fig3', 'table1', 'similarity', 'mi', 'sparse',
        'clusters', 'cluster_tree', 'fig14', 'top_patches', 'unit_pair', 'cluster_patches']) {
        const p = panel(name);
        resetPanel(p);
        showNote(p, 'missing', 'the results hold a single net, so there is no pair to compare');
      }
    } else {
      heatmapPanel('within_a', 'within_a', state.measure);
      heatmapPanel('within_b', 'within_b', state.measure);
      heatmapPanel('between', 'between', state.measure);
      heatmapPanel('matched', 'matched', state.measure);
      fig3Panel();
      table1Panel();
      similarityPanel();
      miPanel();
      sparsePanel();
      heatmapPanel('clusters', state.threshold ? 'clusters_tau' : 'clusters', 'corr');
      clusterTreePanel();
      fig14Panel();
      topPatchesPanel();
      clusterPatchesPanel();
      unitPairPanel();
    }
    cyclePanel();
    meanActivationPanel();
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
    layerSelect.addEventListener('change', () => { state.layer = ov.layers[Number(layerSelect.value)].name; render(); });
    pairSelect.addEventListener('change', () => { state.pairIndex = Number(pairSelect.value); render(); });
    byId('measure-select').addEventListener('change', (e) => { state.measure = e.target.value; render(); });
    byId('colour-select').addEventListener('change', (e) => { state.colours = e.target.value; render(); });
    byId('clusters-threshold').addEventListener('change', (e) => {
      state.threshold = e.target.checked;
      byId('tooltip').hidden = true;
      if (currentPair()) heatmapPanel('clusters', state.threshold ? 'clusters_tau' : 'clusters', 'corr');
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
    let summaryText;
    try {
      state.payload = readPayload();
      summaryText = new TextDecoder('utf-8', { fatal: true }).decode(base64Bytes(state.payload.summary, 'summary.json'));
    } catch (e) {
      fatal(e.message);
      return;
    }
    try {
      state.core = await createConvergentViewerCore();
      state.viewer = new state.core.Viewer();
    } catch (e) {
      fatal('The viewer core (WebAssembly) could not start: ' + (e && e.message ? e.message : e));
      return;
    }
    const ov = ask('loadSummary', summaryText);
    if (ov.status !== 'ok') {
      fatal('These results cannot be shown: ' + ov.message);
      return;
    }
    try {
      state.crossLayers = JSON.parse(summaryText).cross_layers || null;
    } catch (e) {
      state.crossLayers = null;
    }
    try {
      state.summary = JSON.parse(summaryText);
    } catch (e) {
      state.summary = null;
    }
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
    byId('panels').hidden = false;
    render();
    crossLayersPanel();
    document.body.dataset.state = 'ready';
  }

  window.addEventListener('DOMContentLoaded', () => {
    main().catch((e) => fatal('Unexpected failure: ' + (e && e.message ? e.message : e)));
  });
})();
