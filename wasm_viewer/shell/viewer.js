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
      p.body.appendChild(drawPlot(spec, plotWidth(p, 520), 300));
      const s = spec.stats;
      p.body.appendChild(element('p', { className: 'caption',
        text: 'semi-matching mean ' + fmt(s.semi_matching_mean) + ', matching mean ' + fmt(s.matching_mean) +
          ', overlap ' + fmt(s.overlap_ratio) + ' (' + s.units + ' units' +
          (s.unmatched ? ', ' + s.unmatched + ' unmatched' : '') + ')' }));
    });
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
      for (const r of tree.rows) {
        box.appendChild(element('div', {
          className: r.leaf ? 'leaf' : 'inner', style: 'padding-left:' + (r.depth * 18) + 'px',
          text: (r.leaf ? '\u2022 ' : '\u25be ') + '#' + r.id + '  b=' + fmt(r.between, 2) + ' w=' + fmt(r.within, 2) +
            '  A' + list(r.members_a, r.size_a) + ' B' + list(r.members_b, r.size_b) }));
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

  // ------------------------------------------------------------- page -----

  function setLabels() {
    const [a, b] = pairNets(currentPair());
    for (const node of document.querySelectorAll('[data-label="net_a"]')) node.textContent = a;
    for (const node of document.querySelectorAll('[data-label="net_b"]')) node.textContent = b;
    byId('matrices-title').textContent = state.measure === 'mi' ? 'Mutual information matrices' : 'Correlation matrices';
  }

  function render() {
    byId('tooltip').hidden = true;
    setLabels();
    if (!currentPair()) {
      for (const name of ['within_a', 'within_b', 'between', 'matched', 'fig3', 'table1', 'mi', 'sparse',
        'clusters', 'cluster_tree', 'fig14']) {
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
      miPanel();
      sparsePanel();
      heatmapPanel('clusters', state.threshold ? 'clusters_tau' : 'clusters', 'corr');
      clusterTreePanel();
      fig14Panel();
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
    if (!ov.layers.length) {
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
    document.body.dataset.state = 'ready';
  }

  window.addEventListener('DOMContentLoaded', () => {
    main().catch((e) => fatal('Unexpected failure: ' + (e && e.message ? e.message : e)));
  });
})();
