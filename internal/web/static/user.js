// The screens of a user: sign up, log in, homes, a home with its devices
// and members, a device.

import { call, session, setSession, user } from './api.js';
import { go } from './app.js';
import { h, field, alertBox, onSubmit, checkName, when, announce, fieldError } from './ui.js';
import { deleteHomeSection, myShare, sharedNote, ownerSections } from './account.js';

const usernameRe = /^[A-Za-z0-9._\-@+]+$/;

function checkUsername(v) {
  if (!v) return 'Enter a username.';
  if (v.length < 3 || v.length > 64) return `The username is ${v.length} characters long; it must have 3 to 64.`;
  if (!usernameRe.test(v)) return 'A username may hold letters, digits and . _ - @ + only.';
  return '';
}

function checkPassword(v, signingUp) {
  if (!v) return 'Enter a password.';
  if (signingUp && [...v].length < 8) return 'The password must have at least 8 characters.';
  if (new TextEncoder().encode(v).length > 1024) return 'The password is too long: at most 1024 bytes.';
  return '';
}

function credentialsForm(signingUp, query) {
  const name = field({ label: 'Username', name: 'username', autocomplete: 'username', autocapitalize: 'none', spellcheck: false, maxlength: 200 });
  const pw = field({
    label: 'Password', name: 'password', type: 'password', autocomplete: signingUp ? 'new-password' : 'current-password',
    hint: signingUp ? 'At least 8 characters.' : null,
  });
  const box = alertBox();
  const form = h('form', {}, name, pw, box,
    h('button', { type: 'submit', class: 'primary' }, signingUp ? 'Sign up' : 'Log in'));
  onSubmit(form, box, () => ({
    username: checkUsername(name.input.value.trim()),
    password: checkPassword(pw.input.value, signingUp),
  }), async () => {
    const creds = { username: name.input.value.trim(), password: pw.input.value };
    // Sign-up answers with the new account's session too: one request,
    // so there is no account left without a login when the second fails.
    const s = await call('POST', signingUp ? '/v1/users' : '/v1/sessions', { body: creds });
    setSession({ token: s.token, uid: s.uid, username: creds.username, expiresAt: s.expiresAt });
    const next = query.get('next');
    go(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', { replace: true, say: signingUp ? 'Welcome! Your account is ready.' : 'You are logged in.' });
  });
  return form;
}

export async function login({ query }) {
  const q = query.toString() ? '?' + query.toString() : '';
  return {
    title: 'Log in',
    body: h('div', {}, credentialsForm(false, query),
      h('p', {}, 'No account yet? ', h('a', { href: '/signup' + q }, 'Sign up'))),
  };
}

export async function signup({ query }) {
  const q = query.toString() ? '?' + query.toString() : '';
  return {
    title: 'Sign up',
    body: h('div', {}, credentialsForm(true, query),
      h('p', {}, 'Have an account? ', h('a', { href: '/login' + q }, 'Log in'))),
  };
}

export async function homes({ signal }) {
  const { homes } = await user('GET', '/v1/homes', { signal });
  const list = homes.length
    ? h('ul', { class: 'cards' }, homes.map((home) => h('li', { class: 'card' },
      h('a', { href: `/homes/${encodeURIComponent(home.id)}`, class: 'card-title' }, home.name),
      h('span', { class: 'meta' }, `You are its ${home.role}`))))
    : h('p', {}, 'You have no home yet. Create one to add devices to it.');
  return { title: 'Your homes', body: h('div', {}, list, createHomeForm()) };
}

function createHomeForm() {
  const name = field({ label: 'Name of the new home', name: 'name', autocomplete: 'off', hint: 'For example "Flat" or "Holiday house"; at most 64 characters.' });
  const box = alertBox();
  const form = h('form', { 'aria-labelledby': 'create-home' }, h('h2', { id: 'create-home' }, 'Create a home'), name, box,
    h('button', { type: 'submit', class: 'primary' }, 'Create home'));
  onSubmit(form, box, () => ({ name: checkName(name.input.value, 'name') }), async () => {
    const home = await user('POST', '/v1/homes', { body: { name: name.input.value.trim() } });
    go(`/homes/${encodeURIComponent(home.id)}`, { say: `Home ${home.name} created.` });
  });
  return form;
}

/** The home of the given ID among the user's homes. */
export async function findHome(id, signal) {
  const { homes } = await user('GET', '/v1/homes', { signal });
  const home = homes.find((x) => x.id === id);
  if (!home) throw Object.assign(new Error('no such home'), { code: 4004 });
  return home;
}

export async function home({ args: [id], signal }) {
  const enc = encodeURIComponent(id);
  const [hm, { devices }, { members }] = await Promise.all([
    findHome(id, signal),
    user('GET', `/v1/homes/${enc}/devices`, { signal }),
    user('GET', `/v1/homes/${enc}/members`, { signal }),
  ]);
  const manage = hm.role === 'owner' || hm.role === 'admin';
  const body = h('div', {},
    h('p', { class: 'meta' }, `You are this home's ${hm.role}.`),
    h('section', { 'aria-labelledby': 'devices' },
      h('h2', { id: 'devices' }, `Devices (${devices.length})`),
      manage ? h('p', {}, h('a', { class: 'button primary', href: `/homes/${enc}/add` }, 'Add a device')) : null,
      deviceList(devices)),
    manage ? renameHomeForm(hm) : null,
    membersSection(hm, members, manage),
    hm.role === 'owner' ? deleteHomeSection(hm, devices) : null);
  return { title: hm.name, body };
}

function deviceList(devices) {
  if (!devices.length) return h('p', {}, 'No devices yet.');
  return h('ul', { class: 'cards', 'aria-label': 'Devices' }, devices.map((d) => h('li', { class: 'card device', 'data-device-id': d.devId },
    h('a', { href: `/devices/${encodeURIComponent(d.devId)}`, class: 'card-title' }, d.name || d.uniqueId),
    h('span', { class: d.online ? 'badge online' : 'badge offline' }, d.online ? 'Online' : 'Offline'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Last seen'), h('dd', {}, when(d.lastSeen)),
      h('dt', {}, 'Added'), h('dd', {}, when(d.boundAt))))));
}

function renameHomeForm(hm) {
  const name = field({ label: 'New name', name: 'name', value: hm.name, autocomplete: 'off' });
  const box = alertBox();
  const form = h('form', { 'aria-labelledby': 'rename-home' }, h('h2', { id: 'rename-home' }, 'Rename this home'), name, box,
    h('button', { type: 'submit' }, 'Rename home'));
  onSubmit(form, box, () => ({ name: checkName(name.input.value, 'name') }), async () => {
    const r = await user('PATCH', `/v1/homes/${encodeURIComponent(hm.id)}`, { body: { name: name.input.value.trim() } });
    go(`/homes/${encodeURIComponent(hm.id)}`, { replace: true, say: `Renamed to ${r.name}.` });
  });
  return form;
}

function membersSection(hm, members, manage) {
  const enc = encodeURIComponent(hm.id);
  const me = session()?.uid;
  const rows = members.map((m) => h('li', { class: 'member' },
    h('span', {}, m.username, m.uid === me ? ' (you)' : ''), ' ',
    h('span', { class: 'meta' }, m.role), ' ',
    manage && m.role !== 'owner' && m.uid !== me ? h('button', {
      type: 'button', class: 'small', 'aria-label': `Remove ${m.username} from the home`,
      onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await user('DELETE', `/v1/homes/${enc}/members/${encodeURIComponent(m.uid)}`);
          go(`/homes/${enc}`, { replace: true, say: `${m.username} removed.` });
        } catch (err) { ev.target.disabled = false; box.show(err); }
      },
    }, 'Remove') : null));
  const box = alertBox();
  const section = h('section', { 'aria-labelledby': 'members' }, h('h2', { id: 'members' }, 'Members'), h('ul', { class: 'plain' }, rows), box);
  if (!manage) return section;
  const name = field({ label: 'Username of the new member', name: 'username', autocomplete: 'off', autocapitalize: 'none', spellcheck: false });
  const role = field({ label: 'Role', name: 'role', tag: 'select', options: [['member', 'Member: sees the devices'], ['admin', 'Admin: also adds and removes devices']] });
  const addBox = alertBox();
  const form = h('form', { 'aria-labelledby': 'add-member' }, h('h3', { id: 'add-member' }, 'Add a member'), name, role, addBox,
    h('button', { type: 'submit' }, 'Add member'));
  onSubmit(form, addBox, () => ({ username: checkUsername(name.input.value.trim()) }), async () => {
    try {
      await user('POST', `/v1/homes/${enc}/members`, { body: { username: name.input.value.trim(), role: role.input.value } });
    } catch (err) {
      if (err.code === 4004) {
        fieldError(name.input, 'No user has this username.');
        throw Object.assign(err, { code: 4004, message: 'no user has this username; check its spelling' });
      }
      throw err;
    }
    go(`/homes/${enc}`, { replace: true, say: `${name.input.value.trim()} added.` });
  });
  section.append(form);
  return section;
}

