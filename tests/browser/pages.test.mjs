// Browser test of the citizen pages: Debian's headless Chromium, driven by
// playwright-core, with the DevTools virtual authenticator (ctap2, internal transport,
// resident keys, user verification). For English and for Thai it enrolls two keys,
// removes one, signs in again, approves one consent request and refuses another, and
// keeps screenshots in IDSVC_BROWSER_ARTIFACTS.
//
// The node runs on 127.0.0.1 with RP ID "localhost", because a WebAuthn RP ID must be a
// host name. Its TLS certificate comes from the test CA, so the browser context accepts
// it with ignoreHTTPSErrors. The relying-party and issuer calls below verify it against
// that CA.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.join(here, '..', '..', 'web');
const artifacts = process.env.IDSVC_BROWSER_ARTIFACTS || path.join(tmpdir(), 'idsvc-browser');
const STEP_TIMEOUT_MS = 20000;

// Chromium must make no connection of its own beyond the node on loopback.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function catalogue(lang) {
  return JSON.parse(readFileSync(path.join(webDir, 'i18n', lang + '.json'), 'utf8'));
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function equal(actual, expected, what) {
  if (actual !== expected) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

// ---- The node ---------------------------------------------------------------------

function startNode() {
  const fixture = process.env.IDSVC_BROWSER_NODE;
  check(fixture, 'IDSVC_BROWSER_NODE is not set');
  const child = spawn(fixture, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let text = '';
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`browser_node exited with status ${code}`)));
    child.stdout.on('data', (chunk) => {
      text += chunk;
      const line = text.indexOf('\n');
      if (line >= 0) resolve({ child, ...JSON.parse(text.slice(0, line)) });
    });
  });
}

function stopNode(node) {
  return new Promise((resolve) => {
    node.child.removeAllListeners('exit');
    node.child.on('exit', resolve);
    node.child.stdin.end();
  });
}

// Calls the node's API with a client certificate of the harness.
function api(node, client, method, route, body) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const options = {
    host: '127.0.0.1',
    port: node.port,
    servername: 'localhost',
    method,
    path: route,
    ca: readFileSync(path.join(node.dir, 'ca.pem')),
    cert: readFileSync(path.join(node.dir, client + '.pem')),
    key: readFileSync(path.join(node.dir, client + '.key')),
    // Without Content-Length, https.request sends the body chunked, which the node
    // rejects with 411.
    headers:
      payload === undefined
        ? {}
        : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
  };
  return new Promise((resolve, reject) => {
    const request = https.request(options, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode, json: JSON.parse(text) }));
    });
    request.on('error', reject);
    if (payload !== undefined) request.write(payload);
    request.end();
  });
}

async function issueCredential(node, subject) {
  const answer = await api(node, 'issuer-agency', 'POST', '/v1/credentials', {
    subject,
    audience: 'https://bank.example/sp',
    assurance_level: 'substantial',
    validity_seconds: 3600,
    attributes: { given_name: 'Siriporn', family_name: 'Chaiyasit', nationality: ['TH'] },
  });
  equal(answer.status, 201, 'POST /v1/credentials status');
  return answer.json;
}

async function askVerification(node, assertion) {
  const answer = await api(node, 'bank-one', 'POST', '/v1/verifications', {
    assertion,
    purpose: 'Open a savings account',
    claims: ['given_name', 'nationality'],
    retention_days: 30,
  });
  equal(answer.status, 202, 'POST /v1/verifications status');
  return answer.json;
}

// ---- The browser ------------------------------------------------------------------

async function addAuthenticator(cdp) {
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
    },
  });
  return authenticatorId;
}

async function openBrowser(lang) {
  const profile = mkdtempSync(path.join(tmpdir(), 'idsvc-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    ignoreHTTPSErrors: true,
    locale: 'en-US',
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const problems = [];
  page.on('console', (message) => {
    // The browser requests /favicon.ico on its own, and the pages have no icon.
    if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) {
      problems.push(message.text());
    }
  });
  page.on('pageerror', (error) => problems.push(error.message));
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  return { context, page, cdp, profile, problems, lang };
}

async function closeBrowser(browser) {
  await browser.context.close();
  rmSync(browser.profile, { recursive: true, force: true });
}

async function shot(browser, name) {
  await browser.page.screenshot({
    path: path.join(artifacts, `${browser.lang}-${name}.png`),
    fullPage: true,
  });
}

async function expectStatus(page, text) {
  await page.waitForFunction(
    (expected) => document.getElementById('status').textContent === expected,
    text,
  );
}

// ---- The flows --------------------------------------------------------------------

async function enroll(browser, node, messages, code) {
  const { page } = browser;
  await page.goto(`https://localhost:${node.port}/enroll`);
  if (browser.lang !== 'en') {
    // The language switch, which a cookie keeps for the next pages.
    await page.click(`nav.languages a[hreflang="${browser.lang}"]`);
  }
  equal(await page.getAttribute('html', 'lang'), browser.lang, 'html lang of /enroll');
  equal(await page.textContent('h1'), messages['enroll.title'], 'enroll heading');
  equal(await page.textContent('label[for="code"]'), messages['enroll.code_label'], 'code label');
  await shot(browser, '1-enroll');

  await page.fill('#code', code.toLowerCase());
  await Promise.all([page.waitForURL('**/account'), page.click('#enroll-form button')]);
  equal(await page.getAttribute('html', 'lang'), browser.lang, 'html lang of /account');
}

async function registerKey(browser, messages, expectedRows) {
  const { page } = browser;
  await Promise.all([page.waitForEvent('load'), page.click('#register')]);
  await expectStatus(page, messages['status.enrolled']);
  equal(await page.locator('#keys tbody tr').count(), expectedRows, 'enrolled keys');
}

async function enrollTwoKeysRemoveOne(browser, messages) {
  const { page, cdp } = browser;
  const first = await addAuthenticator(cdp);
  await registerKey(browser, messages, 1);

  // A second authenticator: the first one's credential is excluded, so it is taken away.
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: first });
  await addAuthenticator(cdp);
  await registerKey(browser, messages, 2);
  await shot(browser, '2-two-keys');

  // Remove the first key, whose authenticator is gone.
  await Promise.all([page.waitForEvent('load'), page.locator('#keys button.remove').first().click()]);
  await expectStatus(page, messages['status.removed']);
  equal(await page.locator('#keys tbody tr').count(), 1, 'keys after removal');
  await shot(browser, '3-key-removed');
}

