// The device maker's screens: the admin token, products, provisioning
// batches (upload a CSV, see the result, download the factory CSV and the
// label sheets), devices with their registration, and the audit log.

import { admin, adminToken, setAdminToken, download, call } from './api.js';
import { go } from './app.js';
import { h, field, checkbox, alertBox, onSubmit, when, table, bytes, fieldError } from './ui.js';
import { dashboard as dashboardScreen } from './dashboard.js';
import { deviceActions, blockWords, rotationWords } from './device_admin.js';

export const dashboard = (ctx) => dashboardScreen(ctx, page);

export const hasToken = () => !!adminToken();
export const forget = () => setAdminToken('');

/** The largest batch CSV the server takes. */
export const maxCSV = 1 << 20;

function adminNav() {
  const links = [['/admin/dashboard', 'Dashboard'], ['/admin/devices', 'Devices'], ['/admin/products', 'Products'], ['/admin/batches', 'Batches'], ['/admin/audit', 'Audit log']];
  return h('nav', { class: 'tabs', 'aria-label': 'Admin' },
    links.map(([href, t]) => h('a', { href, 'aria-current': location.pathname.startsWith(href) ? 'page' : false }, t)),
    h('button', { type: 'button', class: 'link', onclick: () => { forget(); go('/admin', { say: 'The admin token is forgotten.' }); } }, 'Leave admin'));
}

const page = (title, ...children) => ({ title, body: h('div', { class: 'admin' }, adminNav(), ...children) });

export async function start({ query }) {
  if (hasToken()) {
    go(query.get('next') || '/admin/dashboard', { replace: true });
    return new Promise(() => {}); // replaced by the screen gone to
  }
  const tok = field({ label: 'Admin token', name: 'token', type: 'password', autocomplete: 'off', hint: 'The token in the server\'s data directory, file admin.token. It is kept in this tab only.' });
  const box = alertBox();
  const form = h('form', {}, tok, box, h('button', { type: 'submit', class: 'primary' }, 'Continue'));
  onSubmit(form, box, () => ({ token: tok.input.value.trim() ? '' : 'Enter the admin token.' }), async () => {
    const t = tok.input.value.trim();
    try {
      await call('GET', '/v1/admin/products', { token: t });
    } catch (err) {
      if (err.code === 3720) {
        fieldError(tok.input, 'This token is not valid.');
        throw { title: 'This admin token is not valid.', todo: 'Copy it again from the file admin.token in the server\'s data directory.', code: 3720 };
      }
      throw err;
    }
    setAdminToken(t);
    const next = query.get('next');
    go(next && next.startsWith('/admin/') ? next : '/admin/dashboard', { replace: true, say: 'Admin area open.' });
  });
  return { title: 'Admin', body: form };
}

export async function products({ signal }) {
  const { products } = await admin('GET', '/v1/admin/products', { signal });
  const rows = products.map((p) => [p.id, p.name, p.autoRegister ? 'yes' : 'no', p.plainCoap ? 'allowed' : 'DTLS only', when(p.createdAt)]);
  const id = field({ label: 'Product ID', name: 'id', autocomplete: 'off', hint: '1 to 32 characters: a-z, 0-9, - and _.' });
  const name = field({ label: 'Name', name: 'name', autocomplete: 'off' });
  const auto = checkbox('Devices may register without being provisioned', { name: 'autoRegister' });
  const plain = checkbox('Allow plain CoAP (without DTLS)', { name: 'plainCoap', checked: true });
  const box = alertBox();
  const form = h('form', { 'aria-labelledby': 'new-product' }, h('h2', { id: 'new-product' }, 'New product'), id, name, auto, plain, box,
    h('button', { type: 'submit', class: 'primary' }, 'Create product'));
  onSubmit(form, box, () => ({
    id: !id.input.value.trim() ? 'Enter a product ID.' : !/^[a-z0-9_-]{1,32}$/.test(id.input.value.trim()) ? 'A product ID has 1 to 32 small letters a-z, digits, - or _.' : '',
    name: !name.input.value.trim() ? 'Enter a name.' : [...name.input.value.trim()].length > 64 ? 'The name can have at most 64 characters.' : '',
  }), async () => {
    const p = await admin('POST', '/v1/admin/products', {
      body: { id: id.input.value.trim(), name: name.input.value.trim(), autoRegister: auto.input.checked, plainCoap: plain.input.checked },
    });
    go('/admin/products', { replace: true, say: `Product ${p.id} created.` });
  });
  return page('Products', table('Products', ['ID', 'Name', 'Auto-register', 'Plain CoAP', 'Created'], rows), form);
}