export async function device({ args: [id], signal }) {
  const enc = encodeURIComponent(id);
  const d = await user('GET', `/v1/devices/${enc}`, { signal });
  const hm = await findHome(d.spaceId, signal).catch(() => null);
  const manage = hm && (hm.role === 'owner' || hm.role === 'admin');
  const owner = d.ownerUid === session()?.uid;
  const share = !manage && !owner ? await myShare(d.devId, signal) : null;
  const body = h('div', {},
    h('p', {}, h('span', { class: d.online ? 'badge online' : 'badge offline' }, d.online ? 'Online' : 'Offline')),
    h('dl', { class: 'facts wide' },
      hm ? [h('dt', {}, 'Home'), h('dd', {}, h('a', { href: `/homes/${encodeURIComponent(hm.id)}` }, hm.name))]
        : [h('dt', {}, 'Owner'), h('dd', {}, share ? share.sharedBy : d.ownerUid)],
      h('dt', {}, 'IMEI'), h('dd', {}, d.uniqueId),
      h('dt', {}, 'Device ID'), h('dd', {}, d.devId),
      h('dt', {}, 'Product'), h('dd', {}, d.productId),
      h('dt', {}, 'Last seen'), h('dd', {}, when(d.lastSeen)),
      h('dt', {}, 'Added'), h('dd', {}, when(d.boundAt)),
      d.timeZone ? [h('dt', {}, 'Time zone'), h('dd', {}, d.timeZone)] : null),
    share ? sharedNote(share) : null,
    manage || share?.access === 'control' ? renameDeviceForm(d) : null,
    owner ? await ownerSections(d, signal) : null,
    manage ? removeDeviceSection(d) : null);
  return { title: d.name || d.uniqueId, body };
}

