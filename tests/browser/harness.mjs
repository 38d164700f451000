// What every browser script shares: the list of problems found, the per-page watchers (console
// errors, uncaught exceptions, failed requests, error statuses, Content-Security-Policy
// violations), and launching Debian's headless Chromium with the flags the tests need.
//
// A script imports these, drives its pages, and at the end reports `problems` and exits non-zero
// when there is any; one failed check does not stop the walk, so a run lists every problem.

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const problems = [];

export function fail(message) {
  problems.push(message);
  console.error(`FAIL: ${message}`);
}

export function check(condition, message) {
  if (!condition) { fail(message); }
}

// Console errors, page errors, failed requests and error statuses, per page, with a way to
// allow the one expected error of a page answered with an error status on purpose (403, 401):
// set `allowedStatus` on the returned state before the navigation.
export function watch(page) {
  const state = { allowedStatus: null };
  page.on('console', (msg) => {
    if (msg.type() !== 'error') { return; }
    const text = msg.text();
    if (state.allowedStatus && text.includes(`status of ${state.allowedStatus}`)) { return; }
    fail(`console error on ${page.url()}: ${text}`);
  });
  page.on('pageerror', (err) => fail(`uncaught exception on ${page.url()}: ${err.message}`));
  page.on('requestfailed', (req) => {
    const reason = req.failure() ? req.failure().errorText : 'failed';
    // A navigation replaced by the next one, or turned into a download, is aborted by design.
    if (reason.includes('ERR_ABORTED')) { return; }
    fail(`request failed: ${req.url()} (${reason})`);
  });
  page.on('response', (resp) => {
    const status = resp.status();
    if (status >= 400 && status !== state.allowedStatus) {
      fail(`${status} for ${resp.url()}`);
    }
  });
  return state;
}

// Records CSP violations from inside the page; init scripts run through the DevTools protocol,
// which the page's CSP does not apply to, so this listener itself is no violation.
const cspProbe = () => {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
  });
};

export async function cspViolations(page) {
  return page.evaluate(() => window.__cspViolations || []);
}

// Starts Chromium with a throw-away profile and the CSP probe installed; `extra` adds context
// options (downloads, colour scheme). `close()` stops it and removes the profile.
export async function launch(extra = {}) {
  const userDataDir = mkdtempSync(join(tmpdir(), 'sentari-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: { width: 1280, height: 800 },
    colorScheme: 'light',
    ...extra,
  });
  await context.addInitScript(cspProbe);
  const close = async () => {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, close };
}
