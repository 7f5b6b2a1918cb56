// run.js: the portal end to end in headless Chromium (playwright-core, Debian's chromium).
// Makes its own instance with the sealgate binary in SEALGATE_BIN, invites a partner with the
// CLI, then registers (password, security questions), logs in, switches the channel, uploads a
// certificate, resets the password with the security questions and the code mailed to the
// partner's Maildir, changes it, and writes a
// message with attachments to an internal address in the browser.
// Prints "N passed, N failed"; screenshots go to artifacts/.
'use strict';
const fs = require('fs');
const path = require('path');
const { ART, sg, step, expect, instance, launch, finish, execFileSync, mailbox, parseMail } =
  require('./lib');

const PARTNER = 'browser@partner.test';
const PASSWORD = 'Kennwort mit Länge 2026';
const NEW_PASSWORD = 'Ein neues Kennwort 2027';
const CHANGED_PASSWORD = 'Noch ein Kennwort 2028';
const QUESTIONS = [['first_pet', 'Bello'], ['birth_city', 'München'], ['first_car', 'VW Käfer']];

async function main() {
  fs.mkdirSync(ART, { recursive: true });
  const gw = await instance({ maildir: true });
  const base = gw.base;
  const browser = await launch(gw);
  const ctx = await browser.newContext({ locale: 'de-DE',
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
      await Promise.all([page.waitForURL('**/register/questions'), page.click('main button[type=submit]')]);
      expect((await page.textContent('h1')).includes('Sicherheitsfragen'), 'no questions page');
      for (const [i, [key, ans]] of QUESTIONS.entries()) {
        expect(await page.isVisible(`label[for=q${i + 1}]`) && await page.isVisible(`label[for=answer${i + 1}]`),
          `question ${i + 1} lacks a label`);
        await page.selectOption(`#q${i + 1}`, key);
        await page.fill(`#answer${i + 1}`, ans);
      }
      await page.screenshot({ path: path.join(ART, '02b-questions.png'), fullPage: true });
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
    await step('forgot password: security questions, then a new password', async () => {
      await page.setViewportSize({ width: 900, height: 700 });
      await Promise.all([page.waitForURL('**/login**'), page.click('header button[type=submit]')]);
      await Promise.all([page.waitForURL('**/forgot'), page.click('a[href="/forgot"]')]);
      await page.screenshot({ path: path.join(ART, '05-forgot.png'), fullPage: true });
      await page.fill('#email', PARTNER.toUpperCase());
      const box = path.join(gw.mdExt, PARTNER, 'new');
      const before = fs.existsSync(box) ? fs.readdirSync(box).length : 0;
      await Promise.all([page.waitForURL('**/forgot/answers'), page.click('main button[type=submit]')]);
      const mails = await mailbox(gw.mdExt, PARTNER, before + 1, 60000);
      const mailed = parseMail(mails[mails.length - 1], ART).text.match(/^ {4}(\d{8})$/m);
      expect(mailed, 'no reset code in the mail');
      expect(await page.isVisible('label[for=code]'), 'the code field lacks a label');
      await page.fill('#code', mailed[1]);
      for (const n of [1, 2, 3]) expect(await page.isVisible(`label[for=answer${n}]`), `answer ${n} lacks a label`);
      expect((await page.textContent('label[for=answer1]')).includes('first pet'), 'not the chosen question');
      await page.fill('#answer1', 'Bello');
      await page.fill('#answer2', 'Hamburg');
      await page.fill('#answer3', 'VW Käfer');
      await page.click('main button[type=submit]');
      expect((await page.textContent('.error')).includes('do not match'), 'wrong answers accepted');
      await page.screenshot({ path: path.join(ART, '06-answers-wrong.png'), fullPage: true });
      await page.fill('#answer1', '  BELLO ');
      await page.fill('#answer2', 'münchen');
      await page.fill('#answer3', 'vw  käfer');
      await page.fill('#code', mailed[1]);
      await Promise.all([page.waitForURL('**/forgot/password'), page.click('main button[type=submit]')]);
      await page.fill('#password', NEW_PASSWORD);
      await page.fill('#password2', NEW_PASSWORD);
      await page.screenshot({ path: path.join(ART, '07-new-password.png'), fullPage: true });
      await Promise.all([page.waitForURL('**/login?m=reset_done'), page.click('main button[type=submit]')]);
      expect((await page.textContent('.ok')).includes('has been reset'), 'no reset message');
      await page.screenshot({ path: path.join(ART, '08-reset-done.png'), fullPage: true });
      await page.fill('#email', PARTNER);
      await page.fill('#password', PASSWORD);
      await page.click('main button[type=submit]');
      expect((await page.textContent('.error')).includes('Login failed'), 'the old password still works');
      await page.fill('#email', PARTNER);
      await page.fill('#password', NEW_PASSWORD);
      await Promise.all([page.waitForURL('**/account'), page.click('main button[type=submit]')]);
    });
    await step('change password on the account', async () => {
      await Promise.all([page.waitForURL('**/account/password'), page.click('a[href="/account/password"]')]);
      await page.fill('#current', NEW_PASSWORD);
      await page.fill('#password', CHANGED_PASSWORD);
      await page.fill('#password2', CHANGED_PASSWORD);
      await page.screenshot({ path: path.join(ART, '09-change-password.png'), fullPage: true });
      await Promise.all([page.waitForURL('**/account/password?m=pw_changed'), page.click('main button[type=submit]')]);
      expect((await page.textContent('.ok')).includes('has been changed'), 'no change message');
      await page.screenshot({ path: path.join(ART, '10-password-changed.png'), fullPage: true });
    });
    await step('compose: refused to an external, sent with attachments to an internal', async () => {
      await Promise.all([page.waitForURL('**/compose'), page.click('a[href="/compose"]')]);
      expect(await page.isVisible('label[for=to]') && await page.isVisible('label[for=files]'),
        'compose fields lack labels');
      const files = [['Bericht <1>.pdf', Buffer.from('%PDF-1.4 fake\n')],
        ['daten.bin', Buffer.from([...Array(256).keys()])]]
        .map(([name, buffer]) => ({ name, mimeType: 'application/octet-stream', buffer }));
      await page.fill('#to', 'someone@elsewhere.test');
      await page.fill('#subject', 'Angebot <b>');
      await page.fill('#text', 'Guten Tag,\nanbei das Angebot.');
      await page.setInputFiles('#files', files);
      await page.screenshot({ path: path.join(ART, '11-compose.png'), fullPage: true });
      await page.click('main button[type=submit]');
      expect((await page.textContent('.error')).includes('only go to addresses of the organisation'),
        'an external recipient was not refused');
      expect((await page.inputValue('#text')).includes('anbei das Angebot'), 'the text was lost');
      await page.screenshot({ path: path.join(ART, '12-compose-refused.png'), fullPage: true });
      await page.fill('#to', 'chef@example.test');
      await page.setInputFiles('#files', files);
      await page.click('main button[type=submit]');
      expect((await page.textContent('.ok')).includes('sent securely'), 'no confirmation');
      const main = await page.textContent('main');
      expect(main.includes('Bericht <1>.pdf') && main.includes('Angebot <b>'), 'confirmation lacks names');
      await page.screenshot({ path: path.join(ART, '13-sent.png'), fullPage: true });
      const box = path.join(gw.mdInt, 'chef@example.test', 'new');
      const end = Date.now() + 20000;
      while (!(fs.existsSync(box) && fs.readdirSync(box).length > 0) && Date.now() < end)
        await new Promise((r) => setTimeout(r, 200));
      const mail = fs.readFileSync(path.join(box, fs.readdirSync(box)[0]), 'latin1');
      expect(mail.includes(`X-Sealgate-Security: portal; authenticated=<${PARTNER}>`), 'no portal field');
      expect(mail.includes(Buffer.from([...Array(256).keys()]).toString('base64').slice(0, 60)),
        'the attachment is not in the delivered mail');
    });
  } catch (e) {
    failed = true;
    await page.screenshot({ path: path.join(ART, 'failure.png'), fullPage: true }).catch(() => {});
  }
  process.exit(await finish(gw, browser, failed));
}
main().catch((e) => { console.log(`0 passed, 1 failed (${e.message})`); process.exit(1); });