function renameDeviceForm(d) {
  const name = field({ label: 'New name', name: 'name', value: d.name, autocomplete: 'off' });
  const box = alertBox();
  const form = h('form', { 'aria-labelledby': 'rename-device' }, h('h2', { id: 'rename-device' }, 'Rename this device'), name, box,
    h('button', { type: 'submit' }, 'Rename device'));
  onSubmit(form, box, () => ({ name: checkName(name.input.value, 'name') }), async () => {
    const r = await user('PATCH', `/v1/devices/${encodeURIComponent(d.devId)}`, { body: { name: name.input.value.trim() } });
    go(`/devices/${encodeURIComponent(d.devId)}`, { replace: true, say: `Renamed to ${r.name}.` });
  });
  return form;
}

function removeDeviceSection(d) {
  const box = alertBox();
  const confirm = h('div', { class: 'confirm', hidden: true },
    h('p', { id: 'confirm-remove' }, 'Remove this device from the home? It is unbound from your account; anyone can then pair it.'),
    h('button', {
      type: 'button', class: 'danger', 'aria-describedby': 'confirm-remove',
      onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await user('DELETE', `/v1/devices/${encodeURIComponent(d.devId)}`);
          go(`/homes/${encodeURIComponent(d.spaceId)}`, { replace: true, say: `${d.name || d.uniqueId} removed.` });
        } catch (err) { ev.target.disabled = false; box.show(err); }
      },
    }, 'Yes, remove it'),
    h('button', { type: 'button', onclick: () => { confirm.hidden = true; start.hidden = false; start.focus(); } }, 'Keep it'));
  const start = h('button', {
    type: 'button', class: 'danger',
    onclick: () => { start.hidden = true; confirm.hidden = false; confirm.querySelector('button').focus(); announce('Confirm the removal.'); },
  }, 'Remove device');
  return h('section', { 'aria-labelledby': 'remove-device' }, h('h2', { id: 'remove-device' }, 'Remove'), start, confirm, box);
}
