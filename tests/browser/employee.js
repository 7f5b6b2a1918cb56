// employee.js: an employee logs in on the portal with the directory password, in headless
// Chromium, against a real slapd (tests/integration/slapd_rig.py: StartTLS under its own CA):
// a wrong password is refused, the German UI, the home page with the certificate, partner pages
// send the employee home, logout. Prints "N passed, N failed"; screenshots go to artifacts/.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { ART, sg, step, expect, instance, launch, finish, freePort, execFileSync } = require('./lib');

const RIG = path.resolve(__dirname, '../integration/slapd_rig.py');

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
    });
    await step('employee: login with the directory password, home page', async () => {
      await page.fill('#email', 'juergen');
      await page.fill('#password', 'jürgen-pw');
      await Promise.all([page.waitForURL('**/employee'), page.click('main button[type=submit]')]);
      const main = await page.textContent('main');
      expect(main.includes('Jürgen Müller-Łódź'), 'no display name');
      expect(main.includes('juergen@example.com') && main.includes('gültig'), 'no certificate row');
      await page.screenshot({ path: path.join(ART, 'e2-employee-home.png'), fullPage: true });
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
