// Drives Debian's headless Chromium through the dashboard's Security and MFA pages with
// playwright-core: enrolling in two-factor authentication from the profile page, signing in with
// a TOTP code, reading Security → CVE (by advisory, by device, why a finding matched, an
// advisory's page), suppressing and unsuppressing a finding, and "Sync now" in Admin → Settings.
//
// Run by crates/sentari-server/tests/it/dashboard_security.rs, which starts a real server with
// seeded findings and passes everything through the environment:
//   SENTARI_URL                       base URL of the web listener
//   OWNER_EMAIL/OWNER_PASSWORD        an owner, for the feed section
//   ANALYST_EMAIL/ANALYST_PASSWORD    an analyst without MFA yet
//   VIEWER_EMAIL/VIEWER_PASSWORD      a viewer
//   SCREENSHOT_DIR                    where to save one PNG per page
//   CHROMIUM                          the browser binary (default /usr/bin/chromium)
// Like dashboard.mjs it fails on console errors, uncaught exceptions, failed requests and
// Content-Security-Policy violations on every page.

import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { check, cspViolations, fail, launch, problems, watch } from './harness.mjs';

const base = process.env.SENTARI_URL;
const shots = process.env.SCREENSHOT_DIR;
const owner = { email: process.env.OWNER_EMAIL, password: process.env.OWNER_PASSWORD };
const analyst = { email: process.env.ANALYST_EMAIL, password: process.env.ANALYST_PASSWORD };
const viewer = { email: process.env.VIEWER_EMAIL, password: process.env.VIEWER_PASSWORD };
if (!base || !shots || !owner.email || !analyst.email || !viewer.email) {
  console.error('missing environment: SENTARI_URL, SCREENSHOT_DIR, OWNER_*, ANALYST_*, VIEWER_*');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

let shotNumber = 0;

// RFC 6238 with SHA-1, 6 digits, 30-second steps: what authenticator apps compute.
function base32(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of s.replace(/=+$/, '').toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) { continue; }
    value = ((value << 5) | i) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function totp(secret, stepOffset = 0) {
  const step = Math.floor(Date.now() / 30000) + stepOffset;
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const h = createHmac('sha1', base32(secret)).update(counter).digest();
  const o = h[h.length - 1] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
}

async function noCsp(page, what) {
  const v = await cspViolations(page);
  check(v.length === 0, `${what}: CSP violations ${JSON.stringify(v)}`);
}

async function snap(page, name) {
  shotNumber += 1;
  await page.screenshot({ path: join(shots, `${String(shotNumber).padStart(2, '0')}-${name}.png`), fullPage: true });
  await noCsp(page, name);
}

async function visit(page, state, path, name, status = 200) {
  state.allowedStatus = status === 200 ? null : status;
  const resp = await page.goto(base + path, { waitUntil: 'load' });
  check(resp && resp.status() === status, `${path}: status ${resp && resp.status()}, expected ${status}`);
  await snap(page, name);
}

async function submit(page, button) {
  await Promise.all([page.waitForLoadState('load'), button.click()]);
  await page.waitForLoadState('load');
}

async function signIn(page, state, who) {
  await visit(page, state, '/login', 'login');
  await page.getByLabel('E-mail').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await submit(page, page.getByRole('button', { name: 'Sign in' }));
}

async function signOut(page) {
  await Promise.all([page.waitForURL(/\/login\?notice=signed_out/), page.getByRole('button', { name: 'Sign out' }).click()]);
}

const { context, close } = await launch();

try {
  const page = context.pages()[0] || await context.newPage();
  const state = watch(page);

  // --- The analyst enrolls in MFA from the profile page. ----------------------------------------
  await signIn(page, state, analyst);
  check(page.url() === `${base}/`, `analyst landed on ${page.url()}`);
  await visit(page, state, '/profile#mfa', 'profile-mfa-off');
  await submit(page, page.getByRole('button', { name: 'Enable two-factor authentication' }));
  check(await page.locator('figure.qr svg').isVisible(), 'no QR code');
  const secret = (await page.textContent('#mfa-secret')).trim();
  check(/^[A-Z2-7]{32}$/.test(secret), `secret looks wrong: ${secret}`);
  await snap(page, 'profile-mfa-enroll');
  await page.getByLabel('Code from the app').fill(totp(secret));
  await submit(page, page.getByRole('button', { name: 'Confirm and enable' }));
  const codes = await page.locator('#recovery-code-list li').count();
  check(codes === 10, `${codes} recovery codes shown`);
  await snap(page, 'profile-mfa-recovery-codes');
  await signOut(page);

  // --- Signing in with MFA: password, then the code (the next step: the last one is used). -----
  await page.getByLabel('E-mail').fill(analyst.email);
  await page.getByLabel('Password').fill(analyst.password);
  await submit(page, page.getByRole('button', { name: 'Sign in' }));
  check(await page.getByLabel('Authentication code').isVisible(), 'no code step after the password');
  await snap(page, 'login-mfa-step');
  await page.getByLabel('Authentication code').fill(totp(secret, 1));
  await Promise.all([page.waitForURL(`${base}/`), page.getByRole('button', { name: 'Sign in' }).click()]);

  // --- Security → CVE. -----------------------------------------------------------------------------
  await visit(page, state, '/security/cve', 'security-cve-advisories');
  check(await page.locator('#advisories a[href="/security/cve/PYSEC-T-1"]').count() === 1, 'advisory PYSEC-T-1 not listed');
  await visit(page, state, '/security/cve/PYSEC-T-1', 'security-cve-advisory');
  await visit(page, state, '/security/cve?view=device', 'security-cve-devices');
  const why = page.locator('#findings details.why').first();
  await why.locator('summary').click();
  check((await why.textContent()).includes('falls in the ECOSYSTEM range'), 'why it matched not shown');
  // Suppress the first finding on its device, with a reason and an expiry.
  const row = page.locator('#findings tbody tr').first();
  await row.locator('details.inline-details summary').click();
  await row.getByLabel('Reason').fill('browser test: accepted on this host');
  await row.getByLabel('Until (UTC, optional)').fill('2099-12-31');
  await submit(page, row.getByRole('button', { name: 'Suppress', exact: true }));
  check(page.url().includes('notice=suppressed'), `after suppressing: ${page.url()}`);
  check((await page.textContent('#suppressions')).includes('browser test: accepted on this host'), 'the rule is not listed');
  await snap(page, 'security-cve-suppressed');
  // Unsuppress through the confirm dialog.
  let asked = '';
  page.once('dialog', (d) => { asked = d.message(); d.accept(); });
  await Promise.all([
    page.waitForURL(/notice=unsuppressed/),
    page.locator('#suppressions').getByRole('button', { name: 'Unsuppress' }).first().click(),
  ]);
  check(asked.includes('Remove this suppression'), `confirm dialog said ${asked}`);
  await snap(page, 'security-cve-unsuppressed');
  await signOut(page);

  // --- A viewer reads the same page without any suppress control. ----------------------------------
  await signIn(page, state, viewer);
  await visit(page, state, '/security/cve?view=device', 'viewer-security-cve');
  check(await page.getByText('Suppress…').count() === 0, 'a viewer sees a suppress control');
  await signOut(page);

  // --- Admin → Settings: Sync now answers at once and shows the queued job. ------------------------
  await signIn(page, state, owner);
  await visit(page, state, '/admin/settings#cve-feed', 'admin-settings-feed');
  await submit(page, page.getByRole('button', { name: 'Sync now' }));
  check(/notice=sync_(queued|already)/.test(page.url()), `after Sync now: ${page.url()}`);
  check(await page.locator('#feed-jobs').count() === 1, 'no sync job shown');
  await snap(page, 'admin-settings-feed-sync');
} catch (e) {
  fail(`script error: ${e && e.stack ? e.stack : e}`);
} finally {
  await close();
}

if (problems.length > 0) {
  console.error(`${problems.length} problem(s)`);
  process.exit(1);
}
console.log('security browser test passed');