async function signInAgain(browser, node, messages) {
  const { page, context } = browser;
  await context.clearCookies({ name: '__Host-idsvc_session' });
  await page.goto(`https://localhost:${node.port}/account`);
  equal(await page.locator('#signin').count(), 1, 'sign-in button without a session');
  await Promise.all([page.waitForEvent('load'), page.click('#signin')]);
  await expectStatus(page, messages['status.signed_in']);
  equal(await page.locator('#keys tbody tr').count(), 1, 'keys after sign-in');
}

async function openConsent(browser, verification, messages) {
  const { page } = browser;
  check(verification.consent_url.startsWith('https://localhost:'), 'consent_url origin');
  const response = await page.goto(verification.consent_url);
  const policy = response.headers()['content-security-policy'] || '';
  check(policy.includes("default-src 'none'"), 'the consent page has a strict CSP');
  check(!policy.includes('unsafe-inline'), 'the CSP allows no inline script or style');
  equal(await page.textContent('h1'), messages['consent.title'], 'consent heading');
  const details = await page.textContent('dl.details');
  check(details.includes('Bank One'), 'the page names who asks');
  check(details.includes(messages['country.SG']), 'the page names the country');
  check(details.includes(messages['claim.given_name']), 'the page lists the claims');
  check(details.includes('30'), 'the page states the retention');
  check(!details.includes('Siriporn'), 'the page shows no claim value');
}

async function approveConsent(browser, node, messages, assertion) {
  const { page } = browser;
  const verification = await askVerification(node, assertion);
  await openConsent(browser, verification, messages);
  await shot(browser, '4-consent');
  await Promise.all([page.waitForEvent('load'), page.click('#approve')]);
  await expectStatus(page, messages['status.approved']);
  equal(await page.textContent('#decided'), messages['consent.state_approved'], 'decided text');
  await shot(browser, '5-consent-approved');

  const result = await api(node, 'bank-one', 'GET', `/v1/verifications/${verification.verification_id}`);
  equal(result.status, 200, 'GET /v1/verifications status after approval');
  equal(result.json.decision, 'accepted', 'decision after approval');
  equal(result.json.claims.given_name, 'Siriporn', 'disclosed given_name');
  equal(result.json.consent.id, verification.consent_id, 'consent reference');
}

async function refuseConsent(browser, node, messages, assertion) {
  const { page } = browser;
  const verification = await askVerification(node, assertion);
  await openConsent(browser, verification, messages);
  await Promise.all([page.waitForEvent('load'), page.click('#refuse')]);
  await expectStatus(page, messages['status.refused']);
  equal(await page.textContent('#decided'), messages['consent.state_refused'], 'decided text');
  await shot(browser, '6-consent-refused');

  const result = await api(node, 'bank-one', 'GET', `/v1/verifications/${verification.verification_id}`);
  equal(result.status, 200, 'GET /v1/verifications status after refusal');
  equal(result.json.decision, 'refused', 'decision after refusal');
  check(result.json.claims === undefined, 'a refusal discloses no claim');
}

async function checkHistory(browser, node, messages) {
  const { page } = browser;
  await page.goto(`https://localhost:${node.port}/account`);
  const rows = page.locator('#disclosures tbody tr');
  equal(await rows.count(), 1, 'disclosures listed');
  const row = await rows.first().textContent();
  check(row.includes('Bank One'), 'the history names who received the data');
  check(row.includes(messages['account.rule_consent']), 'the history names the rule');
  await shot(browser, '7-history');
}

async function runLanguage(node, lang) {
  const messages = catalogue(lang);
  const issued = await issueCredential(node, `TH-BROWSER-${lang}`);
  const browser = await openBrowser(lang);
  try {
    await enroll(browser, node, messages, issued.enrollment_code);
    await enrollTwoKeysRemoveOne(browser, messages);
    await signInAgain(browser, node, messages);
    await approveConsent(browser, node, messages, issued.assertion);
    // A second credential of the same subject, because an assertion is verified once.
    const second = await issueCredential(node, `TH-BROWSER-${lang}`);
    await refuseConsent(browser, node, messages, second.assertion);
    await checkHistory(browser, node, messages);
    check(browser.problems.length === 0, `console errors: ${browser.problems.join(' | ')}`);
  } catch (error) {
    await shot(browser, 'failure').catch(() => {});
    throw error;
  } finally {
    await closeBrowser(browser);
  }
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  const node = await startNode();
  let passed = 0;
  let failed = 0;
  for (const lang of ['en', 'th']) {
    try {
      await runLanguage(node, lang);
      console.log(`ok - pages in ${lang}`);
      passed++;
    } catch (error) {
      console.log(`not ok - pages in ${lang}: ${error.message}`);
      failed++;
    }
  }
  if (failed > 0) console.log(readFileSync(node.log, 'utf8').split('\n').slice(-40).join('\n'));
  await stopNode(node);
  console.log(`screenshots: ${artifacts}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((error) => {
  console.log(`not ok - setup: ${error.stack || error.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
