// enrolment.js: an employee's enrolment in headless Chromium with a German UI, against a real
// slapd (tests/integration/slapd_rig.py, StartTLS): the enrolment mail's link asks for the
// directory login and comes back; the employee starts "Getting started" on the portal, reads
// the new mail from the Maildir, opens its link, sees the PIN and downloads the .pfx, which
// openssl opens with that PIN; the link, aged past its 30 days, says it expired. The login,
// PIN, home, replaced-link and expired-link pages pass axe-core (WCAG 2.1 AA). Screenshots in artifacts/enrolment-*.png.
'use strict';
const fs = require('fs');
const path = require('path');
const { ART, freePort, sg, step, expect, instance, launch, mailbox, parseMail, finish,
  execFileSync, axeViolations } = require('./lib');

const RIG = path.resolve(__dirname, '../integration/slapd_rig.py');
const ALICE = 'alice@example.com';

function shot(page, name) {
  return page.screenshot({ path: path.join(ART, `enrolment-${name}.png`), fullPage: true });
}

async function expectAccessible(page, what) {
  const v = await axeViolations(page);
  expect(v.length === 0, `${what}: axe-core: ${v.join('; ')}`);
}

// Ages every enrolment link of the instance by 31 days, as if it had been mailed then.
function ageLinks(gw) {
  execFileSync('/usr/bin/python3', ['-c', 'import sqlite3, sys\n' +
    'with sqlite3.connect(sys.argv[1]) as c:\n' +
    '    c.execute("UPDATE enrolments SET created = created - 31*86400, expires = expires - 31*86400")',
  path.join(gw.inst, 'sealgate.db')]);
}

function linkOf(mail, work) {
  const m = parseMail(mail, work).text.match(/https:\/\/\S+(\/employee\/pin\/[0-9a-f]{64})/);
  expect(m, 'no link in the enrolment mail');
  return m[1];
}

async function main() {
  fs.mkdirSync(ART, { recursive: true });
  const ldapDir = fs.mkdtempSync('/tmp/sg-browser-ldap-');
  const out = execFileSync('/usr/bin/python3', [RIG, 'start', ldapDir, String(await freePort())],
    { encoding: 'utf8' });
  const dirSettings = out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')),
    l.slice(l.indexOf('=') + 1)]);
  let gw, browser;
  let failed = false;
  try {
    gw = await instance({ maildir: true, settings: [['gateway.internal_domains', 'example.com'],
      ['gateway.tick_interval', '1s'], ...dirSettings] });
    const work = path.join(gw.dir, 'work');
    fs.mkdirSync(work);
    browser = await launch(gw);
    const ctx = await browser.newContext({ locale: 'de-DE', acceptDownloads: true,
      extraHTTPHeaders: { 'Accept-Language': 'de-DE,de;q=0.9' },
      viewport: { width: 1000, height: 760 } });
    const page = await ctx.newPage();
    let first;
    await step('the link of an enrolment mail asks for the directory login and comes back', async () => {
      sg(gw.inst, 'user', 'enrol', ALICE);
      const [mail] = await mailbox(gw.mdInt, ALICE, 1);
      first = linkOf(mail, work);
      await page.goto(gw.base + first);
      expect(page.url().includes('/login?next='), `not sent to the login: ${page.url()}`);
      expect((await page.textContent('h1')).includes('Anmelden'), 'the login page is not German');
      await shot(page, '01-login');
      await expectAccessible(page, 'German login page');
      await page.fill('#email', 'alice');
      await page.fill('#password', 'alice-pw');
      await Promise.all([page.waitForURL(`**${first}`), page.click('main button[type=submit]')]);
      expect(await page.isVisible('#pin'), 'no PIN after the login');
      await shot(page, '02-pin');
      await expectAccessible(page, 'German PIN page');
    });
    let link;
    await step('Erste Schritte: a new certificate by mail; the first link is replaced', async () => {
      await page.goto(gw.base + '/employee');
      expect((await page.textContent('main')).includes('Erste Schritte'), 'no "Erste Schritte"');
      await shot(page, '03-home');
      await expectAccessible(page, 'German employee home page');
      await Promise.all([page.waitForURL('**/employee?m=enr_sent'),
        page.click('button:has-text("Neues Zertifikat zusenden")')]);
      await shot(page, '04-sent');
      const mails = await mailbox(gw.mdInt, ALICE, 2);
      link = mails.map((m) => linkOf(m, work)).find((l) => l !== first);
      await page.goto(gw.base + first);
      expect((await page.textContent('main')).includes('ersetzt'), 'the first link still works');
      await expectAccessible(page, 'German replaced-link page');
    });
    await step('the PIN page and the download: openssl opens the .pfx with the PIN', async () => {
      await page.goto(gw.base + link);
      const pin = (await page.textContent('#pin')).trim();
      expect(/^[A-Za-z2-9]{20}$/.test(pin), `not a PIN: ${pin}`);
      await shot(page, '05-pin');
      const [dl] = await Promise.all([page.waitForEvent('download'),
        page.click('a:has-text("herunterladen")')]);
      const file = path.join(work, dl.suggestedFilename());
      await dl.saveAs(file);
      expect(/^alice@example\.com_\d{4}-\d\d-\d\d_\d{4}-\d\d-\d\d\.pfx$/.test(dl.suggestedFilename()),
        `file name ${dl.suggestedFilename()}`);
      const info = execFileSync('openssl', ['pkcs12', '-in', file, '-nokeys', '-passin',
        `pass:${pin}`], { encoding: 'utf8' });
      expect(info.includes('alice@example.com'), 'the .pfx does not hold alice\'s certificate');
      await expectAccessible(page, 'German PIN page with the download');
    });
    await step('the link after 30 days: expired, no PIN, start again; passes axe-core', async () => {
      ageLinks(gw);
      await page.goto(gw.base + link);
      const main = await page.textContent('main');
      expect(main.includes('abgelaufen') && !(await page.isVisible('#pin')), 'the link did not expire');
      expect(await page.isVisible('form[action="/employee/enrol"]'), 'no way to start again');
      await shot(page, '06-expired');
      await expectAccessible(page, 'German expired-link page');
    });
  } catch (e) {
    failed = true;
  } finally {
    execFileSync('/usr/bin/python3', [RIG, 'stop', ldapDir]);
  }
  const code = gw ? await finish(gw, browser, failed) : 1;
  if (!failed) fs.rmSync(ldapDir, { recursive: true, force: true });
  process.exit(code);
}

main();
