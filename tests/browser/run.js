// run.js: the portal end to end in headless Chromium (playwright-core, Debian's chromium).
// Makes its own instance with the sealgate binary in SEALGATE_BIN, invites a partner with the
// CLI, then registers, logs in, switches the channel and uploads a certificate in the browser.
// Prints "N passed, N failed"; screenshots go to artifacts/.
'use strict';
const { chromium } = require('playwright-core');
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const BIN = process.env.SEALGATE_BIN || path.resolve(__dirname, '../../build/sealgate');
const ART = path.join(__dirname, 'artifacts');
const PARTNER = 'browser@partner.test';
const PASSWORD = 'Kennwort mit Länge 2026';
const results = [];

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port; s.close(() => resolve(p));
    });
  });
}
function sg(dir, ...args) {
  return execFileSync(BIN, [...args, '-c', path.join(dir, 'sealgate.conf')], { encoding: 'utf8' });
}
async function step(name, fn) {
  try { await fn(); results.push([name, true]); console.log(`ok   ${name}`); }
  catch (e) { results.push([name, false]); console.log(`FAIL ${name}: ${e.message}`); throw e; }
}
function expect(cond, what) { if (!cond) throw new Error(what); }
async function waitPort(port, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); r(true); });
      c.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} not open`);
}

async function instance() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-browser-'));
  const inst = path.join(dir, 'gw');
  execFileSync(BIN, ['init', inst, '--domain', 'example.test', '--org', 'Beispiel GmbH']);
  const port = await freePort();
  for (const [k, v] of [['smtp.listen', `127.0.0.1:${await freePort()}`],
    ['ldap.listen', `127.0.0.1:${await freePort()}`], ['portal.listen', `127.0.0.1:${port}`]])
    sg(inst, 'config', 'set', k, v);
  const log = fs.openSync(path.join(dir, 'sealgate.log'), 'a');
  const proc = spawn(BIN, ['run', '-c', path.join(inst, 'sealgate.conf')],
    { stdio: ['ignore', log, log] });
  await waitPort(port, 20000);
  return { dir, inst, port, proc };
}

async function main() {
  fs.mkdirSync(ART, { recursive: true });
  const gw = await instance();
  const base = `https://127.0.0.1:${gw.port}`;
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
      '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'de-DE',
    viewport: { width: 900, height: 700 } });
  const page = await ctx.newPage();
  let failed = false;
  try {
    const out = sg(gw.inst, 'user', 'invite', PARTNER);
    const otp = out.match(/^([A-Z0-9]{4}(-[A-Z0-9]{4})+)$/m)[1];
    await step('German UI from Accept-Language, labels present', async () => {
      await page.goto(`${base}/register`);
      expect(await page.getAttribute('html', 'lang') === 'de', 'lang is not de');
      expect((await page.textContent('h1')).includes('Registrieren'), 'no German title');
      expect(await page.isVisible('label[for=otp]'), 'OTP field has no label');
      await page.screenshot({ path: path.join(ART, '01-register-de.png'), fullPage: true });
    });
    await step('registration with the invitation OTP', async () => {
      await page.fill('#email', PARTNER);
      await page.fill('#otp', otp.toLowerCase());
      await Promise.all([page.waitForURL('**/register/password'), page.click('button[type=submit]')]);
      await page.fill('#password', PASSWORD);
      await page.fill('#password2', PASSWORD);
      await page.screenshot({ path: path.join(ART, '02-password.png'), fullPage: true });
      await Promise.all([page.waitForURL('**/account**'), page.click('main button[type=submit]')]);
      expect((await page.textContent('main')).includes('Registrierung abgeschlossen'), 'no success text');
    });
    await step('logout and login again', async () => {
      await Promise.all([page.waitForURL('**/login**'), page.click('header button[type=submit]')]);
      await page.fill('#email', PARTNER);
      await page.fill('#password', PASSWORD);
      await Promise.all([page.waitForURL('**/account'), page.click('main button[type=submit]')]);
      expect((await page.textContent('main')).includes(PARTNER), 'account page lacks the address');
    });
    await step('certificate upload and channel switch to S/MIME', async () => {
      const crt = path.join(gw.dir, 'partner.crt');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout',
        path.join(gw.dir, 'partner.key'), '-out', crt, '-days', '60', '-subj', '/CN=Partner',
        '-addext', `subjectAltName=email:${PARTNER}`,
        '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment',
        '-addext', 'extendedKeyUsage=emailProtection'], { stdio: 'ignore' });
      await page.setInputFiles('#file', crt);
      await Promise.all([page.waitForURL('**/account?m=up_ok'), page.click('button:has-text("Hochladen")')]);
      await page.check('input[value=smime]');
      await Promise.all([page.waitForURL('**/account?m=ch_saved'), page.click('button:has-text("Speichern")')]);
      expect((await page.textContent('main')).includes('smime'), 'channel not shown as smime');
      await page.screenshot({ path: path.join(ART, '03-account-smime.png'), fullPage: true });
      expect(sg(gw.inst, 'user', 'show', PARTNER).includes('channel:  smime'), 'store not updated');
    });
    await step('language switch to English', async () => {
      await page.click('a[hreflang=en]');
      expect((await page.textContent('h1')).includes('Your account'), 'still German');
      await page.setViewportSize({ width: 380, height: 800 });
      await page.screenshot({ path: path.join(ART, '04-account-en-mobile.png'), fullPage: true });
    });
  } catch (e) {
    failed = true;
    await page.screenshot({ path: path.join(ART, 'failure.png'), fullPage: true }).catch(() => {});
  } finally {
    await browser.close();
    const exited = new Promise((r) => gw.proc.on('exit', r));
    gw.proc.kill('SIGTERM');
    await exited;
  }
  const log = fs.readFileSync(path.join(gw.dir, 'sealgate.log'), 'utf8');
  const problems = log.split('\n').filter((l) => /Sanitizer|runtime error|exited on signal/.test(l));
  results.push(['no sanitizer reports or crashes in the gateway log', problems.length === 0]);
  if (problems.length) console.log(`FAIL sanitizer/crash lines:\n${problems.slice(0, 10).join('\n')}`);
  else fs.rmSync(gw.dir, { recursive: true, force: true });
  const pass = results.filter((r) => r[1]).length;
  const fail = results.length - pass + (failed && results.every((r) => r[1]) ? 1 : 0);
  console.log(`${pass} passed, ${fail} failed`);
  process.exit(fail === 0 ? 0 : 1);
}
main().catch((e) => { console.log(`0 passed, 1 failed (${e.message})`); process.exit(1); });
