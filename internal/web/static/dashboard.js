// The device maker's live dashboard: what the fleet does now, as counters
// and as charts over the last hour or day, from the server's own metrics
// (GET /v1/admin/dashboard/events, server-sent events). The charts are SVG
// drawn here: no third-party script, nothing inline.

import { dashboardEvents } from './api.js';
import { h, svg, uid, alertBox, table } from './ui.js';

// The charts: a title, the series they draw (by key, or '+failed' for the
// sum of every failure) and what the numbers are.
const charts = [
  { title: 'Devices online', keys: ['online'], unit: 'devices' },
  { title: 'Registers and Updates a minute', keys: ['registers', 'updates'], unit: 'a minute' },
  { title: 'Pairings a minute', keys: ['started', 'paired', '+failed', 'stopped'], unit: 'a minute' },
  { title: 'Downlinks a minute', keys: ['downlinksQueued', 'downlinksDelivered'], unit: 'a minute' },
];
const failureKeys = ['timeout', 'already-bound', 'factory-reset', 'permission', 'other-failure'];
const ranges = { hour: { minutes: 60, bucket: 1, words: 'the last hour' }, day: { minutes: 1440, bucket: 10, words: 'the last day' } };

export async function dashboard({ signal }, page) {
  const state = { series: [], minutes: new Map(), now: null, range: 'hour' };
  const tiles = h('dl', { class: 'tiles' });
  const chartBox = h('div', { class: 'charts' });
  const failures = h('div', {});
  const live = h('p', { class: 'meta live', 'aria-live': 'off' }, 'Connecting…');
  const box = alertBox();
  const rangeButtons = Object.entries(ranges).map(([k, r]) => h('button', {
    type: 'button', class: 'small', 'aria-pressed': String(k === state.range), 'data-range': k,
    onclick: () => {
      state.range = k;
      for (const b of rangeButtons) b.setAttribute('aria-pressed', String(b.dataset.range === k));
      draw();
    },
  }, `Last ${k}`));
  const draw = () => {
    if (!state.now) return;
    drawTiles(tiles, state);
    chartBox.replaceChildren(...charts.map((c) => chart(c, state)));
    failures.replaceChildren(failureTable(state));
  };
  follow(state, { signal, live, box, draw });
  return page('Dashboard',
    h('p', {}, 'What the devices and the apps are doing now, from this server\'s own metrics (the same counters as /metrics), sampled every few seconds.'),
    live, box,
    h('section', { 'aria-labelledby': 'now-h' }, h('h2', { id: 'now-h' }, 'Now'), tiles),
    h('section', { 'aria-labelledby': 'charts-h' },
      h('h2', { id: 'charts-h' }, 'Over time'),
      h('div', { class: 'buttons', role: 'group', 'aria-label': 'Time range' }, rangeButtons),
      chartBox),
    h('section', { 'aria-labelledby': 'fail-h' }, h('h2', { id: 'fail-h' }, 'Pairings that did not succeed, by code'), failures));
}

// follow reads the stream until the screen is left, and reconnects after
// a pause when it breaks.
async function follow(state, { signal, live, box, draw }) {
  while (!signal.aborted) {
    try {
      for await (const { event, data } of dashboardEvents(signal)) {
        box.clear();
        if (event === 'dashboard') {
          state.series = data.series;
          state.minutes = new Map(data.minutes.map((m) => [m.t, m.v]));
          state.now = data.now;
        } else if (event === 'minute') {
          if (data.last.t) state.minutes.set(data.last.t, data.last.v);
          state.now = data.now;
          for (const t of state.minutes.keys()) if (t <= state.now.t - 86400) state.minutes.delete(t);
        }
        live.textContent = `Live: updated at ${new Date().toLocaleTimeString()}.`;
        draw();
      }
    } catch (err) {
      if (signal.aborted || err.name === 'AbortError') return;
      box.show(err);
    }
    live.textContent = 'Disconnected; connecting again in 5 seconds…';
    await new Promise((r) => setTimeout(r, 5000));
  }
}

const index = (state, key) => state.series.findIndex((s) => s.key === key);

// value is a series' value in one minute's values v; '+failed' adds up the
// failures.
function value(state, key, v) {
  if (!v) return 0;
  if (key === '+failed') return failureKeys.reduce((n, k) => n + (v[index(state, k)] || 0), 0);
  return v[index(state, key)] || 0;
}

