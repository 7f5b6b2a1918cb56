// employee.js: an employee logs in on the portal with the directory password, in headless
// Chromium, against a real slapd (tests/integration/slapd_rig.py: StartTLS under its own CA):
// a wrong password is refused, the German UI, the home page with the certificate, partner pages
// send the employee home, logout; the login and home pages pass axe-core (WCAG 2.1 AA) in
// German and English. Prints "N passed, N failed"; screenshots go to artifacts/.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { ART, sg, step, expect, instance, launch, finish, freePort, execFileSync,
  axeViolations } = require('./lib');

const RIG = path.resolve(__dirname, '../integration/slapd_rig.py');

async function expectAccessible(page, what) {
  const v = await axeViolations(page);
  expect(v.length === 0, `${what}: axe-core: ${v.join('; ')}`);
}

async function main() {
  fs.mkdirSync(ART, { recursive: true });
  const ldapDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-browser-slapd-'));
  const out = execFileSync('/usr/bin/python3', [RIG, 'start', ldapDir, String(await freePort())],
    { encoding: 'utf8' });
  const settings = out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
  const gw = await instance({ settings: [...settings, ['gateway.internal_domains', 'example.com']] });
  sg(gw.inst, 'cert', 'issue', 'juergen@example.com');
  const browser = await launch(gw);
  const ctx = await browser.newContext({ locale: 'de-DE', viewport: { width: 900, height: 700 } });
  const page = await ctx.newPage();
  let failed = false;
  try {
    await step('employee: wrong directory password refused (German)', async () => {
      await page.goto(`${gw.base}/login`);
      expect((await page.textContent('main')).includes('Benutzername'), 'no user name label');
      await page.fill('#email', 'juergen');
      await page.fill('#password', 'falsch');
      await page.click('main button[type=submit]');
      expect((await page.textContent('.error')).includes('Passwort ist falsch'), 'no refusal');
      await page.screenshot({ path: path.join(ART, 'e1-employee-refused.png'), fullPage: true });
      await expectAccessible(page, 'German login page with the refusal');
    });
    await step('employee: login with the directory password, home page', async () => {
      await page.fill('#email', 'juergen');
      await page.fill('#password', 'jürgen-pw');
      await Promise.all([page.waitForURL('**/employee'), page.click('main button[type=submit]')]);
      const main = await page.textContent('main');
      expect(main.includes('Jürgen Müller-Łódź'), 'no display name');
      expect(main.includes('juergen@example.com') && main.includes('gültig'), 'no certificate row');
      await page.screenshot({ path: path.join(ART, 'e2-employee-home.png'), fullPage: true });
      await expectAccessible(page, 'German employee home page');
    });
    await step('employee: English login and home pages pass axe-core (WCAG 2.1 AA)', async () => {
      const en = await (await browser.newContext({ locale: 'en-US',
        extraHTTPHeaders: { 'Accept-Language': 'en-US,en;q=0.9' } })).newPage();
      await en.goto(`${gw.base}/login`);
      expect((await en.textContent('main')).includes('user name'), 'the login page is not English');
      await expectAccessible(en, 'English login page');
      await en.fill('#email', 'juergen');
      await en.fill('#password', 'jürgen-pw');
      await Promise.all([en.waitForURL('**/employee'), en.click('main button[type=submit]')]);
      expect((await en.textContent('main')).includes('juergen@example.com'), 'no certificate row');
      await expectAccessible(en, 'English employee home page');
      await en.context().close();
    });
    await step('employee: partner pages send the employee home; logout', async () => {
      await page.goto(`${gw.base}/account`);
      expect(page.url().endsWith('/employee'), `not sent home: ${page.url()}`);
      await Promise.all([page.waitForURL('**/login**'), page.click('header button[type=submit]')]);
      await page.goto(`${gw.base}/employee`);
      expect(page.url().includes('/login'), 'still logged in after logout');
    });
  } catch (e) {
    failed = true;
    await page.screenshot({ path: path.join(ART, 'employee-failure.png'), fullPage: true }).catch(() => {});
  }
  try { execFileSync('/usr/bin/python3', [RIG, 'stop', ldapDir]); } catch (e) { /* already gone */ }
  const rc = await finish(gw, browser, failed);
  if (rc === 0) fs.rmSync(ldapDir, { recursive: true, force: true });
  process.exit(rc);
}
main().catch((e) => { console.log(`0 passed, 1 failed (${e.message})`); process.exit(1); });
