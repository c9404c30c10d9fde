// The account lifecycle and device sharing of a user: the Account screen
// (password, sessions, deleting the account), the "Shared with you" screen
// (devices others share, transfer offers in and out), and the sections the
// home and device screens add for their owner: delete a home, share and
// transfer a device.

import { session, setSession, user } from './api.js';
import { go } from './app.js';
import { h, field, alertBox, onSubmit, when, announce, fieldError } from './ui.js';

const enc = encodeURIComponent;

function checkNewPassword(v) {
  if (!v) return 'Enter the new password.';
  if ([...v].length < 8) return 'The new password must have at least 8 characters.';
  if (new TextEncoder().encode(v).length > 1024) return 'The password is too long: at most 1024 bytes.';
  return '';
}

function checkOtherUser(v) {
  if (!v) return 'Enter the username of the other person.';
  if (v === session()?.username) return 'That is your own username; enter someone else\'s.';
  return '';
}

/**
 * confirmStep is a button that opens a confirmation: what will happen (a
 * paragraph, or nodes), optional fields, a danger button that runs act and
 * a button that closes it again. Errors go to its alert box.
 */
function confirmStep({ open, say, yes, no, fields = [], check = () => ({}), act }) {
  const box = alertBox();
  const sayID = 'confirm-' + Math.random().toString(36).slice(2);
  const form = h('form', { class: 'confirm', hidden: true, 'aria-describedby': sayID },
    h('div', { id: sayID }, say), ...fields, box,
    h('div', { class: 'buttons' },
      h('button', { type: 'submit', class: 'danger' }, yes),
      h('button', { type: 'button', onclick: () => { form.hidden = true; start.hidden = false; box.clear(); start.focus(); } }, no)));
  const start = h('button', {
    type: 'button', class: 'danger',
    onclick: () => {
      start.hidden = true;
      form.hidden = false;
      (form.querySelector('input') || form.querySelector('button')).focus();
      announce('Confirm or go back.');
    },
  }, open);
  onSubmit(form, box, check, act);
  return [start, form];
}

// ---- The Account screen.

export async function account({ signal }) {
  const [me, { sessions }, { homes }] = await Promise.all([
    user('GET', '/v1/account', { signal }),
    user('GET', '/v1/sessions', { signal }),
    user('GET', '/v1/homes', { signal }),
  ]);
  const list = h('div', {});
  const body = h('div', {},
    h('dl', { class: 'facts wide' },
      h('dt', {}, 'Username'), h('dd', {}, me.username),
      h('dt', {}, 'Member since'), h('dd', {}, when(me.createdAt))),
    passwordForm(list),
    h('section', { 'aria-labelledby': 'sessions' }, h('h2', { id: 'sessions' }, 'Where you are logged in'), list),
    deleteAccountSection(me, homes));
  showSessions(list, sessions);
  return { title: 'Your account', body };
}

function passwordForm(sessionList) {
  const current = field({ label: 'Current password', name: 'current', type: 'password', autocomplete: 'current-password' });
  const next = field({ label: 'New password', name: 'next', type: 'password', autocomplete: 'new-password', hint: 'At least 8 characters.' });
  const again = field({ label: 'New password again', name: 'again', type: 'password', autocomplete: 'new-password' });
  const box = alertBox();
  const form = h('form', { 'aria-labelledby': 'change-password' }, h('h2', { id: 'change-password' }, 'Change your password'),
    current, next, again, box, h('button', { type: 'submit', class: 'primary' }, 'Change password'));
  onSubmit(form, box, () => ({
    current: current.input.value ? '' : 'Enter your current password.',
    next: checkNewPassword(next.input.value),
    again: again.input.value === next.input.value ? '' : 'The two new passwords differ; type the same one twice.',
  }), async () => {
    try {
      await user('PUT', '/v1/account/password', { body: { currentPassword: current.input.value, newPassword: next.input.value } });
    } catch (err) {
      if (err.code === 4400) fieldError(current.input, 'This is not your current password.');
      throw err;
    }
    for (const f of [current, next, again]) f.input.value = '';
    box.ok('Your password is changed. Every other session of yours has ended; this one stays.');
    const { sessions } = await user('GET', '/v1/sessions');
    showSessions(sessionList, sessions);
  });
  return form;
}

