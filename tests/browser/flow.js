// flow.js: a partner's whole path in headless Chromium, driven by real mail: alice writes
// securely to a partner the gateway does not know; the partner reads the invitation from the
// Maildir, registers with the OTP alice received, gets the held mail as a SecurePDF (opened
// with qpdf and the chosen password), follows its Reply link and answers alice on the portal;
// then uploads a certificate and gets S/MIME that gpgsm decrypts; finally the lockout.
'use strict';
const fs = require('fs');
const path = require('path');
const { ART, sg, step, expect, instance, launch, mailbox, parseMail, finish,
  execFileSync } = require('./lib');

const PARTNER = 'flow@partner.test';
const ALICE = 'alice@example.test';
const PASSWORD = 'Ein sicheres Kennwort 2026';

function shot(page, name) {
  return page.screenshot({ path: path.join(ART, `flow-${name}.png`), fullPage: true });
}

function sendMail(gw, subject, body) {
  execFileSync('swaks', ['--server', `127.0.0.1:${gw.smtp}`, '--from', ALICE, '--to', PARTNER,
    '--header', `Subject: ${subject}`, '--body', body, '--attach-name', 'angebot.txt',
    '--attach-type', 'text/plain', '--attach', '@-'], { input: 'Preis: 42 EUR\n', stdio: ['pipe', 'ignore', 'inherit'] });
}

