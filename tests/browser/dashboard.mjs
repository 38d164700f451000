// Drives Debian's headless Chromium through the Sentari dashboard with playwright-core.
//
// Run by crates/sentari-server/tests/browser.rs, which starts a real server with seeded users and
// a failed job and passes everything through the environment:
//   SENTARI_URL         base URL of the web listener (http://127.0.0.1:PORT)
//   OWNER_EMAIL/OWNER_PASSWORD, VIEWER_EMAIL/VIEWER_PASSWORD
//   FAILED_JOB_ERROR    the error text of the seeded dead job
//   DEVICE_ID           a seeded device (its detail page is one of the pages visited)
//   SCREENSHOT_DIR      where to save one PNG per page
//   CHROMIUM            the browser binary (default /usr/bin/chromium)
// On any failure it prints what went wrong and exits non-zero. Every page is checked for console
// errors, uncaught exceptions, failed requests and Content-Security-Policy violations.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { check, cspViolations, fail, launch, problems, watch } from './harness.mjs';

const base = process.env.SENTARI_URL;
const shots = process.env.SCREENSHOT_DIR;
const owner = { email: process.env.OWNER_EMAIL, password: process.env.OWNER_PASSWORD };
const viewer = { email: process.env.VIEWER_EMAIL, password: process.env.VIEWER_PASSWORD };
const failedJobError = process.env.FAILED_JOB_ERROR;
if (!base || !shots || !owner.email || !viewer.email || !failedJobError) {
  console.error('missing environment: SENTARI_URL, SCREENSHOT_DIR, OWNER_*, VIEWER_*, FAILED_JOB_ERROR');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const visited = [];
let shotNumber = 0;

async function visit(page, state, path, name, { status = 200, fullPage = true } = {}) {
  state.allowedStatus = status === 200 ? null : status;
  const resp = await page.goto(base + path, { waitUntil: 'load' });
  check(resp && resp.status() === status, `${path}: status ${resp && resp.status()}, expected ${status}`);
  await snap(page, name, fullPage);
  const csp = await cspViolations(page);
  check(csp.length === 0, `${path}: CSP violations ${JSON.stringify(csp)}`);
  visited.push(path);
  return resp;
}

async function snap(page, name, fullPage = true) {
  shotNumber += 1;
  const file = join(shots, `${String(shotNumber).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage });
}

async function signIn(page, state, who) {
  await visit(page, state, '/login', 'login');
  await page.getByLabel('E-mail').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await Promise.all([page.waitForURL(`${base}/`), page.getByRole('button', { name: 'Sign in' }).click()]);
}

const { context, close } = await launch();

try {
  const page = context.pages()[0] || await context.newPage();
  const state = watch(page);

  // --- Signing in: a wrong password first, then the owner. ------------------------------------
  await visit(page, state, '/admin/tasks', 'login-redirect');
  check(page.url().startsWith(`${base}/login?next=`), `anonymous visit not sent to login: ${page.url()}`);
  await page.getByLabel('E-mail').fill(owner.email);
  await page.getByLabel('Password').fill('Not-The-Password-1!');
  state.allowedStatus = 401;
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Sign in' }).click()]);
  await page.waitForSelector('#login-error');
  check((await page.textContent('#login-error')).includes('Invalid e-mail or password.'), 'no clear error for a wrong password');
  await snap(page, 'login-error');
  state.allowedStatus = null;
  await page.getByLabel('Password').fill(owner.password);
  await Promise.all([page.waitForURL(/\/admin\/tasks/), page.getByRole('button', { name: 'Sign in' }).click()]);
  check(page.url().endsWith('/admin/tasks'), `after sign-in landed on ${page.url()}`);

  // --- Every page, as the owner. ----------------------------------------------------------------
  const pages = [
    ['/', 'overview-root'],
    ['/fleet/overview', 'fleet-overview'],
    ['/fleet/devices', 'fleet-devices'],
    [`/fleet/devices/${process.env.DEVICE_ID}`, 'fleet-device'],
    ['/fleet/packages', 'fleet-packages'],
    ['/fleet/runtime', 'fleet-runtime'],
    ['/fleet/scans', 'fleet-scans'],
    ['/fleet/diagnostics', 'fleet-diagnostics'],
    ['/security/cve', 'security-cve'],
    ['/admin/settings', 'admin-settings'],
    ['/admin/tasks', 'admin-tasks'],
    ['/admin/audit', 'admin-audit'],
    ['/profile', 'profile'],
  ];
  for (const [path, name] of pages) {
    await visit(page, state, path, name);
    // The first Tab reaches the skip link, and following it moves focus to the content.
    await page.keyboard.press('Tab');
    const first = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
    check(first === 'Skip to content', `${path}: the first Tab focuses ${JSON.stringify(first)}`);
    const h1 = await page.textContent('h1');
    check(h1 && h1.trim().length > 0, `${path}: no heading`);
    const nav = await page.locator('nav.sidebar a').allTextContents();
    check(nav.includes('Settings') && nav.includes('Audit log'), `${path}: owner navigation ${nav}`);
  }

  // --- Admin → Settings: create an enrollment token; it is shown once with the command. ----------
  await visit(page, state, '/admin/settings', 'admin-settings-before-token');
  if ((await page.locator('#new-token-form').getAttribute('open')) === null) {
    await page.locator('#new-token-form summary').click();
  }
  await page.getByLabel('Tags').fill('site:lab');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Create token' }).click()]);
  const token = (await page.textContent('#new-token')).trim();
  check(/^sen_[0-9a-f]{48}$/.test(token), `enrollment token looks wrong: ${token}`);
  const command = await page.textContent('#install-command');
  check(command.includes(token) && command.includes('--ca-fingerprint'), `install command: ${command}`);
  await snap(page, 'admin-settings-token-created');
  check((await cspViolations(page)).length === 0, 'CSP violation after creating a token');
  // The copy button is wired by the script.
  await page.locator('button[data-copy="new-token"]').click();
  // The clipboard answers asynchronously, so the label changes a moment after the click.
  await page.waitForFunction(() => document.querySelector('button[data-copy="new-token"]').textContent !== 'Copy', null, { timeout: 5000 })
    .catch(() => {});
  const copied = await page.locator('button[data-copy="new-token"]').textContent();
  check(copied === 'Copied' || copied === 'Press Ctrl+C', `copy button said ${copied}`);
  // Reloading never shows it again.
  await visit(page, state, '/admin/settings', 'admin-settings-after-token');
  check(!(await page.content()).includes(token), 'the token is shown a second time');
  // Sortable tables: a header click sorts and announces it.
  const emailHeader = page.locator('#users th').first();
  await emailHeader.locator('button').click();
  check((await emailHeader.getAttribute('aria-sort')) === 'ascending', 'users table did not sort');
  await emailHeader.locator('button').click();
  check((await emailHeader.getAttribute('aria-sort')) === 'descending', 'users table did not reverse');
  // Revoke it through the confirm dialog (the script asks; accepting submits the form).
  let asked = '';
  page.once('dialog', (d) => { asked = d.message(); d.accept(); });
  await Promise.all([
    page.waitForURL(/notice=token_revoked/),
    page.locator('#tokens button', { hasText: 'Revoke' }).first().click(),
  ]);
  check(asked.startsWith('Revoke this enrollment token?'), `confirm dialog said ${JSON.stringify(asked)}`);
  check((await page.textContent('#tokens')).includes('revoked'), 'token not revoked');
  await snap(page, 'admin-settings-token-revoked');

  // --- Admin → Tasks: the seeded failure is there with its error; live refresh is on. ------------
  await visit(page, state, '/admin/tasks', 'admin-tasks-failure');
  const dead = await page.textContent('#dead');
  check(dead.includes(failedJobError), `the failed job is not in Dead jobs: ${dead}`);
  check(await page.locator('svg.chart').count() > 0, 'no queue chart');
  check(await page.getByRole('button', { name: 'Pause live updates' }).count() === 1, 'no live refresh control');
  // Let one live refresh happen and check the region still holds the failure.
  await page.waitForFunction(() => /Updated at/.test(document.querySelector('.refresh-bar').textContent), null, { timeout: 15000 });
  check((await page.textContent('#dead')).includes(failedJobError), 'live refresh lost the failure');
  check((await cspViolations(page)).length === 0, 'CSP violation during live refresh');

  // --- Small screen and dark mode. --------------------------------------------------------------
  await page.setViewportSize({ width: 390, height: 844 });
  await visit(page, state, '/admin/settings', 'mobile-admin-settings', { fullPage: false });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `the page scrolls sideways on a phone by ${overflow}px`);
  await visit(page, state, '/fleet/overview', 'mobile-fleet-overview', { fullPage: false });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await visit(page, state, '/admin/tasks', 'dark-admin-tasks');
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(bg === 'rgb(14, 19, 24)', `dark mode background is ${bg}`);
  await page.emulateMedia({ colorScheme: 'light' });

  // --- Sign out. -------------------------------------------------------------------------------
  await Promise.all([page.waitForURL(/\/login\?notice=signed_out/), page.getByRole('button', { name: 'Sign out' }).click()]);
  check((await page.textContent('main')).includes('You are signed out.'), 'no sign-out confirmation');
  await snap(page, 'signed-out');

  // --- A viewer sees no admin entries and is refused the admin pages. ---------------------------
  await signIn(page, state, viewer);
  const nav = await page.locator('nav.sidebar a').allTextContents();
  check(nav.includes('Overview') && nav.includes('CVE') && nav.includes('Profile'), `viewer navigation ${nav}`);
  check(!nav.includes('Settings') && !nav.includes('Tasks') && !nav.includes('Audit log') && !nav.includes('Diagnostics'),
    `viewer navigation shows pages they cannot open: ${nav}`);
  await visit(page, state, '/admin/settings', 'viewer-forbidden', { status: 403 });
  check((await page.textContent('main')).includes('needs the admin role'), 'no explanation on the 403 page');
  await visit(page, state, '/profile', 'viewer-profile');
  const roles = await page.locator('#key-role option').allTextContents();
  check(roles.length === 1 && roles[0] === 'viewer', `a viewer is offered key roles ${roles}`);
} catch (err) {
  fail(`script error: ${err.stack || err}`);
} finally {
  await close();
}

console.log(JSON.stringify({ visited, screenshots: shotNumber, problems: problems.length }));
if (problems.length > 0) {
  console.error(`${problems.length} problem(s):\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('browser test passed');
