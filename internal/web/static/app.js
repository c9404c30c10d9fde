// The nbpair web app: a router over path routes, the header, and the
// screens of ./user.js, ./pair.js and ./admin.js.

import { session, setSession, user } from './api.js';
import { h, announce, alertBox } from './ui.js';
import * as screens from './user.js';
import { addDevice, labelLink } from './pair.js';
import * as adminScreens from './admin.js';
import * as accountScreens from './account.js';

// [pattern, screen, who may see it]: 'user' screens send others to /login.
const routes = [
  [/^\/$/, screens.homes, 'user'],
  [/^\/login$/, screens.login],
  [/^\/signup$/, screens.signup],
  [/^\/homes\/([^/]+)$/, screens.home, 'user'],
  [/^\/homes\/([^/]+)\/add$/, addDevice, 'user'],
  [/^\/devices\/([^/]+)$/, screens.device, 'user'],
  [/^\/account$/, accountScreens.account, 'user'],
  [/^\/shared$/, accountScreens.shared, 'user'],
  [/^\/nb\/([0-9a-fA-F]{32})$/, labelLink, 'user'],
  [/^\/admin$/, adminScreens.start],
  [/^\/admin\/products$/, adminScreens.products, 'admin'],
  [/^\/admin\/batches$/, adminScreens.batches, 'admin'],
  [/^\/admin\/batches\/([^/]+)$/, adminScreens.batch, 'admin'],
  [/^\/admin\/dashboard$/, adminScreens.dashboard, 'admin'],
  [/^\/admin\/devices$/, adminScreens.devices, 'admin'],
  [/^\/admin\/devices\/([^/]+)$/, adminScreens.device, 'admin'],
  [/^\/admin\/audit$/, adminScreens.audit, 'admin'],
];

let current; // the AbortController of the screen shown

/** Goes to path (pushing it on the history unless replace) and shows it. */
export function go(path, { replace = false, say } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render(say);
}

async function render(say) {
  current?.abort();
  const ctl = new AbortController();
  current = ctl;
  const path = location.pathname;
  const main = document.getElementById('main');
  renderNav();
  const route = routes.find(([re]) => re.test(path));
  if (!route) {
    show(main, 'Page not found', h('p', {}, 'There is no such page. ', h('a', { href: '/' }, 'Go to your homes.')));
    return;
  }
  const [re, screen, who] = route;
  if (who === 'user' && !session()) {
    go('/login?next=' + encodeURIComponent(path + location.search), { replace: true });
    return;
  }
  if (who === 'admin' && !adminScreens.hasToken()) {
    go('/admin?next=' + encodeURIComponent(path + location.search), { replace: true });
    return;
  }
  const args = re.exec(path).slice(1).map(decodeURIComponent);
  try {
    const view = await screen({ args, signal: ctl.signal, query: new URLSearchParams(location.search) });
    if (ctl.signal.aborted) return;
    show(main, view.title, view.body, say);
  } catch (err) {
    if (ctl.signal.aborted || err.name === 'AbortError') return;
    if (err.code === 3720 || err.code === 3718) {
      if (who === 'admin') {
        adminScreens.forget();
        go('/admin?next=' + encodeURIComponent(path), { replace: true });
      } else {
        setSession(null);
        go('/login?next=' + encodeURIComponent(path), { replace: true, say: err.code === 3718 ? 'Your session has expired; log in again.' : '' });
      }
      return;
    }
    const box = alertBox();
    box.show(err);
    show(main, 'Something went wrong', h('div', {}, box, h('p', {}, h('a', { href: '/' }, 'Go to your homes.'))));
  }
}

// show puts a screen in main, names the page, and moves the focus to its
// heading so that screen readers and keyboards start there.
function show(main, title, body, say) {
  document.title = `${title} · nbpair`;
  const h1 = h('h1', { tabindex: -1 }, title);
  main.replaceChildren(h1, body);
  h1.focus();
  if (say) announce(say);
}

function renderNav() {
  const nav = document.getElementById('nav');
  const s = session();
  if (s) {
    nav.replaceChildren(
      h('a', { href: '/' }, 'Homes'),
      h('a', { href: '/shared' }, 'Shared'),
      h('a', { href: '/account', class: 'who', 'aria-label': `Account of ${s.username}` }, s.username),
      h('button', { type: 'button', class: 'link', onclick: logOut }, 'Log out'));
  } else {
    nav.replaceChildren(h('a', { href: '/login' }, 'Log in'), h('a', { href: '/signup' }, 'Sign up'));
  }
}

async function logOut() {
  try { await user('DELETE', '/v1/sessions/current'); } catch { /* the session is gone either way */ }
  setSession(null);
  go('/login', { say: 'You are logged out.' });
}

// Links within the app change the screen without reloading the page.
document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a');
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  if (a.target || a.hasAttribute('download') || a.origin !== location.origin || a.pathname.startsWith('/v1/')) return;
  if (a.classList.contains('skip')) { // to the content's heading, in every browser
    ev.preventDefault();
    (document.querySelector('#main h1') || document.getElementById('main')).focus();
    return;
  }
  if (a.getAttribute('href').startsWith('#')) return;
  ev.preventDefault();
  go(a.pathname + a.search);
});
window.addEventListener('popstate', () => render());
render();
