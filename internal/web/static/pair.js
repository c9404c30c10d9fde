// Adding a device: read its label (a photo from the camera, an uploaded
// image, or the typed text), start the activation, show its progress with
// the time left (server-sent events), then the paired device or the error
// in words with what to do. Cancel stops the activation.

import { user, activationEvents, APIError } from './api.js';
import { findHome } from './user.js';
import { h, svg, uid, field, alertBox, announce, fieldError, bytes } from './ui.js';
import { describe } from './errors.js';

/** The largest label photo the server reads. */
export const maxImage = 10 << 20;
/** The longest label text the server parses. */
export const maxLabelText = 2048;

export async function addDevice({ args: [homeID], signal, query }) {
  const hm = await findHome(homeID, signal);
  return { title: `Add a device to ${hm.name}`, body: pairingPanel(hm.id, query.get('code') || '', signal) };
}

/**
 * A label's own URL (/nb/<nbId>), opened by the phone's camera app: the
 * label text is this page's address; the user picks the home and presses
 * Pair. Nothing starts by itself: a link anyone can send must not put
 * their device into the user's home.
 */
export async function labelLink({ signal }) {
  const code = location.origin + location.pathname;
  const { homes } = await user('GET', '/v1/homes', { signal });
  const mine = homes.filter((x) => x.role === 'owner' || x.role === 'admin');
  if (!mine.length) {
    return { title: 'Add a device', body: h('p', {}, 'Create a home first, then scan the label again. ', h('a', { href: '/' }, 'Go to your homes.')) };
  }
  const pick = field({ label: 'Home to add the device to', name: 'home', tag: 'select', options: mine.map((x) => [x.id, x.name]) });
  const go = h('button', { type: 'button', class: 'primary' }, 'Continue');
  const slot = h('div', {});
  const check = h('p', {}, 'Pair only a device that is yours and in front of you: anyone can send a link like this one.');
  go.addEventListener('click', () => {
    pick.input.disabled = true;
    go.hidden = true;
    slot.replaceChildren(pairingPanel(pick.input.value, code, signal));
  });
  if (mine.length === 1) {
    slot.append(check, pairingPanel(mine[0].id, code, signal));
    return { title: `Add a device to ${mine[0].name}`, body: slot };
  }
  return { title: 'Add a device', body: h('div', {}, check, pick, go, slot) };
}

// pairingPanel is the three ways to read a label, then the progress and
// the outcome of the activation.
function pairingPanel(homeID, code, signal) {
  const box = alertBox();
  const progress = h('div', { class: 'progress-panel', hidden: true });
  const camera = cameraButton();
  const upload = field({ label: 'Or upload a picture of the label', name: 'image', type: 'file', accept: 'image/png,image/jpeg,image/gif', hint: 'PNG, JPEG or GIF, at most 10 MiB.' });
  const text = field({ label: 'Or type or paste the label text', name: 'code', tag: 'textarea', rows: 2, autocapitalize: 'none', spellcheck: false, hint: 'The code printed under the QR code (7 groups of 4 letters and digits, such as 0J2P-6KYF-…), or the address printed with it' });
  text.input.value = code;
  const readers = h('div', { class: 'readers' });
  const pairText = h('button', { type: 'submit', class: 'primary' }, 'Pair');
  const textForm = h('form', { novalidate: true }, text, pairText);
  readers.append(camera, upload, textForm);
  const ui = { box, progress, readers, signal, homeID };
  resumeRunning(ui);

  let busy = false;
  const run = async (input, read) => {
    if (busy) return;
    busy = true;
    box.clear();
    for (const el of [camera.input, upload.input, text.input]) fieldError(el, '');
    try {
      const scan = await read();
      if (!scan) return;
      await activate(scan, ui);
    } catch (err) {
      if (err.name === 'AbortError') return;
      if (err.client) fieldError(input, err.message);
      box.show(err.client ? { title: err.message, todo: err.todo, code: 'client' } : err);
      (err.client ? input : box).focus?.();
    } finally {
      busy = false;
      if (input.type === 'file') input.value = '';
    }
  };
  for (const f of [camera, upload]) {
    f.input.addEventListener('change', () => {
      const file = f.input.files[0];
      if (file) run(f.input, () => scanImage(file, signal));
    });
  }
  textForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    run(text.input, () => parseText(text.input.value, signal));
  });
  return h('div', {}, readers, progress, box);
}