// points answers a series over the range, oldest first: a gauge keeps its
// last value of each bucket, a count adds its minutes up.
function points(state, key, range) {
  const { minutes, bucket } = ranges[range];
  const gauge = key === 'online';
  const out = [];
  let carry = 0;
  for (let b = minutes / bucket - 1; b >= 0; b--) {
    let sum = 0;
    let seen = false;
    for (let m = bucket - 1; m >= 0; m--) {
      const t = state.now.t - (b * bucket + m) * 60;
      const v = t === state.now.t ? state.now.v : state.minutes.get(t);
      if (!v) continue;
      seen = true;
      sum = gauge ? value(state, key, v) : sum + value(state, key, v);
    }
    if (gauge) carry = seen ? sum : carry;
    out.push(gauge ? carry : sum);
  }
  return out;
}

const label = (state, key) => key === '+failed' ? 'Failed' : state.series[index(state, key)]?.label || key;

function drawTiles(tiles, state) {
  const hour = (key) => points(state, key, 'hour').reduce((a, b) => a + b, 0);
  const items = [
    ['online', 'Devices online now', value(state, 'online', state.now.v)],
    ['registers', 'Registers in the last hour', hour('registers')],
    ['updates', 'Updates in the last hour', hour('updates')],
    ['started', 'Pairings started in the last hour', hour('started')],
    ['paired', 'Paired in the last hour', hour('paired')],
    ['failed', 'Failed in the last hour', hour('+failed')],
    ['downlinksQueued', 'Downlinks queued in the last hour', hour('downlinksQueued')],
    ['downlinksDelivered', 'Downlinks delivered in the last hour', hour('downlinksDelivered')],
  ];
  tiles.replaceChildren(...items.map(([key, words, n]) => h('div', { class: 'tile', 'data-series': key },
    h('dt', {}, words), h('dd', {}, n.toLocaleString()))));
}

// chart draws one chart as an SVG of polylines, with its scale and legend
// in text, and a summary for screen readers.
function chart(c, state) {
  const r = ranges[state.range];
  const lines = c.keys.map((key) => ({ key, pts: points(state, key, state.range) }));
  const top = Math.max(1, ...lines.flatMap((l) => l.pts));
  const W = 600;
  const H = 160;
  const n = lines[0].pts.length;
  const x = (i) => (n === 1 ? W : (i * W) / (n - 1));
  const y = (v) => H - 4 - (v / top) * (H - 8);
  const id = uid('chart');
  const grid = [0.25, 0.5, 0.75].map((f) => svg('line', { x1: 0, x2: W, y1: y(top * f), y2: y(top * f), class: 'grid' }));
  const drawn = lines.map((l, i) => svg('polyline', {
    class: `line s${i}`, fill: 'none', 'vector-effect': 'non-scaling-stroke',
    points: l.pts.map((v, j) => `${x(j).toFixed(1)},${y(v).toFixed(1)}`).join(' '),
  }));
  const summary = lines.map((l) => `${label(state, l.key)}: ${l.pts[l.pts.length - 1]} now, at most ${Math.max(...l.pts)}`).join('; ');
  return h('figure', { class: 'chart', 'data-chart': c.keys.join(' ') },
    h('figcaption', { id }, `${c.title} (${r.words}${r.bucket > 1 ? `, per ${r.bucket} minutes` : ''})`),
    h('div', { class: 'plot' },
      h('span', { class: 'scale-top' }, top.toLocaleString()),
      svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-labelledby': id, 'aria-description': summary },
        svg('title', {}, `${c.title}: ${summary}`), ...grid, ...drawn),
      h('span', { class: 'scale-bottom' }, '0')),
    h('p', { class: 'axis' }, h('span', {}, state.range === 'hour' ? '1 h ago' : '24 h ago'), h('span', {}, 'now')),
    h('ul', { class: 'legend' }, lines.map((l, i) => h('li', {}, h('span', { class: `swatch s${i}`, 'aria-hidden': 'true' }),
      l.key === 'online' ? `${label(state, l.key)}: ${l.pts[l.pts.length - 1]} now, at most ${Math.max(...l.pts)}`
        : `${label(state, l.key)}: ${l.pts.reduce((a, b) => a + b, 0).toLocaleString()} in ${r.words}`))));
}

// failureTable lists the outcomes that are not a success with the code the
// app was told, over the last hour and day.
function failureTable(state) {
  const keys = ['stopped', ...failureKeys];
  const sum = (key, range) => points(state, key, range).reduce((a, b) => a + b, 0);
  const rows = keys.map((key) => {
    const s = state.series[index(state, key)];
    const row = [String(s.code || ''), s.name || '', s.label, sum(key, 'hour').toLocaleString(), sum(key, 'day').toLocaleString()];
    row.attrs = { 'data-series': key };
    return row;
  });
  return table('Outcomes by code', ['Code', 'Name', 'Outcome', 'Last hour', 'Last day'], rows);
}
