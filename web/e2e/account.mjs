// The browser test of the account and sharing screens of the nbpair web
// app, run by internal/web/account_browser_test.go (which starts the server,
// the users and their powered-on devices, and sets the environment below).
// Each step is checked through the page and through the API, screenshotted,
// and counted; the flow ends with "N passed, N failed".
//
// Environment: NBPAIR_URL, NBPAIR_VIEWPORT (WxH), NBPAIR_SCREENSHOTS,
// NBPAIR_CHROMIUM, NBPAIR_OWNER (a user with the homes "Flat", holding the
// device NBPAIR_DEVICE_ID named Boiler, and "Old home", holding
// NBPAIR_OLD_DEVICE_ID), NBPAIR_FRIEND (a user with the home "Cabin"); both
// have the password "a long password".

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set; run this through go test ./internal/web -run TestBrowserAccount`);
  return v;
};
const base = env('NBPAIR_URL');
const [width, height] = env('NBPAIR_VIEWPORT').split('x').map(Number);
const shots = env('NBPAIR_SCREENSHOTS');
const owner = env('NBPAIR_OWNER');
const friend = env('NBPAIR_FRIEND');
const deviceID = env('NBPAIR_DEVICE_ID');
const oldDeviceID = env('NBPAIR_OLD_DEVICE_ID');
const password = 'a long password';
const newPassword = 'a new long password';
mkdirSync(shots, { recursive: true });

let passed = 0;
let failed = 0;
let shotNo = 0;

async function api(method, path, token, body) {
  const headers = token ? { Authorization: 'Bearer ' + token } : {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

async function logInAPI(username, pw) {
  const r = await api('POST', '/v1/sessions', '', { username, password: pw });
  assert.equal(r.status, 201, `${username} logs in through the API`);
  return r.body.token;
}

const browser = await chromium.launch({
  executablePath: env('NBPAIR_CHROMIUM'),
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
const pageErrors = [];

// newPage opens a page in a browser context of its own (its own
// localStorage: another browser, as far as the app can tell).
async function newPage() {
  const context = await browser.newContext({ viewport: { width, height } });
  context.setDefaultTimeout(30_000);
  const p = await context.newPage();
  p.on('pageerror', (e) => pageErrors.push(String(e)));
  p.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text()); });
  return p;
}

const page = await newPage(); // the owner's browser
const other = await newPage(); // the owner's other browser, then the friend's

async function step(name, fn, p = page) {
  const shot = join(shots, `${String(++shotNo).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`);
  try {
    await fn();
    await p.screenshot({ path: shot, fullPage: true });
    console.log(`ok   ${shotNo} ${name}`);
    passed++;
  } catch (err) {
    await p.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.log(`FAIL ${shotNo} ${name}: ${err.stack || err}`);
    failed++;
    throw err;
  }
}

// screen checks what every screen must be: the focus on its heading, every
// control labelled, nothing wider than the viewport, no script error, no
// "null" in an error box.
async function screen(title, p = page) {
  await p.getByRole('heading', { level: 1, name: title }).waitFor();
  await p.waitForFunction(() => document.activeElement?.tagName === 'H1', null, { timeout: 10_000 }).catch(() => {});
  const facts = await p.evaluate(() => ({
    focused: document.activeElement?.tagName,
    unlabelled: [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.type !== 'hidden' && !el.labels?.length && !el.getAttribute('aria-label')).map((el) => el.outerHTML),
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  }));
  assert.equal(facts.focused, 'H1', `the focus is on the ${title} heading`);
  assert.deepEqual(facts.unlabelled, [], 'every control has a label');
  assert.ok(facts.overflow <= 0, `the page is ${facts.overflow} px wider than the ${width} px viewport`);
  assert.deepEqual(pageErrors, [], 'no script errors');
  await noNullInAlerts(p);
}

async function noNullInAlerts(p = page) {
  const texts = await p.locator('[role=alert], .field-error').allInnerTexts();
  for (const t of texts) assert.doesNotMatch(t, /\bnull\b|\bundefined\b|\[object /, `an error box says ${JSON.stringify(t)}`);
}

// alertSays waits for an alert holding text and checks every alert.
async function alertSays(text, p = page) {
  await p.getByRole('alert').filter({ hasText: text }).waitFor();
  await noNullInAlerts(p);
}

async function logIn(p, username, pw) {
  await p.goto(base + '/login');
  await screen('Log in', p);
  await p.getByLabel('Username').fill(username);
  await p.getByLabel('Password').fill(pw);
  await p.getByRole('button', { name: 'Log in' }).click();
  await screen('Your homes', p);
}

const token = (p) => p.evaluate(() => JSON.parse(localStorage.getItem('nbpair.session')).token);

try {
  let sessionCount;
  let apiToken; // a third session of the owner, as another app would hold
  await step('log in twice and open the Account screen', async () => {
    await logIn(page, owner, password);
    await logIn(other, owner, password);
    apiToken = await logInAPI(owner, password);
    await page.getByRole('link', { name: `Account of ${owner}` }).click();
    await screen('Your account');
    sessionCount = (await api('GET', '/v1/sessions', apiToken)).body.sessions.length;
    assert.ok(sessionCount >= 3);
    assert.equal(await page.locator('li.session').count(), sessionCount, 'every session is listed');
    await page.getByText('This browser').waitFor();
  });

  await step('revoke a session', async () => {
    const otherToken = await token(other);
    const sessions = (await api('GET', '/v1/sessions', otherToken)).body.sessions;
    const theirs = sessions.find((s) => s.current);
    await page.locator(`li.session[data-session-id="${theirs.id}"]`).getByRole('button', { name: /^Log out the session/ }).click();
    await page.locator(`li.session[data-session-id="${theirs.id}"]`).waitFor({ state: 'detached' });
    assert.equal(await page.locator('li.session').count(), sessionCount - 1);
    assert.equal((await api('GET', '/v1/homes', otherToken)).status, 401, 'the revoked session is refused');
    await other.reload();
    await screen('Log in', other);
  });

  await step('change password refuses bad input', async () => {
    const form = page.locator('form', { has: page.getByRole('button', { name: 'Change password' }) });
    await page.getByRole('button', { name: 'Change password' }).click();
    await alertSays('Please correct the form.');
    await form.getByLabel('Current password').fill('not my password');
    await form.getByLabel('New password', { exact: true }).fill(newPassword);
    await form.getByLabel('New password again').fill(newPassword + 'x');
    await page.getByRole('button', { name: 'Change password' }).click();
    await alertSays('The two new passwords differ');
    await form.getByLabel('New password again').fill(newPassword);
    await page.getByRole('button', { name: 'Change password' }).click();
    await alertSays('The password is wrong.');
    assert.equal((await api('GET', '/v1/homes', apiToken)).status, 200, 'nothing changed');
  });

  await step('change password: the other session ends', async () => {
    const form = page.locator('form', { has: page.getByRole('button', { name: 'Change password' }) });
    await form.getByLabel('Current password').fill(password);
    await form.getByLabel('New password', { exact: true }).fill(newPassword);
    await form.getByLabel('New password again').fill(newPassword);
    await page.getByRole('button', { name: 'Change password' }).click();
    await alertSays('Your password is changed.');
    assert.equal((await api('GET', '/v1/homes', apiToken)).status, 401, 'the other session has ended');
    assert.equal((await api('GET', '/v1/homes', await token(page))).status, 200, 'this one stays');
    assert.equal(await page.locator('li.session').count(), 1);
    assert.equal((await api('POST', '/v1/sessions', '', { username: owner, password })).status, 401, 'the old password is refused');
  });

  await step('share a device read-only', async () => {
    await page.goto(base + '/devices/' + deviceID);
    await screen('Boiler');
    const form = page.locator('form', { has: page.getByRole('button', { name: 'Share', exact: true }) });
    await form.getByLabel('Username to share with').fill('nobody-here');
    await page.getByRole('button', { name: 'Share', exact: true }).click();
    await alertSays('Not found.');
    await form.getByLabel('Username to share with').fill(friend);
    await form.getByLabel('What they may do').selectOption('read');
    await page.getByRole('button', { name: 'Share', exact: true }).click();
    await screen('Boiler');
    await page.locator(`[data-share-user="${friend}"]`).getByText('looks only').waitFor();
  });

  let friendToken;
  await step('the friend sees the shared device and cannot rename it', async () => {
    await logIn(other, friend, password);
    friendToken = await token(other);
    await other.getByRole('link', { name: 'Shared', exact: true }).click();
    await screen('Shared with you', other);
    await other.getByRole('link', { name: 'Boiler' }).click();
    await screen('Boiler', other);
    await other.getByText('to look at only').waitFor();
    assert.equal(await other.getByRole('button', { name: 'Rename device' }).count(), 0, 'no rename form');
    assert.equal(await other.getByRole('button', { name: 'Remove device' }).count(), 0, 'no remove button');
    const r = await api('PATCH', '/v1/devices/' + deviceID, friendToken, { name: 'Mine' });
    assert.equal(r.body.code, 4403, 'the API refuses a rename too');
  }, other);

  await step('with control, the friend renames it', async () => {
    const ownerToken = await token(page);
    assert.equal((await api('POST', `/v1/devices/${deviceID}/shares`, ownerToken, { username: friend, access: 'control' })).status, 200);
    await other.reload();
    await screen('Boiler', other);
    await other.getByText('with control: you may rename it').waitFor();
    await other.getByLabel('New name').fill('Big boiler');
    await other.getByRole('button', { name: 'Rename device' }).click();
    await screen('Big boiler', other);
    assert.equal((await api('GET', '/v1/devices/' + deviceID, ownerToken)).body.name, 'Big boiler');
    assert.equal((await api('PATCH', '/v1/devices/' + deviceID, ownerToken, { name: 'Boiler' })).status, 200);
  }, other);

  await step('offer the device to the friend', async () => {
    await page.goto(base + '/devices/' + deviceID);
    await screen('Boiler');
    await page.getByLabel('Username of the new owner').fill(owner);
    await page.getByRole('button', { name: 'Offer the device' }).click();
    await alertSays('your own username');
    await page.getByLabel('Username of the new owner').fill(friend);
    await page.getByRole('button', { name: 'Offer the device' }).click();
    await screen('Boiler');
    await page.getByText(`Offered to ${friend}; the offer ends`).waitFor();
    await page.getByRole('button', { name: 'Withdraw the offer' }).waitFor();
  });

  await step('the friend accepts the offer into a home', async () => {
    await other.goto(base + '/shared');
    await screen('Shared with you', other);
    await other.getByLabel('Home for Boiler').selectOption({ label: 'Cabin' });
    await other.getByRole('button', { name: 'Accept' }).click();
    await screen('Cabin', other);
    await other.locator(`[data-device-id="${deviceID}"]`).waitFor();
    const d = (await api('GET', '/v1/devices/' + deviceID, friendToken)).body;
    const cabin = (await api('GET', '/v1/homes', friendToken)).body.homes.find((x) => x.name === 'Cabin');
    assert.equal(d.spaceId, cabin.id, 'the device moved to the friend\'s home');
    assert.equal((await api('GET', '/v1/devices/' + deviceID, await token(page))).status, 404, 'the owner no longer has it');
  }, other);

  await step('decline an offer, and withdraw one', async () => {
    // The friend offers the device back; the owner declines it.
    let r = await api('POST', `/v1/devices/${deviceID}/transfers`, friendToken, { username: owner });
    assert.equal(r.status, 201);
    await page.goto(base + '/shared');
    await screen('Shared with you');
    await page.getByRole('heading', { name: 'Offered to you (1)' }).waitFor();
    await page.getByText('Nobody shares a device with you.').waitFor(); // the share ended with the transfer
    await page.getByRole('button', { name: 'Decline Boiler' }).click();
    await page.getByRole('heading', { name: 'Offered to you (0)' }).waitFor();
    assert.equal((await api('GET', `/v1/transfers/${r.body.id}`, friendToken)).body.status, 'declined');
    // Offered again, the friend withdraws it from their own list.
    r = await api('POST', `/v1/devices/${deviceID}/transfers`, friendToken, { username: owner });
    await other.goto(base + '/shared');
    await screen('Shared with you', other);
    await other.getByRole('button', { name: 'Withdraw the offer of Boiler' }).click();
    await other.getByRole('heading', { name: 'Your offers' }).waitFor({ state: 'detached' });
    assert.equal((await api('GET', `/v1/transfers/${r.body.id}`, friendToken)).body.status, 'cancelled');
  });

  await step('delete a home', async () => {
    await page.goto(base + '/');
    await screen('Your homes');
    await page.getByRole('link', { name: 'Old home' }).click();
    await screen('Old home');
    await page.getByRole('button', { name: 'Delete home…' }).click();
    await page.getByText('Its device is unbound from your account').waitFor();
    await page.getByRole('button', { name: 'Keep it' }).click();
    await page.getByRole('button', { name: 'Delete home…' }).click();
    await page.getByRole('button', { name: 'Yes, delete this home' }).click();
    await screen('Your homes');
    assert.equal(await page.getByRole('link', { name: 'Old home' }).count(), 0);
    const homes = (await api('GET', '/v1/homes', await token(page))).body.homes;
    assert.deepEqual(homes.map((x) => x.name), ['Flat']);
    assert.equal((await api('GET', '/v1/devices/' + oldDeviceID, await token(page))).status, 404, 'its device is unbound');
  });

  await step('delete the account', async () => {
    const ownerToken = await token(page);
    await page.getByRole('link', { name: `Account of ${owner}` }).click();
    await screen('Your account');
    await page.getByRole('button', { name: 'Delete account…' }).click();
    await page.getByText('Your home (Flat) is deleted').waitFor();
    await page.getByRole('button', { name: 'Delete my account for good' }).click();
    await alertSays('Please correct the form.');
    await page.getByLabel('Your password', { exact: true }).fill(password); // the old one
    await page.getByRole('button', { name: 'Delete my account for good' }).click();
    await alertSays('The password is wrong.');
    assert.equal((await api('GET', '/v1/homes', ownerToken)).status, 200, 'nothing was deleted');
    await page.getByLabel('Your password', { exact: true }).fill(newPassword);
    await page.getByRole('button', { name: 'Delete my account for good' }).click();
    await screen('Log in');
    assert.equal(await page.evaluate(() => localStorage.getItem('nbpair.session')), null, 'the session is forgotten');
    assert.equal((await api('POST', '/v1/sessions', '', { username: owner, password: newPassword })).status, 401, 'the account is gone');
    assert.equal((await api('GET', '/v1/devices/' + deviceID, friendToken)).status, 200, 'the transferred device stays with the friend');
  });
} catch {
  // counted and printed by step
} finally {
  await browser.close();
}
console.log(`screenshots in ${shots}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