function showSessions(list, sessions) {
  const box = alertBox();
  const rows = sessions.map((s) => h('li', { class: 'card session', 'data-session-id': s.id },
    h('span', { class: 'card-title' }, s.current ? 'This browser' : (s.userAgent ? shortAgent(s.userAgent) : 'Another client')),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Last used'), h('dd', {}, when(s.lastUsedAt)),
      h('dt', {}, 'Logged in'), h('dd', {}, when(s.createdAt)),
      s.remoteAddr ? [h('dt', {}, 'From'), h('dd', {}, s.remoteAddr)] : null,
      s.userAgent ? [h('dt', {}, 'Client'), h('dd', { class: 'agent' }, s.userAgent)] : null),
    s.current ? h('span', { class: 'meta' }, 'Log out from the top of the page.') : h('button', {
      type: 'button', class: 'small', 'aria-label': `Log out the session last used ${whenText(s.lastUsedAt)}`,
      onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await user('DELETE', `/v1/sessions/${enc(s.id)}`);
          const { sessions: left } = await user('GET', '/v1/sessions');
          showSessions(list, left);
          announce('That session is logged out.');
        } catch (err) { ev.target.disabled = false; box.show(err); }
      },
    }, 'Log it out')));
  list.replaceChildren(box, h('ul', { class: 'cards', 'aria-label': 'Sessions' }, rows));
}

function shortAgent(ua) {
  const m = /(Firefox|Edg|Chrome|Safari|nbpair|Go-http-client|curl)\/[\d.]+/.exec(ua);
  return m ? m[0] : ua.slice(0, 40);
}

function whenText(iso) { return when(iso).textContent; }

function deleteAccountSection(me, homes) {
  const owned = homes.filter((x) => x.ownerUid === me.uid);
  const others = homes.length - owned.length;
  const pw = field({ label: 'Your password', name: 'password', type: 'password', autocomplete: 'current-password' });
  const say = h('div', {},
    h('p', {}, 'Deleting your account cannot be undone. This is what happens:'),
    h('ul', {},
      h('li', {}, owned.length
        ? `Your ${owned.length === 1 ? 'home' : owned.length + ' homes'} (${owned.map((x) => x.name).join(', ')}) ${owned.length === 1 ? 'is' : 'are'} deleted, and every device in ${owned.length === 1 ? 'it' : 'them'} is unbound; each device is told when it is next awake, and anyone may then pair it.`
        : 'You own no home, so no home is deleted.'),
      h('li', {}, 'Devices you added to the homes of others are unbound too.'),
      others ? h('li', {}, `You leave the ${others === 1 ? 'home' : others + ' homes'} of others you are a member of; ${others === 1 ? 'it stays' : 'they stay'}.`) : null,
      h('li', {}, 'Your shares of devices, the devices shared with you and your transfer offers end.'),
      h('li', {}, 'You are logged out everywhere.')),
    h('p', {}, 'Enter your password to confirm.'));
  const [start, form] = confirmStep({
    open: 'Delete account…', say, yes: 'Delete my account for good', no: 'Keep my account', fields: [pw],
    check: () => ({ password: pw.input.value ? '' : 'Enter your password.' }),
    act: async () => {
      try {
        await user('POST', '/v1/account:delete', { body: { password: pw.input.value } });
      } catch (err) {
        if (err.code === 4400) fieldError(pw.input, 'This is not your password.');
        throw err;
      }
      setSession(null);
      go('/login', { replace: true, say: 'Your account is deleted.' });
    },
  });
  return h('section', { 'aria-labelledby': 'delete-account' }, h('h2', { id: 'delete-account' }, 'Delete your account'), start, form);
}

// ---- Deleting a home (its owner, on the home's screen).

/** The section that deletes the home hm (for its owner). */
export function deleteHomeSection(hm, devices) {
  const n = devices.length;
  const say = h('p', {}, `Delete the home ${hm.name}? `,
    n ? `Its ${n === 1 ? 'device is' : n + ' devices are'} unbound from your account (each is told when it is next awake) and anyone may then pair ${n === 1 ? 'it' : 'them'}; ` : 'It has no devices; ',
    'its members lose it. This cannot be undone.');
  const [start, form] = confirmStep({
    open: 'Delete home…', say, yes: 'Yes, delete this home', no: 'Keep it',
    act: async () => {
      await user('DELETE', `/v1/homes/${enc(hm.id)}`);
      go('/', { replace: true, say: `Home ${hm.name} deleted.` });
    },
  });
  return h('section', { 'aria-labelledby': 'delete-home' }, h('h2', { id: 'delete-home' }, 'Delete this home'), start, form);
}

// ---- On a device's screen.

/** The share the logged-in user has of device devId, or null. */
export async function myShare(devId, signal) {
  const { devices } = await user('GET', '/v1/shared-devices', { signal });
  return devices.find((x) => x.devId === devId) || null;
}

