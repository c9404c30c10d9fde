// The browser test of the nbpair web app, run by internal/web/browser_test.go
// (which starts the server and the simulated devices and sets the
// environment below). It drives Debian's Chromium through playwright-core,
// checks each step through the page and through the API, writes a
// screenshot of each step, and ends with "N passed, N failed".
//
// Environment: NBPAIR_URL, NBPAIR_ADMIN_TOKEN, NBPAIR_VIEWPORT (WxH),
// NBPAIR_SCREENSHOTS (a directory), NBPAIR_CHROMIUM, NBPAIR_USER (a new
// username), NBPAIR_OTHER_USER (an existing user who owns the device of
// NBPAIR_LABEL_TAKEN), NBPAIR_LABEL_FREE (label PNG of a powered-on device
// nobody owns), NBPAIR_LABEL_ASLEEP_TEXT (label text of a device that is
// switched off), NBPAIR_FREE_ID and NBPAIR_LABEL_FREE_TEXT (the free
// device's ID and label text), NBPAIR_BATCH_IMEIS (two new IMEIs).

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set; run this through go test ./internal/web -run TestBrowser`);
  return v;
};
const base = env('NBPAIR_URL');
const adminToken = env('NBPAIR_ADMIN_TOKEN');
const [width, height] = env('NBPAIR_VIEWPORT').split('x').map(Number);
const shots = env('NBPAIR_SCREENSHOTS');
const username = env('NBPAIR_USER');
const other = env('NBPAIR_OTHER_USER');
const labelFree = env('NBPAIR_LABEL_FREE');
const labelTaken = env('NBPAIR_LABEL_TAKEN');
const asleepText = env('NBPAIR_LABEL_ASLEEP_TEXT');
const freeID = env('NBPAIR_FREE_ID');
const freeText = env('NBPAIR_LABEL_FREE_TEXT');
const batchIMEIs = env('NBPAIR_BATCH_IMEIS').split(',');
const liveIMEI = env('NBPAIR_LIVE_IMEI');
const password = 'correct horse battery';
mkdirSync(shots, { recursive: true });

let passed = 0;
let failed = 0;
let shotNo = 0;

// api calls the HTTP API directly, to check what the page claims.
async function api(method, path, token, body) {
  const headers = token ? { Authorization: 'Bearer ' + token } : {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

const browser = await chromium.launch({
  executablePath: env('NBPAIR_CHROMIUM'),
  headless: true,
  // A fresh profile in a temporary directory is launch()'s own; the flags
  // keep Chromium off the network it has no business with.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
const context = await browser.newContext({ viewport: { width, height }, acceptDownloads: true });
context.setDefaultTimeout(30_000);
const page = await context.newPage();
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));
// Refused API calls are logged by Chromium as "Failed to load resource";
// they are expected (the page shows them). Anything else is a fault.
page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text()); });

// step runs one named step, screenshots the page after it, and counts it.
async function step(name, fn) {
  const shot = join(shots, `${String(++shotNo).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`);
  try {
    await fn();
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`ok   ${shotNo} ${name}`);
    passed++;
  } catch (err) {
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.log(`FAIL ${shotNo} ${name}: ${err.stack || err}`);
    failed++;
    throw err;
  }
}

// screen checks what every screen must be: its heading has the focus (so
// screen readers and keyboards start there), every control has a label,
// nothing is wider than the viewport, and no script error happened.
async function screen(title) {
  await page.getByRole('heading', { level: 1, name: title }).waitFor();
  // A screen moves the focus to its heading once it is shown (a form that
  // stays on its screen shows it again).
  await page.waitForFunction(() => document.activeElement?.tagName === 'H1', null, { timeout: 10_000 }).catch(() => {});
  const facts = await page.evaluate(() => ({
    focused: document.activeElement?.tagName,
    unlabelled: [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.type !== 'hidden' && !el.labels?.length && !el.getAttribute('aria-label')).map((el) => el.outerHTML),
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  }));
  assert.equal(facts.focused, 'H1', `the focus is on the ${title} heading`);
  assert.deepEqual(facts.unlabelled, [], 'every control has a label');
  assert.ok(facts.overflow <= 0, `the page is ${facts.overflow} px wider than the ${width} px viewport`);
  assert.deepEqual(pageErrors, [], 'no script errors');
  await noNullInAlerts();
}

// noNullInAlerts checks that no alert or field error shows a "null" or an
// "undefined" where words should be.
async function noNullInAlerts() {
  const texts = await page.locator('[role=alert], .field-error').allInnerTexts();
  for (const t of texts) assert.doesNotMatch(t, /\bnull\b|\bundefined\b|\[object /, `an error box says ${JSON.stringify(t)}`);
}

// refused submits a form (by pressing the button named button) and checks
// that it says what is wrong, in the form's alert and, for a client-side
// check, under the field.
async function refused(button, message, { scope = page } = {}) {
  await scope.getByRole('button', { name: button, exact: true }).click();
  const alert = scope.getByRole('alert').filter({ hasText: message });
  await alert.waitFor();
  await noNullInAlerts();
  return alert;
}

async function sessionToken() {
  return page.evaluate(() => JSON.parse(localStorage.getItem('nbpair.session')).token);
}

const long65 = 'x'.repeat(65);

try {
  await step('a visitor is sent to log in', async () => {
    await page.goto(base + '/');
    await page.waitForURL('**/login?next=%2F');
    await screen('Log in');
  });

  await step('log in refuses bad input', async () => {
    await refused('Log in', 'Enter a username.');
    await page.getByLabel('Username').fill(other);
    await refused('Log in', 'Enter a password.');
    await page.getByLabel('Password').fill('not their password');
    await refused('Log in', 'Wrong username or password.');
    assert.equal(await page.evaluate(() => localStorage.getItem('nbpair.session')), null, 'no session was kept');
    await page.getByRole('link', { name: 'Sign up' }).last().click();
    await screen('Sign up');
  });

  await step('sign up refuses bad input', async () => {
    const user = page.getByLabel('Username');
    const pw = page.getByLabel('Password');
    await refused('Sign up', 'Enter a username.');
    assert.equal(await user.getAttribute('aria-invalid'), 'true');
    await user.fill('u'.repeat(65));
    await pw.fill(password);
    await refused('Sign up', 'it must have 3 to 64');
    await user.fill(username);
    await pw.fill('short');
    await refused('Sign up', 'at least 8 characters');
    await user.fill(other); // taken: the server says so
    await pw.fill(password);
    await refused('Sign up', 'That is taken.');
    // Nothing was created: the new username cannot log in.
    for (const u of [username, 'u'.repeat(65)]) {
      assert.equal((await api('POST', '/v1/sessions', '', { username: u, password })).body.code, 4010);
    }
    assert.equal(new URL(page.url()).pathname, '/signup');
  });

  await step('sign up', async () => {
    // One request signs up and logs in: the answer carries the session.
    const posts = [];
    const seen = (req) => { if (req.method() === 'POST') posts.push(new URL(req.url()).pathname); };
    page.on('request', seen);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await screen('Your homes');
    await page.getByText('You have no home yet').waitFor();
    page.off('request', seen);
    assert.deepEqual(posts.filter((p) => p.startsWith('/v1/users') || p.startsWith('/v1/sessions')), ['/v1/users'],
      'sign-up is one request, with no separate login');
  });

  let token = await sessionToken();
  const homes = async () => (await api('GET', '/v1/homes', token)).body.homes;

  await step('create home refuses bad input', async () => {
    await refused('Create home', 'Enter a name.');
    await page.getByLabel('Name of the new home').fill(long65);
    await refused('Create home', 'at most 64');
    assert.equal((await homes()).length, 0, 'no home was created');
  });

  let homeID;
  await step('create a home', async () => {
    await page.getByLabel('Name of the new home').fill('Flat');
    await page.getByRole('button', { name: 'Create home' }).click();
    await screen('Flat');
    const hs = await homes();
    assert.equal(hs.length, 1);
    homeID = hs[0].id;
    assert.equal(new URL(page.url()).pathname, `/homes/${homeID}`);
    await page.getByText('No devices yet.').waitFor();
  });

  await step('rename home refuses bad input, then renames', async () => {
    const name = page.getByLabel('New name');
    await name.fill('');
    await refused('Rename home', 'Enter a name.');
    await name.fill(long65);
    await refused('Rename home', 'at most 64');
    assert.equal((await homes())[0].name, 'Flat', 'the name did not change');
    await name.fill('Flat 1');
    await page.getByRole('button', { name: 'Rename home' }).click();
    await screen('Flat 1');
    assert.equal((await homes())[0].name, 'Flat 1');
  });

  await step('add member refuses bad input, then adds', async () => {
    const members = async () => (await api('GET', `/v1/homes/${homeID}/members`, token)).body.members;
    const name = page.getByLabel('Username of the new member');
    await refused('Add member', 'Enter a username.');
    await name.fill(long65);
    await refused('Add member', '3 to 64');
    await name.fill('nobody-has-this-name');
    await refused('Add member', 'No user has this username');
    assert.equal((await members()).length, 1, 'only the owner is a member');
    await name.fill(other);
    await page.getByLabel('Role').selectOption('member');
    await page.getByRole('button', { name: 'Add member' }).click();
    await screen('Flat 1');
    await page.getByRole('listitem').filter({ hasText: other }).waitFor();
    assert.equal((await members()).length, 2);
  });

  const homeDevices = async () => (await api('GET', `/v1/homes/${homeID}/devices`, token)).body.devices;

  await step('open add a device', async () => {
    await page.getByRole('link', { name: 'Add a device' }).click();
    await screen('Add a device to Flat 1');
  });

  await step('label text refuses bad input', async () => {
    const text = page.getByLabel('Or type or paste the label text');
    await refused('Pair', 'Enter the label text.');
    await text.fill('h'.repeat(3000));
    await refused('Pair', 'a label has at most 2048');
    await text.fill('hello, not a label');
    await refused('Pair', 'This is not a device label of this service.');
    await text.fill('');
  });

  await step('label image refuses bad files', async () => {
    const upload = page.getByLabel('Or upload a picture of the label');
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    await upload.setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('just some text') });
    await page.getByRole('alert').filter({ hasText: '"notes.txt" is not a PNG, JPEG or GIF picture.' }).waitFor();
    await upload.setInputFiles({ name: 'empty.png', mimeType: 'image/png', buffer: Buffer.alloc(0) });
    await page.getByRole('alert').filter({ hasText: 'The file is empty.' }).waitFor();
    await upload.setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: Buffer.concat([png, Buffer.alloc(11 << 20)]) }, { timeout: 120_000 });
    await page.getByRole('alert').filter({ hasText: 'the limit is 10 MiB' }).waitFor();
    // A picture in name only: the server refuses it and the page says why.
    await upload.setInputFiles({ name: 'broken.png', mimeType: 'image/png', buffer: Buffer.concat([png, Buffer.from('garbage')]) });
    await page.getByRole('alert').filter({ hasText: 'The file is not a picture that can be read.' }).waitFor();
    assert.equal((await homeDevices()).length, 0, 'no device was added');
  });

  await step('the camera is a real button with an icon', async () => {
    const button = page.locator('label.button', { hasText: 'Take a photo of the label' });
    await button.waitFor();
    assert.equal(await button.locator('svg').count(), 1, 'it has an icon');
    const box = await button.boundingBox();
    assert.ok(box.height >= 44 && box.width >= 200, `the button is ${box.width}x${box.height} px`);
    const input = page.getByLabel('Take a photo of the label');
    assert.equal(await input.getAttribute('capture'), 'environment', 'it opens the rear camera');
    await input.focus(); // keyboard users reach it with Tab
    assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector('.field.camera label.button')).outlineStyle), 'solid', 'the focus shows on the button');
  });

  await step('a device bound to someone else is refused in words', async () => {
    await page.getByLabel('Take a photo of the label').setInputFiles(labelTaken);
    const alert = page.getByRole('alert').filter({ hasText: 'This device is already bound to another account.' });
    await alert.waitFor();
    await alert.getByText('Ask its owner to remove it, or reset the device').waitFor();
    assert.equal((await homeDevices()).length, 0, 'no device was added');
  });

  await step('pairing a switched-off device shows progress and can be cancelled', async () => {
    await page.getByLabel('Or type or paste the label text').fill(asleepText);
    await page.getByRole('button', { name: 'Pair', exact: true }).click();
    await page.getByRole('heading', { name: /Pairing/ }).waitFor();
    await page.getByText(/^\d:\d\d left$/).waitFor();
    const id = await page.locator('[data-activation-id]').getAttribute('data-activation-id');
    assert.equal((await api('GET', `/v1/activations/${id}`, token)).body.status, 'pending');
    await page.screenshot({ path: join(shots, `${String(shotNo).padStart(2, '0')}b-progress.png`), fullPage: true });
    // A reload does not lose it: the screen finds the running activation
    // and shows it again, with its countdown and Cancel.
    await page.reload();
    await page.getByRole('heading', { name: /Pairing/ }).waitFor();
    await page.getByText('This pairing was started before; it is still running.').waitFor();
    await page.getByText(/^\d:\d\d left$/).waitFor();
    assert.equal(await page.locator('[data-activation-id]').getAttribute('data-activation-id'), id, 'the same activation is shown');
    assert.equal((await api('GET', '/v1/activations', token)).body.activations.length, 1, 'one activation runs');
    await noNullInAlerts();
    await page.screenshot({ path: join(shots, `${String(shotNo).padStart(2, '0')}c-after-reload.png`), fullPage: true });
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('heading', { name: 'Pairing cancelled' }).waitFor();
    assert.equal((await api('GET', `/v1/activations/${id}`, token)).body.status, 'stopped', 'the activation was stopped');
    await page.getByRole('button', { name: 'Try again' }).click();
  });

  await step('pair a powered-on device from a photo of its label', async () => {
    await page.getByLabel('Take a photo of the label').setInputFiles(labelFree);
    await page.getByRole('heading', { name: 'Paired' }).waitFor();
    await page.getByText('is now in your home').waitFor();
    const ds = await homeDevices();
    assert.equal(ds.length, 1);
    assert.equal(ds[0].devId, freeID);
  });

  await step('the device list shows it online', async () => {
    await page.getByRole('link', { name: 'Back to the home' }).click();
    await screen('Flat 1');
    const card = page.locator(`[data-device-id="${freeID}"]`);
    await card.getByText('Online', { exact: true }).waitFor();
    await card.getByText('Last seen').waitFor();
    await card.getByText('Added').waitFor();
  });

  await step('rename device refuses bad input, then renames', async () => {
    await page.locator(`[data-device-id="${freeID}"] a`).click();
    await page.getByRole('heading', { level: 1 }).waitFor();
    const device = async () => (await api('GET', `/v1/devices/${freeID}`, token)).body;
    const before = (await device()).name;
    await screen(before || /./);
    const name = page.getByLabel('New name');
    await name.fill('');
    await refused('Rename device', 'Enter a name.');
    await name.fill(long65);
    await refused('Rename device', 'at most 64');
    assert.equal((await device()).name, before, 'the name did not change');
    await name.fill('Water meter');
    await page.getByRole('button', { name: 'Rename device' }).click();
    await screen('Water meter');
    assert.equal((await device()).name, 'Water meter');
  });

  await step('remove the device', async () => {
    await page.getByRole('button', { name: 'Remove device' }).click();
    await page.getByRole('button', { name: 'Yes, remove it' }).click();
    await screen('Flat 1');
    await page.getByText('No devices yet.').waitFor();
    assert.equal((await homeDevices()).length, 0);
  });

  await step("a label's own link, as a phone's camera app opens it, pairs the device once the user presses Pair", async () => {
    await page.goto(freeText);
    // The only home is taken and the label text filled in, but nothing
    // starts before the user says so: a link anyone can send must not pair.
    await page.getByRole('heading', { level: 1, name: 'Add a device to Flat 1' }).waitFor();
    assert.equal(await page.getByLabel('Or type or paste the label text').inputValue(), freeText);
    await page.waitForTimeout(300);
    assert.equal((await homeDevices()).length, 0, 'opening the link alone pairs nothing');
    await page.getByRole('button', { name: 'Pair', exact: true }).click();
    // The focus follows the pairing's own heading.
    await page.getByRole('heading', { name: 'Paired' }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Paired');
    assert.deepEqual(pageErrors, [], 'no script errors');
    assert.deepEqual((await homeDevices()).map((d) => d.devId), [freeID]);
  });

  await step('keyboard only: links, buttons and the skip link work without a mouse', async () => {
    await page.goto(base + '/');
    await screen('Your homes');
    // From the heading, Tab reaches the home's link; Enter follows it.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Flat 1');
    await page.keyboard.press('Enter');
    await screen('Flat 1');
    // Backwards to the skip link, which takes the focus to the content.
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press('Shift+Tab');
      if (await page.evaluate(() => document.activeElement.textContent) === 'Skip to content') break;
    }
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Flat 1', 'the skip link leads to the heading');
  });

  await step('admin: a wrong token is refused', async () => {
    await page.goto(base + '/admin');
    await screen('Admin');
    await refused('Continue', 'Enter the admin token.');
    await page.getByLabel('Admin token').fill('not-the-token');
    await refused('Continue', 'This admin token is not valid.');
    await page.getByLabel('Admin token').fill(adminToken);
    await page.getByRole('button', { name: 'Continue' }).click();
    await screen('Dashboard');
  });

  const tile = async (key) => Number((await page.locator(`.tile[data-series="${key}"] dd`).innerText()).replace(/[^0-9]/g, ''));

  await step('admin: the dashboard counts a device that registers, live', async () => {
    await page.getByText(/^Live: updated at/).waitFor();
    // The flow started three activations and paired two devices; the
    // counters are read every 5 s.
    const atLeast = (key, n) => page.waitForFunction(([k, n]) =>
      Number(document.querySelector(`.tile[data-series="${k}"] dd`)?.textContent.replace(/[^0-9]/g, '')) >= n, [key, n], { timeout: 15_000 })
      .catch(async () => assert.fail(`the dashboard shows ${await tile(key)} ${key}, want at least ${n}`));
    await atLeast('paired', 2);
    await atLeast('started', 3);
    const registers = await tile('registers');
    const online = await tile('online');
    assert.equal(await page.locator('figure.chart svg polyline').count(), 9, 'the charts are drawn');
    console.log('@@power-on'); // the Go test powers the live device on
    await page.waitForFunction(([n]) => Number(document.querySelector('.tile[data-series="registers"] dd').textContent.replace(/[^0-9]/g, '')) > n,
      [registers], { timeout: 30_000 });
    await page.waitForFunction(([n]) => Number(document.querySelector('.tile[data-series="online"] dd').textContent.replace(/[^0-9]/g, '')) > n,
      [online], { timeout: 30_000 });
    await page.getByRole('button', { name: 'Last day' }).click();
    await page.getByText('Devices online (the last day, per 10 minutes)').waitFor();
    await page.getByRole('button', { name: 'Last hour' }).click();
    const failedRow = page.locator('tr[data-series="already-bound"] td');
    assert.equal(await failedRow.first().innerText(), '3711', 'failures are shown by code');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the dashboard is ${overflow} px wider than the ${width} px viewport`);
    assert.deepEqual(pageErrors, [], 'no script errors');
    await noNullInAlerts();
  });

  await step('admin: devices, most recently seen first, and the search', async () => {
    await page.getByRole('link', { name: 'Devices', exact: true }).click();
    await screen('Devices');
    const first = page.locator('tbody tr').first();
    await first.getByText(liveIMEI).waitFor(); // it registered last
    await page.getByLabel('Search').fill(freeID.toUpperCase());
    await page.getByRole('button', { name: 'Show' }).click();
    await screen('Devices');
    await page.waitForURL(/q=/);
    assert.equal(await page.locator('tbody tr').count(), 1, 'one device has that ID');
    await page.getByRole('row').filter({ hasText: freeID }).waitFor();
    await page.getByLabel('Search').fill('no such device');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByText('No device matches "no such device".').waitFor();
    await page.getByLabel('Search').fill(long65);
    await refused('Show', 'A search has at most 64 characters.');
    await page.getByLabel('Search').fill(liveIMEI.slice(0, 14));
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByRole('row').filter({ hasText: liveIMEI }).waitFor();
    await page.getByLabel('Search').fill('');
    await page.getByRole('button', { name: 'Show' }).click();
    await screen('Devices');
  });

  await step('admin: devices with their registration', async () => {
    const row = page.getByRole('row').filter({ hasText: freeID });
    await row.getByText('registered, online').waitFor();
    await row.getByText(/^bound /).waitFor();
  });

  await step('admin: a device with its registration, queued downlinks and history', async () => {
    await page.getByRole('row').filter({ hasText: freeID }).getByRole('link').click();
    await page.getByRole('heading', { name: 'Registration' }).waitFor();
    await screen(/./);
    await page.getByText('registered, online').waitFor();
    await page.locator('.table-wrap[aria-label^="Queued downlinks"]').waitFor();
    const history = page.locator('.table-wrap[aria-label^="History"]');
    await history.getByRole('cell', { name: 'bind', exact: true }).first().waitFor();
    const want = (await api('GET', `/v1/admin/audit?deviceId=${freeID}`, adminToken)).body.total;
    assert.equal(Number(await page.locator('[data-total]').getAttribute('data-total')), want, 'its history is the audit log\'s');
  });

  const batches = async () => (await api('GET', '/v1/admin/batches', adminToken)).body.batches;
  const product = `p${width}`;

  await step('admin: products', async () => {
    await page.getByRole('link', { name: 'Products' }).click();
    await screen('Products');
    await refused('Create product', 'Enter a product ID.');
    await page.getByLabel('Product ID').fill('Bad ID!');
    await page.getByLabel('Name', { exact: true }).fill('Meter');
    await refused('Create product', 'small letters a-z');
    await page.getByLabel('Product ID').fill(product);
    await page.getByRole('button', { name: 'Create product' }).click();
    await page.getByRole('cell', { name: product, exact: true }).waitFor();
  });

  await step('admin: batch upload refuses bad files', async () => {
    await page.getByRole('link', { name: 'Batches' }).click();
    await screen('Batches');
    const before = (await batches()).length;
    const file = page.getByLabel('CSV file');
    await refused('Upload', 'Choose a CSV file.');
    await file.setInputFiles({ name: 'empty.csv', mimeType: 'text/csv', buffer: Buffer.alloc(0) });
    await refused('Upload', '"empty.csv" is empty.');
    await file.setInputFiles(labelFree);
    await refused('Upload', 'is not a CSV file.');
    await file.setInputFiles({ name: 'huge.csv', mimeType: 'text/csv', buffer: Buffer.alloc((1 << 20) + 1, 'a') });
    await refused('Upload', 'the limit is 1 MiB');
    await file.setInputFiles({ name: 'rows.csv', mimeType: 'text/csv', buffer: Buffer.from('imei,serial\n12345,s1\n') });
    const alert = await refused('Upload', 'nothing was imported');
    await alert.getByText(/line 2: imei "12345"/i).waitFor();
    assert.equal((await batches()).length, before, 'no batch was created');
  });

  await step('admin: import a batch and download its files', async () => {
    await page.getByLabel('Product', { exact: true }).selectOption(product);
    await page.getByLabel('CSV file').setInputFiles({
      name: 'batch.csv', mimeType: 'text/csv', buffer: Buffer.from(`imei,serial\n${batchIMEIs[0]},SN-1\n${batchIMEIs[1]},SN-2\n`),
    });
    await page.getByRole('button', { name: 'Upload' }).click();
    await screen(/^Batch /);
    await page.getByText('Provisioned by this batch').waitFor();
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the factory CSV' }).click()]);
    const text = readFileSync(await csv.path(), 'utf8');
    assert.match(text, /^imei,serial,pskIdentity,psk,id,nbId,qr\n/);
    assert.ok(text.includes(batchIMEIs[0]) && text.includes(batchIMEIs[1]));
    await page.getByLabel('Label sheet').fill('2'); // two labels fill one sheet
    await page.getByRole('button', { name: 'Download the label sheet' }).click();
    await page.getByRole('alert').filter({ hasText: 'page must be a number from 1 to 1' }).waitFor();
    await page.getByLabel('Label sheet').fill('1');
    const [png] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the label sheet' }).click()]);
    assert.deepEqual([...readFileSync(await png.path()).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    await page.getByRole('alert').filter({ hasText: 'Downloaded the label sheet' }).waitFor();
  });

  await step('admin: the audit log with filters', async () => {
    await page.getByRole('link', { name: 'Audit log' }).click();
    await screen('Audit log');
    await page.getByLabel('Action').selectOption('bind');
    await page.getByLabel('Outcome').selectOption('refused');
    await page.getByRole('button', { name: 'Filter' }).click();
    await screen('Audit log');
    const want = (await api('GET', '/v1/admin/audit?action=bind&outcome=refused', adminToken)).body.total;
    assert.ok(want >= 1, 'the refused bind of the taken device is in the log');
    assert.equal(Number(await page.locator('[data-total]').getAttribute('data-total')), want);
    const region = page.locator('.table-wrap[aria-label^="Audit log"]');
    const fits = await region.evaluate((el) => el.scrollWidth <= el.clientWidth + 1);
    if (width >= 1280) {
      assert.ok(fits, 'the audit log fits a desktop screen');
    } else {
      assert.ok(!fits, 'the audit log is wider than a phone');
      await page.getByText('Scroll sideways to see every column →').waitFor();
      assert.equal(await region.getAttribute('aria-label'), 'Audit log (scrolls sideways)');
      await region.focus(); // the keyboard scrolls it
      await page.keyboard.press('ArrowRight');
      await page.waitForFunction(() => document.activeElement.scrollLeft > 0);
    }
    const rows = page.locator('tbody tr');
    for (let i = 0; i < await rows.count(); i++) {
      const cells = await rows.nth(i).locator('td').allTextContents();
      assert.deepEqual(cells.slice(1, 3), ['bind', 'refused']);
    }
  });

  await step('log out, by keyboard', async () => {
    await page.goto(base + '/');
    await screen('Your homes');
    await page.keyboard.press('Shift+Tab'); // from the heading back to the header's last control
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Log out');
    await page.keyboard.press('Enter');
    await screen('Log in');
    assert.equal((await api('GET', '/v1/homes', token)).status, 401, 'the session is revoked');
  });
} catch {
  // counted and printed by step
} finally {
  await browser.close();
}
console.log(`screenshots in ${shots}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
