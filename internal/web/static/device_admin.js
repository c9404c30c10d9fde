// The device maker's actions on one device, on its admin page: block and
// unblock, unbind from its owner, deprovision. The two that cannot be
// taken back (unbind, deprovision) ask to be confirmed first.

import { admin } from './api.js';
import { go } from './app.js';
import { h, field, alertBox, onSubmit, announce, when } from './ui.js';

/** The words for a device's block, for its facts: an element. */
export const blockWords = (d) => d.blocked
  ? h('span', { class: 'blocked' }, 'blocked since ', when(d.blocked.at), d.blocked.reason ? ` (${d.blocked.reason})` : '')
  : h('span', {}, 'not blocked');

// confirmStep is a button that, pressed, asks a question with a "yes"
// button that runs act, and a "no" one that puts things back.
function confirmStep(key, label, question, yes, box, act) {
  const confirm = h('div', { class: 'confirm', hidden: true },
    h('p', { id: `confirm-${key}` }, question),
    h('button', {
      type: 'button', class: 'danger', 'aria-describedby': `confirm-${key}`,
      onclick: async (ev) => {
        ev.target.disabled = true;
        box.clear();
        try { await act(); } catch (err) { ev.target.disabled = false; box.show(err); }
      },
    }, yes),
    h('button', { type: 'button', onclick: () => { confirm.hidden = true; start.hidden = false; start.focus(); } }, 'Cancel'));
  const start = h('button', {
    type: 'button', class: 'danger',
    onclick: () => { start.hidden = true; confirm.hidden = false; confirm.querySelector('button').focus(); announce('Confirm, or cancel.'); },
  }, label);
  return [start, confirm];
}

function blockForm(d, path) {
  const box = alertBox();
  if (d.blocked) {
    const form = h('form', { 'aria-labelledby': 'block-h' }, h('h3', { id: 'block-h' }, 'Blocked'),
      h('p', {}, 'This device is ', blockWords(d), ': its Registers are refused and nobody may add it.'), box,
      h('button', { type: 'submit' }, 'Unblock device'));
    onSubmit(form, box, () => ({}), async () => {
      await admin('DELETE', `${path}/block`);
      go(`/admin/devices/${encodeURIComponent(d.id)}`, { replace: true, say: 'The device is unblocked.' });
    });
    return form;
  }
  const reason = field({ label: 'Reason (optional)', name: 'reason', autocomplete: 'off', hint: 'Kept with the block and in the audit log; at most 200 characters.' });
  const form = h('form', { 'aria-labelledby': 'block-h' }, h('h3', { id: 'block-h' }, 'Block'),
    h('p', {}, 'A blocked device is refused when it registers (CoAP 4.03) and nobody may add it, until it is unblocked. Its registration ends now.'),
    reason, box, h('button', { type: 'submit' }, 'Block device'));
  onSubmit(form, box, () => ({ reason: [...reason.input.value.trim()].length > 200 ? 'A reason has at most 200 characters.' : '' }), async () => {
    await admin('PUT', `${path}/block`, { body: { reason: reason.input.value.trim() } });
    go(`/admin/devices/${encodeURIComponent(d.id)}`, { replace: true, say: 'The device is blocked.' });
  });
  return form;
}

/** The words for a rotation of a device's key under way, or null. */
export const rotationWords = (d) => d.pskRotation
  ? h('span', {}, 'new key given ', when(d.pskRotation.startedAt), '; the old one works until the device uses the new one, or ', when(d.pskRotation.deadline))
  : null;

// rotateForm gives the device a new DTLS key and shows it this once.
function rotateForm(d, path) {
  const deadline = field({ label: 'The old key works at most', name: 'deadline', tag: 'select',
    options: [['168h', '7 days'], ['24h', '1 day'], ['720h', '30 days'], ['1h', '1 hour']] });
  const box = alertBox();
  const shown = h('div', { class: 'secret', hidden: true });
  const form = h('form', { 'aria-labelledby': 'rotate-h' }, h('h3', { id: 'rotate-h' }, 'Rotate its DTLS key'),
    h('p', {}, 'A new pre-shared key for the device, shown only once. Its old key keeps working until the device completes a handshake with the new one, or until the time below.'),
    deadline, box, h('button', { type: 'submit' }, 'Rotate key'), shown);
  onSubmit(form, box, () => ({}), async () => {
    const r = await admin('POST', `${path}/psk`, { body: { deadline: deadline.input.value } });
    shown.replaceChildren(h('p', {}, 'New key (hex), shown only now; copy it for the device:'),
      h('p', {}, h('code', { 'data-psk': '' }, r.psk)),
      h('p', {}, 'The old key works until the device uses the new one, or ', when(r.deadline), '.'));
    shown.hidden = false;
    announce('The new key is shown below the button.');
  });
  return form;
}

/** The actions section of a device's admin page. */
export function deviceActions(d) {
  const path = `/v1/admin/devices/${encodeURIComponent(d.id)}`;
  const unbindBox = alertBox();
  const unbind = d.ownerUid
    ? h('div', { class: 'action' }, h('h3', {}, 'Unbind from its owner'),
      h('p', {}, 'As a reset would: the device keeps its data, is told at its next wake-up, and anyone holding its label may add it.'),
      ...confirmStep('unbind', 'Unbind device', `Unbind this device from ${d.ownerUid}? They lose it from their home.`, 'Yes, unbind it', unbindBox, async () => {
        await admin('POST', `${path}/unbind`);
        go(`/admin/devices/${encodeURIComponent(d.id)}`, { replace: true, say: 'The device is unbound; it is told at its next wake-up.' });
      }), unbindBox)
    : null;
  const goneBox = alertBox();
  const deprovision = h('div', { class: 'action' }, h('h3', {}, 'Deprovision'),
    h('p', {}, 'Removes the device for good: its registration, binding, key and queued downlinks. Its IMEI may be provisioned again, with a new key; the audit log keeps its history.'),
    ...confirmStep('deprovision', 'Deprovision device', `Deprovision ${d.imei} for good? This cannot be undone.`, 'Yes, deprovision it', goneBox, async () => {
      await admin('DELETE', path);
      go('/admin/devices', { replace: true, say: `Device ${d.imei} deprovisioned.` });
    }), goneBox);
  return h('section', { 'aria-labelledby': 'actions-h' }, h('h2', { id: 'actions-h' }, 'Actions'),
    blockForm(d, path), rotateForm(d, path), unbind, deprovision);
}