export async function batches({ signal }) {
  const [{ batches }, { products }] = await Promise.all([
    admin('GET', '/v1/admin/batches', { signal }), admin('GET', '/v1/admin/products', { signal })]);
  const rows = batches.map((b) => [h('a', { href: `/admin/batches/${encodeURIComponent(b.id)}` }, b.id), b.productId, String(b.devices), when(b.createdAt)]);
  return page('Batches', uploadForm(products), table('Batches', ['Batch', 'Product', 'Devices', 'Imported'], rows));
}

function uploadForm(products) {
  const product = field({ label: 'Product', name: 'product', tag: 'select', options: products.map((p) => [p.id, `${p.name} (${p.id})`]) });
  const file = field({ label: 'CSV file', name: 'csv', type: 'file', accept: '.csv,text/csv', hint: 'A header line with an imei column (serial and psk are optional), at most 10,000 rows and 1 MiB.' });
  const box = alertBox();
  const form = h('form', { 'aria-labelledby': 'upload' }, h('h2', { id: 'upload' }, 'Import a batch'), product, file, box,
    h('button', { type: 'submit', class: 'primary' }, 'Upload'));
  onSubmit(form, box, async () => ({ csv: await csvProblem(file.input.files[0]) }), async () => {
    const f = file.input.files[0];
    const r = await admin('POST', `/v1/admin/batches?productId=${encodeURIComponent(product.input.value)}`, { body: f, type: 'text/csv', raw: true });
    const b = await r.json();
    go(`/admin/batches/${encodeURIComponent(b.id)}`, { say: r.status === 201 ? 'Batch imported.' : 'This file was imported before; here is its batch.' });
  });
  return form;
}

async function csvProblem(f) {
  if (!f) return 'Choose a CSV file.';
  if (f.size === 0) return `"${f.name}" is empty.`;
  if (f.size > maxCSV) return `"${f.name}" is ${bytes(f.size)}; the limit is 1 MiB (10,000 rows). Split it into batches.`;
  const head = new Uint8Array(await f.slice(0, 4096).arrayBuffer());
  const text = /\.(csv|txt)$/i.test(f.name) || ['text/csv', 'text/plain', 'application/vnd.ms-excel', ''].includes(f.type);
  if (!text || head.includes(0)) return `"${f.name}" is not a CSV file.`;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, lastWhole(head)));
  } catch {
    return `"${f.name}" is not UTF-8 text; save it as CSV UTF-8.`;
  }
  return '';
}

// lastWhole is where the last UTF-8 sequence of a cut buffer starts, so a
// character cut in two is not taken for bad text.
function lastWhole(b) {
  let i = b.length;
  for (let k = 0; k < 4 && i > 0; k++) {
    const c = b[i - 1];
    if ((c & 0xc0) !== 0x80) return c < 0x80 ? i : i - 1;
    i--;
  }
  return b.length;
}

export async function batch({ args: [id], signal }) {
  const b = await admin('GET', `/v1/admin/batches/${encodeURIComponent(id)}`, { signal });
  const box = alertBox();
  const dl = (path, name, what) => h('button', {
    type: 'button', onclick: async (ev) => {
      ev.target.disabled = true;
      box.clear();
      try {
        const got = await download(path, name);
        box.ok(`Downloaded ${what} as ${got}.`);
      } catch (err) { box.show(err); } finally { ev.target.disabled = false; }
    },
  }, `Download ${what}`);
  const enc = encodeURIComponent(b.id);
  const sheet = field({ label: 'Label sheet', name: 'page', type: 'number', min: 1, value: '1', inputmode: 'numeric', hint: 'Labels are printed on A4 sheets; the server says how many there are.' });
  const sheetButton = h('button', {
    type: 'button', onclick: async (ev) => {
      const n = Number(sheet.input.value);
      fieldError(sheet.input, Number.isInteger(n) && n >= 1 ? '' : 'Enter a sheet number from 1.');
      if (!(Number.isInteger(n) && n >= 1)) { sheet.input.focus(); return; }
      ev.target.disabled = true;
      box.clear();
      try {
        const got = await download(`/v1/admin/batches/${enc}/labels.png?page=${n}`, `${b.id}-labels-${n}.png`);
        box.ok(`Downloaded the label sheet as ${got}.`);
      } catch (err) { box.show(err); } finally { ev.target.disabled = false; }
    },
  }, 'Download the label sheet');
  return page(`Batch ${b.id}`,
    h('dl', { class: 'facts wide' },
      h('dt', {}, 'Product'), h('dd', {}, b.productId),
      h('dt', {}, 'Imported'), h('dd', {}, when(b.createdAt)),
      h('dt', {}, 'Devices'), h('dd', {}, String(b.devices)),
      h('dt', {}, 'Provisioned by this batch'), h('dd', {}, String(b.created)),
      h('dt', {}, 'Provisioned before'), h('dd', {}, String(b.existing))),
    h('p', { class: 'warn' }, 'The factory CSV holds every device\'s key (PSK) in the clear: give it to the factory only.'),
    h('div', { class: 'buttons' },
      dl(`/v1/admin/batches/${enc}/factory.csv`, `${b.id}-factory.csv`, 'the factory CSV')),
    sheet, sheetButton,
    box,
    h('p', {}, h('a', { href: '/admin/batches' }, 'All batches')));
}