// cameraButton is a file input that opens the phone's camera, shown as a
// button with a camera icon: the input itself stays focusable (Tab, then
// Enter or Space) but unseen, and its label is the button.
function cameraButton() {
  const id = uid();
  const input = h('input', {
    id, name: 'camera', type: 'file', accept: 'image/*', capture: 'environment', class: 'file-behind',
    'aria-describedby': `${id}-hint ${id}-err`,
  });
  const icon = svg('svg', { viewBox: '0 0 24 24', width: 24, height: 24, 'aria-hidden': 'true', focusable: 'false', class: 'icon' },
    svg('path', { d: 'M9 4 7.2 6H4a2 2 0 0 0-2 2v10a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V8a2 2 0 0 0-2-2h-3.2L15 4z', fill: 'none', stroke: 'currentColor', 'stroke-width': 2, 'stroke-linejoin': 'round' }),
    svg('circle', { cx: 12, cy: 13, r: 4, fill: 'none', stroke: 'currentColor', 'stroke-width': 2 }));
  const wrap = h('div', { class: 'field camera' },
    input,
    h('label', { for: id, class: 'button primary big' }, icon, h('span', {}, 'Take a photo of the label')),
    h('p', { class: 'hint', id: `${id}-hint` }, 'Opens the camera on a phone; on a computer, choose a picture.'),
    h('p', { class: 'field-error', id: `${id}-err`, hidden: true }));
  wrap.input = input;
  return wrap;
}

// clientError is a problem found before anything is sent.
function clientError(message, todo) { return Object.assign(new Error(message), { client: true, todo }); }

async function parseText(v, signal) {
  const code = v.trim();
  if (!code) throw clientError('Enter the label text.', 'Type or paste the text printed under the QR code.');
  const n = new TextEncoder().encode(code).length;
  if (n > maxLabelText) throw clientError(`The label text is ${n} bytes long; a label has at most ${maxLabelText}.`, 'Paste only the text under the QR code.');
  return user('POST', '/v1/qrcode:parse', { body: { code }, signal });
}

// The picture kinds the server reads, by their first bytes.
const magic = [
  ['image/png', [0x89, 0x50, 0x4e, 0x47]],
  ['image/jpeg', [0xff, 0xd8, 0xff]],
  ['image/gif', [0x47, 0x49, 0x46, 0x38]],
];

async function scanImage(file, signal) {
  if (file.size === 0) throw clientError('The file is empty.', 'Choose a photo of the label.');
  if (file.size > maxImage) {
    throw clientError(`The picture is ${bytes(file.size)}; the limit is 10 MiB.`, 'Take the photo at a lower resolution, or crop it to the label.');
  }
  const head = new Uint8Array(await file.slice(0, 8).arrayBuffer());
  const kind = magic.find(([, sig]) => sig.every((b, i) => head[i] === b));
  if (!kind) {
    throw clientError(`"${file.name}" is not a PNG, JPEG or GIF picture.`, 'Choose a photo of the label in one of these formats (on an iPhone, set the camera to "Most Compatible").');
  }
  return user('POST', '/v1/qrcode:scan', { body: file, type: kind[0], signal });
}

// activate starts the activation of a parsed label and follows it to its
// end. A device that this user is pairing already (3710, say after a
// reload) is not an error: that pairing is shown instead.
async function activate(scan, ui) {
  const dev = scan.actionData;
  const label = dev.productName || dev.name || 'the device';
  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  const start = { type: 'NB', nbId: dev.id, spaceId: ui.homeID, timeout: 120, timeZone };
  let a;
  try {
    a = await user('POST', '/v1/activations', { body: start, signal: ui.signal });
  } catch (err) {
    if (err.code === 3723 && timeZone) { // a zone the server does not know
      a = await user('POST', '/v1/activations', { body: { ...start, timeZone: '' }, signal: ui.signal });
    } else if (err.code === 3710) {
      a = (await running(ui.signal)).find((x) => x.nbId === dev.id);
      if (!a) throw err;
      announce('This device is being paired already; here is that pairing.');
    } else {
      throw err;
    }
  }
  await showProgress(a, label, ui);
}

// running answers the user's running activations.
async function running(signal) {
  const { activations } = await user('GET', '/v1/activations', { signal });
  return activations;
}