/** What a user a device is shared with reads on its screen, and may do. */
export function sharedNote(share) {
  const box = alertBox();
  return h('section', { 'aria-labelledby': 'shared-note' },
    h('h2', { id: 'shared-note' }, 'Shared with you'),
    h('p', {}, `${share.sharedBy} shares this device with you `, share.access === 'control'
      ? 'with control: you may rename it.' : 'to look at only: you see it and its state, but you cannot change it.'),
    h('button', {
      type: 'button', class: 'small',
      onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await user('DELETE', `/v1/devices/${enc(share.devId)}/shares/${enc(session().uid)}`);
          go('/shared', { replace: true, say: 'You no longer see that device.' });
        } catch (err) { ev.target.disabled = false; box.show(err); }
      },
    }, 'Stop seeing this device'), box);
}

/** The sections of a device's screen for its owner: sharing and transfer. */
export async function ownerSections(d, signal) {
  const [{ shares }, { outgoing }] = await Promise.all([
    user('GET', `/v1/devices/${enc(d.devId)}/shares`, { signal }),
    user('GET', '/v1/transfers', { signal }),
  ]);
  return [sharesSection(d, shares), transferSection(d, outgoing.find((t) => t.devId === d.devId))];
}

function sharesSection(d, shares) {
  const here = `/devices/${enc(d.devId)}`;
  const box = alertBox();
  const rows = shares.map((s) => h('li', { class: 'member', 'data-share-user': s.username },
    h('span', {}, s.username), ' ',
    h('span', { class: 'meta' }, s.access === 'control' ? 'may rename it' : 'looks only'), ' ',
    h('button', {
      type: 'button', class: 'small', 'aria-label': `Stop sharing with ${s.username}`,
      onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await user('DELETE', `/v1/devices/${enc(d.devId)}/shares/${enc(s.uid)}`);
          go(here, { replace: true, say: `${s.username} no longer sees this device.` });
        } catch (err) { ev.target.disabled = false; box.show(err); }
      },
    }, 'Stop sharing')));
  const name = field({ label: 'Username to share with', name: 'username', autocomplete: 'off', autocapitalize: 'none', spellcheck: false });
  const access = field({
    label: 'What they may do', name: 'access', tag: 'select',
    options: [['read', 'Look only'], ['control', 'Look and rename']],
    hint: 'Either way only you may remove, reset, share or give it away.',
  });
  const addBox = alertBox();
  const form = h('form', { 'aria-labelledby': 'add-share' }, h('h3', { id: 'add-share' }, 'Share with someone'), name, access, addBox,
    h('button', { type: 'submit' }, 'Share'));
  onSubmit(form, addBox, () => ({ username: checkOtherUser(name.input.value.trim()) }), async () => {
    const who = name.input.value.trim();
    try {
      await user('POST', `/v1/devices/${enc(d.devId)}/shares`, { body: { username: who, access: access.input.value } });
    } catch (err) {
      if (err.code === 4004) fieldError(name.input, 'No user has this username.');
      throw err;
    }
    go(here, { replace: true, say: `Shared with ${who}.` });
  });
  return h('section', { 'aria-labelledby': 'shares' }, h('h2', { id: 'shares' }, 'Sharing'),
    shares.length ? h('ul', { class: 'plain', 'aria-label': 'Shared with' }, rows) : h('p', {}, 'Nobody else sees this device.'),
    box, form);
}

function transferSection(d, pending) {
  const here = `/devices/${enc(d.devId)}`;
  const box = alertBox();
  const head = h('h2', { id: 'transfer' }, 'Give this device to someone');
  if (pending) {
    return h('section', { 'aria-labelledby': 'transfer' }, head,
      h('p', {}, `Offered to ${pending.toUsername}; the offer ends `, when(pending.deadline), '. It stays yours until they accept it.'),
      h('button', {
        type: 'button', class: 'danger',
        onclick: async (ev) => {
          ev.target.disabled = true;
          try {
            await user('DELETE', `/v1/transfers/${enc(pending.id)}`);
            go(here, { replace: true, say: 'The offer is withdrawn.' });
          } catch (err) { ev.target.disabled = false; box.show(err); }
        },
      }, 'Withdraw the offer'), box);
  }
  const name = field({
    label: 'Username of the new owner', name: 'username', autocomplete: 'off', autocapitalize: 'none', spellcheck: false,
    hint: 'They have 3 days to accept it into one of their homes. Until then it stays yours; then its shares end.',
  });
  const form = h('form', { 'aria-labelledby': 'transfer' }, head, name, box, h('button', { type: 'submit' }, 'Offer the device'));
  onSubmit(form, box, () => ({ username: checkOtherUser(name.input.value.trim()) }), async () => {
    const who = name.input.value.trim();
    try {
      await user('POST', `/v1/devices/${enc(d.devId)}/transfers`, { body: { username: who } });
    } catch (err) {
      if (err.code === 4004) fieldError(name.input, 'No user has this username.');
      throw err;
    }
    go(here, { replace: true, say: `Offered to ${who}.` });
  });
  return form;
}

