// The browser test of the admin actions on a device, run by
// internal/web/device_admin_browser_test.go: on the device's admin page it
// blocks the device (with a reason) and unblocks it, unbinds it from its
// owner (cancelling the confirm step once, then confirming) and
// deprovisions it; each step is checked through the page and the API, with
// a screenshot. Ends with "N passed, N failed".
//
// Environment: NBPAIR_URL, NBPAIR_ADMIN_TOKEN, NBPAIR_CHROMIUM,
// NBPAIR_SCREENSHOTS (a directory), NBPAIR_DEVICE_ID (a registered device
// bound to someone).

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set; run this through go test ./internal/web -run TestBrowserDeviceAdmin`);
  return v;
};
const base = env('NBPAIR_URL');
const adminToken = env('NBPAIR_ADMIN_TOKEN');
const shots = env('NBPAIR_SCREENSHOTS');
const id = env('NBPAIR_DEVICE_ID');
mkdirSync(shots, { recursive: true });

async function api(method, path) {
  const r = await fetch(base + path, { method, headers: { Authorization: 'Bearer ' + adminToken } });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

const browser = await chromium.launch({
  executablePath: env('NBPAIR_CHROMIUM'), headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
page.setDefaultTimeout(30_000);
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));

let passed = 0;
let failed = 0;
let n = 0;
async function step(name, fn) {
  const shot = join(shots, `${String(++n).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`);
  try {
    await fn();
    assert.deepEqual(pageErrors, [], 'no script errors');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`ok   ${n} ${name}`);
    passed++;
  } catch (err) {
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.log(`FAIL ${n} ${name}: ${err.stack || err}`);
    failed++;
    throw err;
  }
}

const devicePage = async () => {
  await page.goto(`${base}/admin/devices/${id}`);
  await page.getByRole('heading', { name: 'Actions' }).waitFor();
};

try {
  await step('open the admin area', async () => {
    await page.goto(base + '/admin');
    await page.getByLabel('Admin token').fill(adminToken);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  });

  await step('block the device with a reason', async () => {
    await devicePage();
    await page.getByText('not blocked', { exact: true }).waitFor();
    await page.getByLabel('Reason (optional)').fill('reported stolen');
    await page.getByRole('button', { name: 'Block device' }).click();
    const fact = page.locator('dd', { hasText: /^blocked since / });
    await fact.waitFor();
    assert.match(await fact.innerText(), /^blocked since just now \(reported stolen\)$/, 'the block in the facts');
    const d = (await api('GET', `/v1/admin/devices/${id}`)).body;
    assert.equal(d.blocked?.reason, 'reported stolen', 'the API shows the block');
    assert.equal(d.online, false, 'the registration ended with the block');
  });

  await step('unblock the device', async () => {
    await page.getByRole('button', { name: 'Unblock device' }).click();
    await page.getByText('not blocked', { exact: true }).waitFor();
    assert.equal((await api('GET', `/v1/admin/devices/${id}`)).body.blocked, undefined, 'the API shows no block');
  });

  await step('rotate its DTLS key: shown once', async () => {
    await page.getByLabel('The old key works at most').selectOption('24h');
    await page.getByRole('button', { name: 'Rotate key' }).click();
    const psk = await page.locator('code[data-psk]').innerText();
    assert.match(psk, /^[0-9a-f]{32}$/, 'the new key is shown');
    const d = (await api('GET', `/v1/admin/devices/${id}`)).body;
    assert.ok(d.pskRotation, 'the API shows the rotation under way');
    await devicePage();
    await page.locator('dd', { hasText: /^new key given / }).waitFor();
    assert.equal(await page.locator('code[data-psk]').count(), 0, 'the key is not shown again');
  });

  await step('unbind: cancel the confirm step, then confirm', async () => {
    await page.getByRole('button', { name: 'Unbind device' }).click();
    await page.getByRole('button', { name: 'Cancel' }).first().click();
    assert.ok((await api('GET', `/v1/admin/devices/${id}`)).body.ownerUid, 'cancelled: still bound');
    await page.getByRole('button', { name: 'Unbind device' }).click();
    await page.getByRole('button', { name: 'Yes, unbind it' }).click();
    await page.locator('dd', { hasText: /^unbound$/ }).waitFor();
    assert.equal((await api('GET', `/v1/admin/devices/${id}`)).body.ownerUid, undefined, 'the API shows it unbound');
    assert.equal(await page.getByRole('button', { name: 'Unbind device' }).count(), 0, 'no unbind for an unbound device');
  });

  await step('deprovision, confirmed', async () => {
    await page.getByRole('button', { name: 'Deprovision device' }).click();
    await page.getByRole('button', { name: 'Yes, deprovision it' }).click();
    await page.getByRole('heading', { level: 1, name: 'Devices' }).waitFor();
    assert.equal((await api('GET', `/v1/admin/devices/${id}`)).status, 404, 'the device is gone');
  });
} catch {
  // counted and printed by step
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