// resumeRunning shows the user's activation into this home that is still
// running, if there is one: after a reload it is not lost.
async function resumeRunning(ui) {
  let a;
  try {
    a = (await running(ui.signal)).find((x) => x.spaceId === ui.homeID);
  } catch (err) {
    if (err.name !== 'AbortError') ui.box.show(err);
    return;
  }
  if (!a || !ui.progress.hidden) return;
  try {
    await showProgress(a, 'the device', ui, true);
  } catch (err) {
    if (err.name !== 'AbortError') ui.box.show(err);
  }
}

// showProgress shows a pending activation with its countdown and Cancel,
// and then its outcome.
async function showProgress(a, label, { box, progress, readers, signal, homeID }, resumed = false) {
  readers.hidden = true;
  const deadline = Date.now() + a.remaining * 1000;
  const bar = h('progress', { max: a.timeout, value: 0, 'aria-label': 'Time used' });
  const left = h('p', { class: 'countdown' });
  const cancel = h('button', { type: 'button', class: 'danger' }, 'Cancel');
  const heading = h('h2', { tabindex: -1 }, `Pairing ${label}…`);
  progress.dataset.activationId = a.id;
  delete progress.dataset.status;
  progress.replaceChildren(heading,
    resumed ? h('p', { class: 'meta' }, 'This pairing was started before; it is still running.') : '',
    h('p', {}, 'Keep the device powered on. It is paired as soon as it connects to the network.'),
    bar, left, cancel);
  progress.hidden = false;
  if (!resumed) heading.focus(); // a resumed one leaves the focus on the screen's heading
  announce(resumed ? `A pairing is running: ${Math.round(a.remaining)} seconds left.` : `Pairing started. Waiting up to ${a.timeout} seconds for the device.`);
  const tick = () => {
    const s = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    bar.value = a.timeout - s;
    left.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')} left`;
  };
  tick();
  const timer = setInterval(tick, 1000);
  const ctl = new AbortController();
  signal.addEventListener('abort', () => ctl.abort());
  cancel.addEventListener('click', async () => {
    cancel.disabled = true;
    try {
      const r = await user('DELETE', `/v1/activations/${encodeURIComponent(a.id)}`);
      if (r.status !== 'pending') { ctl.abort(); finish(r); }
    } catch (err) { cancel.disabled = false; box.show(err); }
  });
  let done = false;
  const finish = (v) => {
    if (done) return;
    done = true;
    clearInterval(timer);
    showOutcome(v, { progress, readers, box, homeID });
  };
  try {
    const end = await follow(a, ctl.signal);
    if (end) finish(end);
  } catch (err) {
    if (err.name !== 'AbortError') { clearInterval(timer); throw err; }
  } finally {
    if (ctl.signal.aborted && !done) clearInterval(timer);
  }
}

// follow reads the activation's events until it has ended; when the stream
// ends early it long-polls instead.
async function follow(a, signal) {
  try {
    for await (const v of activationEvents(a.id, signal)) {
      if (v.status !== 'pending') return v;
    }
  } catch (err) {
    if (err.name === 'AbortError' || !(err instanceof APIError)) throw err;
  }
  for (;;) {
    const v = await user('GET', `/v1/activations/${encodeURIComponent(a.id)}?wait=30s`, { signal });
    if (v.status !== 'pending') return v;
  }
}

function showOutcome(v, { progress, readers, box, homeID }) {
  const home = `/homes/${encodeURIComponent(homeID)}`;
  progress.dataset.status = v.status;
  if (v.status === 'paired') {
    const d = v.device;
    const heading = h('h2', { tabindex: -1 }, 'Paired');
    progress.replaceChildren(heading,
      h('p', { class: 'outcome ok' }, `${d.name || d.uniqueId} is now in your home${d.online ? ' and online' : ''}.`),
      h('p', {}, h('a', { class: 'button primary', href: `/devices/${encodeURIComponent(d.devId)}` }, 'Open the device'), ' ',
        h('a', { class: 'button', href: home }, 'Back to the home')));
    heading.focus();
    announce(`Paired: ${d.name || d.uniqueId}.`);
    return;
  }
  const d = describe(v.error || { code: v.status === 'stopped' ? 4020 : 5000 });
  const heading = h('h2', { tabindex: -1 }, v.status === 'stopped' ? 'Pairing cancelled' : 'Pairing failed');
  const again = h('button', {
    type: 'button', class: 'primary',
    onclick: () => { progress.hidden = true; readers.hidden = false; box.clear(); readers.querySelector('input')?.focus(); },
  }, 'Try again');
  progress.replaceChildren(heading, again, ' ', h('a', { class: 'button', href: home }, 'Back to the home'));
  box.show(d);
  heading.focus();
}
