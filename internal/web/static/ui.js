// Small DOM helpers: elements, accessible form fields with their error
// messages, the live regions, and dates in words.

import { describe } from './errors.js';

/** h('p', {class: 'x'}, 'text', child…) builds an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** svg('path', {d: …}) builds an SVG element. */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined && v !== false) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

let ids = 0;
/** A unique element ID. */
export const uid = (p = 'f') => `${p}${++ids}`;

/** Says msg to screen readers through the polite status region. */
export function announce(msg) {
  const s = document.getElementById('status');
  s.textContent = '';
  setTimeout(() => { s.textContent = msg; }, 50);
}

/**
 * A labelled input with a hint and an error message tied to it. opts:
 * label, name, type, hint, and any input attribute. Answers the wrapper;
 * wrapper.input is the input.
 */
export function field(opts) {
  const { label, hint, tag = 'input', options, ...attrs } = opts;
  const id = uid();
  const hintID = hint ? id + '-hint' : null;
  const errID = id + '-err';
  let input;
  if (tag === 'select') {
    input = h('select', { id, ...attrs }, ...options.map(([v, t]) => h('option', { value: v }, t)));
  } else {
    input = h(tag, { id, ...attrs });
  }
  input.setAttribute('aria-describedby', [hintID, errID].filter(Boolean).join(' '));
  const wrap = h('div', { class: 'field' },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: hintID }, hint) : null,
    input,
    h('p', { class: 'field-error', id: errID, hidden: true }));
  wrap.input = input;
  return wrap;
}

/** A checkbox with its label. */
export function checkbox(label, attrs = {}) {
  const id = uid();
  const input = h('input', { type: 'checkbox', id, ...attrs });
  const wrap = h('div', { class: 'check' }, input, h('label', { for: id }, label));
  wrap.input = input;
  return wrap;
}

/** Shows msg under input (or clears it when msg is empty). */
export function fieldError(input, msg) {
  const err = input.closest('.field').querySelector('.field-error');
  err.textContent = msg || '';
  err.hidden = !msg;
  if (msg) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

/**
 * An alert box for a form's outcome: call show(err) with an API error (or
 * a {title, todo} pair), ok(text) for success, clear() to hide. It is an
 * aria-live region, so screen readers hear it.
 */
export function alertBox() {
  const box = h('div', { class: 'alert', role: 'alert', 'aria-live': 'assertive', hidden: true });
  box.show = (err) => {
    const d = err && err.title ? err : describe(err);
    box.className = 'alert alert-error';
    // replaceChildren would write a null as the text "null": leave it out.
    box.replaceChildren(...[h('p', { class: 'alert-title' }, d.title),
      d.detail && d.detail.toLowerCase() !== d.title.toLowerCase().replace(/\.$/, '') ? h('p', { class: 'alert-detail' }, capital(d.detail)) : null,
      d.todo ? h('p', { class: 'alert-todo' }, d.todo) : null].filter(Boolean));
    box.dataset.code = d.code ?? '';
    box.hidden = false;
  };
  box.ok = (text) => {
    box.className = 'alert alert-ok';
    box.replaceChildren(h('p', {}, text));
    box.dataset.code = '';
    box.hidden = false;
  };
  box.clear = () => { box.hidden = true; box.replaceChildren(); box.dataset.code = ''; };
  return box;
}

function capital(s) { s = String(s); return s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? '' : '.'); }

/**
 * Runs a form's submit: check() answers (or resolves to) {name: message}
 * for bad fields
 * (nothing is sent then); send() does the work. The submit button is
 * disabled meanwhile; an API error goes to box (and a field error to the
 * field it names, if fieldFor maps it).
 */
export function onSubmit(form, box, check, send) {
  form.noValidate = true;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    box.clear();
    for (const el of form.querySelectorAll('[aria-invalid]')) fieldError(el, '');
    const bad = await check();
    const first = Object.entries(bad).find(([, m]) => m);
    if (first) {
      for (const el of form.querySelectorAll('input, select, textarea')) {
        if (bad[el.name]) fieldError(el, bad[el.name]);
      }
      box.show({ title: 'Please correct the form.', todo: Object.values(bad).filter(Boolean).join(' '), code: 'client' });
      form.querySelector('[aria-invalid="true"]')?.focus();
      return;
    }
    const btn = form.querySelector('button[type=submit]');
    if (btn) btn.disabled = true;
    try {
      await send();
    } catch (err) {
      if (err.name === 'AbortError') return;
      box.show(err);
    } finally {
      if (btn) btn.disabled = false;
    }
  });
}

/** Checks a name of a home or a device: 1 to 64 characters. */
export function checkName(v, what) {
  if (!v.trim()) return `Enter a ${what}.`;
  if ([...v.trim()].length > 64) return `The ${what} is ${[...v.trim()].length} characters long; it can have at most 64.`;
  return '';
}

/** A date and time in words, with the exact one in a tooltip. */
export function when(iso, none = 'never') {
  if (!iso || iso.startsWith('0001-')) return document.createTextNode(none);
  const d = new Date(iso);
  return h('time', { datetime: iso, title: d.toLocaleString() }, ago(d));
}

function ago(d) {
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (s < 0) return 'in ' + span(-s);
  if (s < 10) return 'just now';
  return span(s) + ' ago';
}

function span(s) {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} days`;
}

/**
 * A table in a focusable region that scrolls sideways when the table is
 * wider than the screen; then a visible hint says so, and the region's
 * name too. rows are arrays of cells; a row may carry attrs as its
 * property "attrs".
 */
export function table(caption, headers, rows) {
  const hintID = uid('scroll');
  const hint = h('p', { class: 'scroll-hint', id: hintID, hidden: true }, 'Scroll sideways to see every column →');
  const wrap = h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': caption },
    h('table', {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.length ? rows.map((r) => h('tr', r.attrs || {}, r.map((c) => h('td', {}, c))))
        : h('tr', {}, h('td', { colspan: headers.length }, 'None yet.')))));
  const check = () => {
    const scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
    hint.hidden = !scrolls;
    wrap.setAttribute('aria-label', scrolls ? `${caption} (scrolls sideways)` : caption);
    if (scrolls) wrap.setAttribute('aria-describedby', hintID);
    else wrap.removeAttribute('aria-describedby');
  };
  new ResizeObserver(check).observe(wrap);
  return h('div', { class: 'table-box' }, hint, wrap);
}

/** Formats a number of bytes for people. */
export function bytes(n) {
  if (n < 1024) return `${n} bytes`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}