const pageSize = 50;

// registrationWords says where a device's registration stands.
const registrationWords = (d) => d.registration ? (d.online ? 'registered, online' : 'registered, expired') : 'not registered';

export async function devices({ signal, query }) {
  const sort = query.get('sort') === 'id' ? 'id' : 'lastSeen';
  const q = new URLSearchParams({ limit: String(pageSize), sort });
  for (const k of ['productId', 'q', 'after']) if (query.get(k)) q.set(k, query.get(k));
  const [{ devices, next }, { products }] = await Promise.all([
    admin('GET', `/v1/admin/devices?${q}`, { signal }), admin('GET', '/v1/admin/products', { signal })]);
  const rows = devices.map((d) => [
    h('a', { href: `/admin/devices/${encodeURIComponent(d.id)}` }, d.imei), d.name, d.id, d.productId,
    registrationWords(d),
    d.registration ? when(d.registration.lastSeen) : '',
    d.ownerUid ? `bound ${d.boundAt ? new Date(d.boundAt).toLocaleDateString() : ''}` : 'unbound',
  ]);
  const search = field({ label: 'Search', name: 'q', type: 'search', value: query.get('q') || '', autocomplete: 'off', hint: 'The start of an IMEI or a device ID, or part of a name.' });
  const product = field({ label: 'Product', name: 'productId', tag: 'select', options: [['', 'All products'], ...products.map((p) => [p.id, p.name])] });
  product.input.value = query.get('productId') || '';
  const order = field({ label: 'Order', name: 'sort', tag: 'select', options: [['lastSeen', 'Seen most recently first'], ['id', 'By device ID']] });
  order.input.value = sort;
  const box = alertBox();
  const filter = h('form', { class: 'filters', role: 'search', 'aria-label': 'Devices' }, search, product, order, h('button', { type: 'submit' }, 'Show'));
  onSubmit(filter, box, () => ({ q: [...search.input.value.trim()].length > 64 ? 'A search has at most 64 characters.' : '' }), async () => {
    const p = new URLSearchParams();
    if (search.input.value.trim()) p.set('q', search.input.value.trim());
    if (product.input.value) p.set('productId', product.input.value);
    if (order.input.value !== 'lastSeen') p.set('sort', order.input.value);
    go('/admin/devices' + (p.toString() ? '?' + p : ''));
  });
  const later = new URLSearchParams(query);
  later.set('after', next || '');
  const more = devices.length === pageSize && next ? h('p', {}, h('a', { href: `/admin/devices?${later}` }, 'Next page')) : null;
  const found = query.get('q') ? h('p', { class: 'meta', 'data-count': devices.length },
    devices.length ? `Devices matching "${query.get('q')}"${more ? ' (first page)' : ''}:` : `No device matches "${query.get('q')}".`) : null;
  return page('Devices', filter, box, found,
    table('Devices', ['IMEI', 'Name', 'Device ID', 'Product', 'Registration', 'Last seen', 'Binding'], rows), more);
}