// ---- The "Shared with you" screen.

export async function shared({ signal }) {
  const [{ devices }, { incoming, outgoing }, { homes }] = await Promise.all([
    user('GET', '/v1/shared-devices', { signal }),
    user('GET', '/v1/transfers', { signal }),
    user('GET', '/v1/homes', { signal }),
  ]);
  const targets = homes.filter((x) => x.role === 'owner' || x.role === 'admin');
  const body = h('div', {},
    h('section', { 'aria-labelledby': 'offers-in' }, h('h2', { id: 'offers-in' }, `Offered to you (${incoming.length})`),
      incoming.length ? h('ul', { class: 'cards', 'aria-label': 'Offered to you' }, incoming.map((t) => offerIn(t, targets)))
        : h('p', {}, 'Nobody is offering you a device.')),
    outgoing.length ? h('section', { 'aria-labelledby': 'offers-out' }, h('h2', { id: 'offers-out' }, `Your offers (${outgoing.length})`),
      h('ul', { class: 'cards', 'aria-label': 'Your offers' }, outgoing.map(offerOut))) : null,
    h('section', { 'aria-labelledby': 'shared-devices' }, h('h2', { id: 'shared-devices' }, `Devices shared with you (${devices.length})`),
      devices.length ? h('ul', { class: 'cards', 'aria-label': 'Devices shared with you' }, devices.map(sharedCard))
        : h('p', {}, 'Nobody shares a device with you.')));
  return { title: 'Shared with you', body };
}

function sharedCard(d) {
  return h('li', { class: 'card device', 'data-device-id': d.devId },
    h('a', { href: `/devices/${enc(d.devId)}`, class: 'card-title' }, d.name || d.uniqueId),
    h('span', { class: d.online ? 'badge online' : 'badge offline' }, d.online ? 'Online' : 'Offline'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Shared by'), h('dd', {}, d.sharedBy),
      h('dt', {}, 'You may'), h('dd', {}, d.access === 'control' ? 'look and rename' : 'look only'),
      h('dt', {}, 'Last seen'), h('dd', {}, when(d.lastSeen))));
}

function offerIn(t, targets) {
  const label = t.deviceName || t.devId;
  const box = alertBox();
  const card = h('li', { class: 'card offer', 'data-transfer-id': t.id },
    h('span', { class: 'card-title' }, label),
    h('p', {}, `${t.fromUsername} offers you this device; the offer ends `, when(t.deadline), '.'));
  if (!targets.length) {
    card.append(h('p', {}, 'Create a home first to accept it: ', h('a', { href: '/' }, 'your homes')));
  } else {
    const home = field({ label: `Home for ${label}`, name: 'home', tag: 'select', options: targets.map((x) => [x.id, x.name]) });
    const form = h('form', { 'aria-label': `Accept ${label}` }, home, h('button', { type: 'submit', class: 'primary' }, 'Accept'));
    onSubmit(form, box, () => ({}), async () => {
      const r = await user('POST', `/v1/transfers/${enc(t.id)}/accept`, { body: { spaceId: home.input.value } });
      go(`/homes/${enc(r.spaceId || home.input.value)}`, { say: `${label} is yours now.` });
    });
    card.append(form);
  }
  card.append(h('button', {
    type: 'button', class: 'danger', 'aria-label': `Decline ${label}`,
    onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        await user('POST', `/v1/transfers/${enc(t.id)}/decline`);
        go('/shared', { replace: true, say: `You declined ${label}.` });
      } catch (err) { ev.target.disabled = false; box.show(err); }
    },
  }, 'Decline'), box);
  return card;
}

function offerOut(t) {
  const label = t.deviceName || t.devId;
  const box = alertBox();
  return h('li', { class: 'card offer', 'data-transfer-id': t.id },
    h('a', { href: `/devices/${enc(t.devId)}`, class: 'card-title' }, label),
    h('p', {}, `Offered to ${t.toUsername}; the offer ends `, when(t.deadline), '.'),
    h('button', {
      type: 'button', class: 'danger', 'aria-label': `Withdraw the offer of ${label}`,
      onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await user('DELETE', `/v1/transfers/${enc(t.id)}`);
          go('/shared', { replace: true, say: 'The offer is withdrawn.' });
        } catch (err) { ev.target.disabled = false; box.show(err); }
      },
    }, 'Withdraw'), box);
}
