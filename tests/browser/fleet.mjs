// Drives Debian's headless Chromium through the Fleet pages of the Sentari dashboard.
//
// Run by crates/sentari-server/tests/it/browser.rs after dashboard.mjs, against the same server,
// which holds a small seeded fleet (fleet_support::small_fleet): web-01 with an old `requests`
// (a critical advisory), db-02 with a fixed one, idle-03 never scanned; Python 3.8 past its end
// of life and a permission error on both scanned devices. Environment:
//   SENTARI_URL, OWNER_EMAIL/OWNER_PASSWORD, VIEWER_EMAIL/VIEWER_PASSWORD, DEVICE_ID (web-01),
//   SCREENSHOT_DIR, CHROMIUM
// It browses every Fleet tab, searches a package and drills down to its devices, opens a device,
// exports the runtime inventory as CSV and XLSX (and checks both files), reads a device's scan
// errors, deletes a device through the confirmation page, checks a phone-sized screen and dark
// mode, and what a viewer sees. Every page is checked for console errors, uncaught exceptions,
// failed requests and Content-Security-Policy violations.

import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { check, cspViolations, fail, launch, problems, watch } from './harness.mjs';

const base = process.env.SENTARI_URL;
const shots = process.env.SCREENSHOT_DIR;
const owner = { email: process.env.OWNER_EMAIL, password: process.env.OWNER_PASSWORD };
const viewer = { email: process.env.VIEWER_EMAIL, password: process.env.VIEWER_PASSWORD };
const deviceId = process.env.DEVICE_ID;
if (!base || !shots || !owner.email || !viewer.email || !deviceId) {
  console.error('missing environment: SENTARI_URL, SCREENSHOT_DIR, OWNER_*, VIEWER_*, DEVICE_ID');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const visited = [];
let shotNumber = 0;

async function snap(page, name, fullPage = true) {
  shotNumber += 1;
  // A prefix of its own keeps these apart from dashboard.mjs's numbered screenshots.
  const file = join(shots, `f${String(shotNumber).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage });
}

async function checkPage(page, what) {
  const csp = await cspViolations(page);
  check(csp.length === 0, `${what}: CSP violations ${JSON.stringify(csp)}`);
  visited.push(page.url().replace(base, ''));
}

async function visit(page, state, path, name, { status = 200, fullPage = true } = {}) {
  state.allowedStatus = status === 200 ? null : status;
  const resp = await page.goto(base + path, { waitUntil: 'load' });
  check(resp && resp.status() === status, `${path}: status ${resp && resp.status()}, expected ${status}`);
  await snap(page, name, fullPage);
  await checkPage(page, path);
  return resp;
}

// Follows a link or submits a form by clicking, waiting for the next page to load.
async function click(page, locator) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
}

async function signIn(page, state, who) {
  await visit(page, state, '/login', 'login');
  await page.getByLabel('E-mail').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await Promise.all([page.waitForURL(`${base}/`), page.getByRole('button', { name: 'Sign in' }).click()]);
}

// Clicks an export link and returns the downloaded file's path and suggested name.
async function download(page, selector, dir) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  const failure = await dl.failure();
  check(!failure, `${selector}: download failed: ${failure}`);
  const path = join(dir, dl.suggestedFilename());
  await dl.saveAs(path);
  return { path, name: dl.suggestedFilename() };
}

const downloads = mkdtempSync(join(tmpdir(), 'sentari-downloads-'));
const { context, close } = await launch({ acceptDownloads: true });

try {
  const page = context.pages()[0] || await context.newPage();
  const state = watch(page);
  await signIn(page, state, owner);

  // --- Every Fleet tab through the sidebar, as the owner. ---------------------------------------
  for (const [label, path, name] of [
    ['Overview', '/fleet/overview', 'fleet-overview'],
    ['Devices', '/fleet/devices', 'fleet-devices'],
    ['Packages', '/fleet/packages', 'fleet-packages'],
    ['Runtime', '/fleet/runtime', 'fleet-runtime'],
    ['Scan History', '/fleet/scans', 'fleet-scans'],
    ['Diagnostics', '/fleet/diagnostics', 'fleet-diagnostics'],
  ]) {
    await click(page, page.locator('nav.sidebar').getByRole('link', { name: label, exact: true }));
    check(page.url() === base + path, `sidebar ${label} went to ${page.url()}`);
    check((await page.locator('nav.sidebar a[aria-current="page"]').textContent()) === label, `${label} not marked current`);
    await snap(page, name);
    await checkPage(page, path);
  }
  await visit(page, state, '/', 'fleet-overview-root');
  check((await page.textContent('#stat-devices')).trim() === '3', 'overview device count');
  check(await page.locator('main svg.chart').count() === 2, 'overview charts');
  check((await page.textContent('#overdue')).includes('idle-03'), 'idle-03 not listed as overdue');

  // --- Devices: sort by a header link, search by hostname. --------------------------------------
  await visit(page, state, '/fleet/devices', 'fleet-devices-list');
  const hostHeader = page.locator('#devices th').first();
  await click(page, hostHeader.locator('a'));
  check((await hostHeader.getAttribute('aria-sort')) === 'ascending', 'devices not sorted by hostname');
  await click(page, page.locator('#devices th').first().locator('a'));
  check((await page.locator('#devices th').first().getAttribute('aria-sort')) === 'descending', 'devices sort not reversed');
  const firstHost = await page.locator('#devices tbody tr td a').first().textContent();
  check(firstHost === 'web-01', `descending hostname sort starts with ${firstHost}`);
  await page.getByLabel('Hostname').fill('db');
  await click(page, page.getByRole('button', { name: 'Search' }));
  const hosts = await page.locator('#devices tbody tr td:first-child a').allTextContents();
  check(hosts.length === 1 && hosts[0] === 'db-02', `hostname search found ${hosts}`);

  // --- Packages: which devices have requests < 2.30? Then drill down to them. -------------------
  await visit(page, state, '/fleet/packages', 'fleet-packages-empty-search');
  await page.getByLabel('Package name').fill('requests');
  await page.getByLabel('Version range').fill('>=2.0,<2.30');
  await page.getByLabel('Ecosystem').selectOption('PyPI');
  await click(page, page.getByRole('button', { name: 'Search' }));
  await snap(page, 'fleet-packages-search');
  await checkPage(page, 'package search');
  const versions = await page.locator('#packages tbody tr td:nth-child(2)').allTextContents();
  check(versions.length === 1 && versions[0] === '2.25.0', `range search found versions ${versions}`);
  await click(page, page.locator('#packages tbody tr a').first());
  check((await page.textContent('#package-filter')).includes('requests at version 2.25.0'), 'drill-down note missing');
  const drilled = await page.locator('#devices tbody tr td:first-child a').allTextContents();
  check(drilled.length === 1 && drilled[0] === 'web-01', `drill-down shows ${drilled}`);

  // --- Open the device. ---------------------------------------------------------------------------
  await click(page, page.getByRole('link', { name: 'web-01', exact: true }));
  check(page.url() === `${base}/fleet/devices/${deviceId}`, `device link went to ${page.url()}`);
  check((await page.textContent('h1')).trim() === 'Device web-01', 'device heading');
  check((await page.textContent('#runtimes')).includes('end of life'), 'Python 3.8 not flagged end of life');
  check((await page.textContent('#findings')).includes('GHSA-TEST-1'), 'finding missing on the device page');
  check(await page.locator('#delete-device').count() === 1, 'owner does not see the delete button');
  await snap(page, 'fleet-device-web-01');
  await checkPage(page, 'device page');
  // The source filter narrows the packages.
  await page.getByLabel('Source').fill('os');
  await click(page, page.getByRole('button', { name: 'Filter' }));
  const pkgs = await page.locator('#packages tbody tr td:first-child').allTextContents();
  check(pkgs.length === 1 && pkgs[0] === 'libssl3', `source=os shows ${pkgs}`);

  // --- Runtime: charts, then both exports, checked. ------------------------------------------------
  await visit(page, state, '/fleet/runtime', 'fleet-runtime-charts');
  check(await page.locator('main svg.chart').count() >= 2, 'runtime distribution and trend charts');
  check((await page.textContent('#stat-eol-past')).trim() === '2', 'EOL installation count');
  const csv = await download(page, '#export-csv', downloads);
  const csvText = readFileSync(csv.path, 'utf8');
  check(csv.name.endsWith('.csv'), `CSV file name ${csv.name}`);
  const [header, ...lines] = csvText.trim().split(/\r?\n/);
  check(header.startsWith('hostname,os,runtime,path,version,eol_cycle,eol_date,eol_status'), `CSV header ${header}`);
  check(lines.length === 2 && lines.some((l) => l.startsWith('web-01,') && l.includes('3.8.18') && l.includes('2024-10-07')),
    `CSV rows ${JSON.stringify(lines)}`);
  const xlsx = await download(page, '#export-xlsx', downloads);
  const bytes = readFileSync(xlsx.path);
  check(xlsx.name.endsWith('.xlsx'), `XLSX file name ${xlsx.name}`);
  check(bytes.subarray(0, 4).toString('latin1') === 'PK\u0003\u0004' && statSync(xlsx.path).size > 2000,
    'the XLSX export is not a zip archive');
  check(bytes.includes(Buffer.from('xl/worksheets/sheet1.xml')), 'the XLSX export has no worksheet');
  await snap(page, 'fleet-runtime-exported');
  await checkPage(page, 'runtime exports');

  // --- Diagnostics: a device's errors. --------------------------------------------------------------
  await visit(page, state, '/fleet/diagnostics', 'fleet-diagnostics-list');
  await click(page, page.locator('#error-devices a', { hasText: 'Show errors' }).first());
  check((await page.textContent('#device-errors')).includes('Permission denied'), 'device errors missing');
  await snap(page, 'fleet-diagnostics-device');
  await checkPage(page, 'diagnostics drill-down');

  // --- Delete idle-03 through the confirmation page. ------------------------------------------------
  await visit(page, state, '/fleet/devices?q=idle', 'fleet-devices-idle');
  await click(page, page.getByRole('link', { name: 'idle-03', exact: true }));
  await click(page, page.locator('#delete-device'));
  check((await page.textContent('main')).includes('revokes its certificate'), 'the confirmation does not explain');
  await snap(page, 'fleet-device-delete-confirm');
  await checkPage(page, 'delete confirmation');
  await click(page, page.getByRole('button', { name: 'Delete idle-03' }));
  check(page.url().includes('notice=deleted'), `after deleting: ${page.url()}`);
  check((await page.textContent('main')).includes('The device idle-03 was deleted and its certificate revoked.'), 'no deletion notice');
  check(!(await page.textContent('#devices')).includes('idle-03'), 'idle-03 still listed');
  await snap(page, 'fleet-devices-deleted');

  // --- Phone-sized screen and dark mode. ---------------------------------------------------------
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [path, name] of [
    ['/fleet/devices', 'mobile-fleet-devices'],
    [`/fleet/devices/${deviceId}`, 'mobile-fleet-device'],
    ['/fleet/runtime', 'mobile-fleet-runtime'],
  ]) {
    await visit(page, state, path, name, { fullPage: false });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `${path} scrolls sideways on a phone by ${overflow}px`);
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await visit(page, state, '/fleet/runtime', 'dark-fleet-runtime');
  await visit(page, state, '/fleet/overview', 'dark-fleet-overview');
  await page.emulateMedia({ colorScheme: 'light' });

  // --- A viewer: no delete button, no Diagnostics. -------------------------------------------------
  await Promise.all([page.waitForURL(/\/login\?notice=signed_out/), page.getByRole('button', { name: 'Sign out' }).click()]);
  await signIn(page, state, viewer);
  await visit(page, state, `/fleet/devices/${deviceId}`, 'viewer-fleet-device');
  check(await page.locator('#delete-device').count() === 0, 'a viewer sees the delete button');
  check(!(await page.content()).includes('/delete'), 'a viewer is offered a delete link');
  const nav = await page.locator('nav.sidebar a').allTextContents();
  check(!nav.includes('Diagnostics'), `viewer navigation shows Diagnostics: ${nav}`);
  await visit(page, state, '/fleet/diagnostics', 'viewer-fleet-diagnostics-forbidden', { status: 403 });
  await visit(page, state, '/fleet/packages?name=requests', 'viewer-fleet-packages');
  check(await page.locator('#packages tbody tr').count() === 2, 'viewer package search');
} catch (err) {
  fail(`script error: ${err.stack || err}`);
} finally {
  await close();
  rmSync(downloads, { recursive: true, force: true });
}

console.log(JSON.stringify({ visited, screenshots: shotNumber, problems: problems.length }));
if (problems.length > 0) {
  console.error(`${problems.length} problem(s):\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('browser test passed');