// device is one device as the device maker sees it: its registration, its
// queued downlinks and its history from the audit log.
export async function device({ args: [id], signal }) {
  const enc = encodeURIComponent(id);
  const [d, { downlinks }, { entries, total }] = await Promise.all([
    admin('GET', `/v1/admin/devices/${enc}`, { signal }),
    admin('GET', `/v1/admin/devices/${enc}/downlinks`, { signal }),
    admin('GET', `/v1/admin/audit?deviceId=${enc}&limit=50`, { signal })]);
  const r = d.registration;
  const fact = (t, v) => [h('dt', {}, t), h('dd', {}, v)];
  const history = entries.map((e) => [when(e.at), e.action, e.outcome, e.actor, e.uid || '', e.remoteAddr || '', e.detail || '']);
  const queued = downlinks.map((x) => [x.kind, x.state, x.ownerUid || '', x.homeId || '', when(x.createdAt)]);
  return page(d.name || d.imei,
    h('dl', { class: 'facts wide' },
      fact('IMEI', d.imei), fact('Device ID', d.id), fact('Product', d.productId), fact('Pairing ID', d.nbId),
      fact('Binding', d.ownerUid ? `bound to ${d.ownerUid} in home ${d.homeId}` : 'unbound'),
      fact('Block', blockWords(d)),
      ...(d.pskRotation ? fact('Key rotation', rotationWords(d)) : []),
      fact('Provisioned', when(d.createdAt))),
    h('section', { 'aria-labelledby': 'reg-h' }, h('h2', { id: 'reg-h' }, 'Registration'),
      r ? h('dl', { class: 'facts wide' },
        fact('State', registrationWords(d)), fact('Endpoint', r.endpoint), fact('Last seen', when(r.lastSeen)),
        fact('Expires', when(r.expiresAt)), fact('Lifetime', `${r.lifetime} s`), fact('LwM2M', r.lwm2mVersion),
        fact('Binding mode', `${r.binding}${r.queueMode ? ', queue mode' : ''}`), fact('Address', r.remoteAddr),
        fact('Objects', (r.objects || []).join(' ')))
        : h('p', {}, 'Not registered: the device has not talked to this server since it was provisioned, or its registration ended.')),
    h('section', { 'aria-labelledby': 'dl-h' }, h('h2', { id: 'dl-h' }, 'Queued downlinks'),
      table('Queued downlinks', ['Kind', 'State to write', 'Owner', 'Home', 'Queued'], queued)),
    deviceActions(d),
    h('section', { 'aria-labelledby': 'hist-h' }, h('h2', { id: 'hist-h' }, 'History'),
      h('p', { class: 'meta', 'data-total': total }, `${total} audit entr${total === 1 ? 'y' : 'ies'}, newest first${total > entries.length ? `; the ${entries.length} latest shown` : ''}. `,
        h('a', { href: `/admin/audit?deviceId=${enc}` }, 'All in the audit log')),
      table('History', ['When', 'Action', 'Outcome', 'Actor', 'User', 'Address', 'Detail'], history)),
    h('p', {}, h('a', { href: '/admin/devices' }, 'All devices')));
}

const actions = ['', 'provision', 'export-keys', 'parse', 'bind', 'unbind', 'rename', 'reset', 'rate-limited', 'login', 'dtls-handshake', 'downlink', 'block', 'unblock', 'deprovision', 'psk-rotate', 'psk-rotated'];

export async function audit({ signal, query }) {
  const q = new URLSearchParams({ limit: '50' });
  for (const k of ['deviceId', 'uid', 'action', 'outcome', 'before']) if (query.get(k)) q.set(k, query.get(k));
  const { entries, total, next } = await admin('GET', `/v1/admin/audit?${q}`, { signal });
  const dev = field({ label: 'Device ID', name: 'deviceId', value: query.get('deviceId') || '', autocomplete: 'off' });
  const uid = field({ label: 'User ID', name: 'uid', value: query.get('uid') || '', autocomplete: 'off' });
  const action = field({ label: 'Action', name: 'action', tag: 'select', options: actions.map((a) => [a, a || 'Any']) });
  action.input.value = query.get('action') || '';
  const outcome = field({ label: 'Outcome', name: 'outcome', tag: 'select', options: [['', 'Any'], ['ok', 'ok'], ['refused', 'refused'], ['dropped', 'dropped']] });
  outcome.input.value = query.get('outcome') || '';
  const filter = h('form', { class: 'filters', 'aria-label': 'Filters' }, dev, uid, action, outcome, h('button', { type: 'submit' }, 'Filter'));
  filter.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const [k, f] of [['deviceId', dev], ['uid', uid], ['action', action], ['outcome', outcome]]) if (f.input.value.trim()) p.set(k, f.input.value.trim());
    go('/admin/audit' + (p.toString() ? '?' + p : ''));
  });
  const rows = entries.map((e) => [when(e.at), e.action, e.outcome, e.actor, e.uid || '',
    e.devId ? h('a', { href: `/admin/devices/${encodeURIComponent(e.devId)}` }, e.devId) : '', e.remoteAddr || '', e.detail || '']);
  const older = new URLSearchParams(query);
  older.set('before', next || '');
  return page('Audit log', filter,
    h('p', { class: 'meta', 'data-total': total }, `${total} matching entr${total === 1 ? 'y' : 'ies'}, newest first.`),
    table('Audit log', ['When', 'Action', 'Outcome', 'Actor', 'User', 'Device', 'Address', 'Detail'], rows),
    entries.length === 50 && next ? h('p', {}, h('a', { href: `/admin/audit?${older}` }, 'Older entries')) : null);
}