async function main() {
  fs.mkdirSync(ART, { recursive: true });
  const gw = await instance({ maildir: true });
  const { mdInt, mdExt } = gw;
  const work = path.join(gw.dir, 'work');
  fs.mkdirSync(work);
  const browser = await launch(gw);
  const ctx = await browser.newContext({ locale: 'en-GB',
    viewport: { width: 1000, height: 760 } });
  const page = await ctx.newPage();
  let failed = false;
  let otp, link, replyUrl;
  try {
    await step('a secure mail to an unknown partner is held; invitation and OTP go out', async () => {
      sendMail(gw, '[secure] Angebot', 'Das Angebot, nur für Sie.');
      const [notice] = await mailbox(mdInt, ALICE, 1);
      const n = parseMail(notice, work);
      otp = n.text.match(/^\s*([A-Z0-9]{4}(?:-[A-Z0-9]{4}){4})\s*$/m)[1];
      const [inv] = await mailbox(mdExt, PARTNER, 1);
      const i = parseMail(inv, work);
      expect(!i.text.includes(otp), 'the OTP travelled with the invitation');
      link = i.text.match(/(https:\/\/portal\.example\.test:\d+\/register)/)[1];
      expect(sg(gw.inst, 'user', 'show', PARTNER).includes('held:     1 message'), 'nothing held');
    });
    await step('registration from the invitation link: OTP, password, questions', async () => {
      await page.goto(link);
      await shot(page, '01-register');
      await page.fill('#email', PARTNER);
      await page.fill('#otp', otp);
      await Promise.all([page.waitForURL('**/register/password'), page.click('main button[type=submit]')]);
      await page.fill('#password', PASSWORD);
      await page.fill('#password2', PASSWORD);
      await shot(page, '02-password');
      await Promise.all([page.waitForURL('**/register/questions'), page.click('main button[type=submit]')]);
      const answers = [['first_pet', 'Bello'], ['birth_city', 'Köln'], ['first_car', 'Golf']];
      for (const [i, [key, ans]] of answers.entries()) {
        await page.selectOption(`#q${i + 1}`, key);
        await page.fill(`#answer${i + 1}`, ans);
      }
      await shot(page, '03-questions');
      await Promise.all([page.waitForURL('**/account**'), page.click('main button[type=submit]')]);
      await shot(page, '04-account');
    });
    await step('the held mail arrives as a SecurePDF that opens with the password (qpdf)', async () => {
      const msgs = await mailbox(mdExt, PARTNER, 2, 60000);
      const m = parseMail(msgs[1], work);
      const pdf = m.files.find((f) => f.endsWith('secure-message.pdf'));
      expect(pdf, 'no secure-message.pdf');
      let refused = false;
      try { execFileSync('qpdf', ['--password=wrong', '--check', pdf], { stdio: 'ignore' }); }
      catch (e) { refused = true; }
      expect(refused, 'the PDF opened with a wrong password');
      const open = path.join(work, 'open.pdf');
      execFileSync('qpdf', [`--password=${PASSWORD}`, '--decrypt', pdf, open]);
      const text = execFileSync('pdftotext', [open, '-'], { encoding: 'utf8' });
      expect(text.includes('Das Angebot'), 'the text is not in the PDF');
      const urls = execFileSync('pdfinfo', ['-upw', PASSWORD, '-url', pdf], { encoding: 'utf8' });
      replyUrl = urls.match(/(https:\/\/\S+\/reply\/[A-Za-z0-9_-]+)/)[1];
    });
    await step('the Reply link answers alice on the portal; the reply is delivered', async () => {
      await page.goto(replyUrl);
      await shot(page, '05-reply');
      expect((await page.content()).includes(ALICE), 'the reply is not addressed to alice');
      await page.fill('textarea', 'Danke, einverstanden.');
      await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
      await shot(page, '06-sent');
      const msgs = await mailbox(mdInt, ALICE, 2, 60000);
      const r = parseMail(msgs[1], work);
      expect(r.text.includes('Danke, einverstanden.'), 'the reply text did not arrive');
      expect((r.headers['X-Sealgate-Security'] || '').includes('portal'), 'no portal origin header');
      expect((r.headers['In-Reply-To'] || '').length > 2, 'no In-Reply-To');
    });
    await step('certificate upload, channel S/MIME: the next mail decrypts with gpgsm', async () => {
      const key = path.join(work, 'p.key');
      const crt = path.join(work, 'p.crt');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key,
        '-out', crt, '-days', '60', '-subj', '/CN=Flow Partner', '-addext', `subjectAltName=email:${PARTNER}`,
        '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment',
        '-addext', 'extendedKeyUsage=emailProtection'], { stdio: 'ignore' });
      await page.goto(`${gw.base}/account`);
      await page.setInputFiles('#file', crt);
      await Promise.all([page.waitForURL('**/account?m=up_ok'), page.click('button:has-text("Upload")')]);
      await page.check('input[value=smime]');
      await Promise.all([page.waitForURL('**/account?m=ch_saved'), page.click('button:has-text("Save")')]);
      await shot(page, '07-smime');
      sendMail(gw, '[secure] Vertrag', 'Der Vertrag, verschlüsselt.');
      const msgs = await mailbox(mdExt, PARTNER, 3, 60000);
      const file = path.join(work, 'smime.eml');
      fs.writeFileSync(file, msgs[2], 'latin1');
      expect(msgs[2].includes('application/pkcs7-mime'), 'not S/MIME');
      const plain = execFileSync(path.join(__dirname, 'gpgsm-decrypt.sh'), [key, crt, file], { encoding: 'utf8' });
      expect(plain.includes('Der Vertrag'), 'gpgsm did not decrypt it');
    });
    await step('lockout after five wrong passwords, with the same message for everyone', async () => {
      const other = await browser.newContext({ locale: 'en-GB' });
      const p = await other.newPage();
      let text = '';
      for (let i = 0; i < 6; i++) {
        await p.goto(`${gw.base}/login`);
        await p.fill('#email', PARTNER);
        await p.fill('#password', `wrong ${i}`);
        await p.click('main button[type=submit]');
        text = await p.textContent('main');
      }
      await p.screenshot({ path: path.join(ART, 'flow-08-locked.png'), fullPage: true });
      expect(/locked|too many/i.test(text), `no lockout message: ${text.slice(0, 200)}`);
      await p.goto(`${gw.base}/login`);
      await p.fill('#email', PARTNER);
      await p.fill('#password', PASSWORD);
      await p.click('main button[type=submit]');
      expect(!p.url().includes('/account'), 'the right password opened a locked account');
      await other.close();
    });
  } catch (e) {
    failed = true;
    await page.screenshot({ path: path.join(ART, 'flow-failure.png'), fullPage: true }).catch(() => {});
  }
  process.exit(await finish(gw, browser, failed));
}
main().catch((e) => { console.log(`0 passed, 1 failed (${e.message})`); process.exit(1); });
