// webmail.js: a webmail partner's path in headless Chromium, in German, driven by real mail:
// alice sends a secure message with hostile HTML (script, handlers, javascript: link, remote
// image and CSS, SVG, iframe), an inline cid: image and two attachments; the partner follows
// the notification's link, logs in, lands on the message, sees it without any script running
// or any request leaving for another host, downloads an attachment byte-exact, answers alice,
// and finds the answer in Sent; the inbox and the message pass axe-core (WCAG 2.1 AA), also at
// phone width. Prints "N passed, N failed"; screenshots go to artifacts/webmail-*.png.
'use strict';
const fs = require('fs');
const path = require('path');
const { ART, step, expect, instance, launch, mailbox, parseMail, finish, execFileSync,
  axeViolations, BIN } = require('./lib');

const PARTNER = 'web@partner.test';
const ALICE = 'alice@example.test';
const PASSWORD = 'Kennwort für Webmail 2026';
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489' +
  '0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082', 'hex');
const ATTACHMENT = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(3000, 0xa7)]);

const HOSTILE = `<html><head><style>body{background:url(https://remote.example/bg.png)}</style>
<link rel="stylesheet" href="https://remote.example/x.css"><script>alert('head')</script></head>
<body onload="alert('body')"><h2>Quartalszahlen</h2><p>Sehr geehrte Frau Web,</p>
<script>alert(1)</script><img src="https://remote.example/pixel.gif" alt="Zählpixel">
<img src="cid:logo@example.test" alt="Logo"><a href="javascript:alert(2)">Klick</a>
<a href="https://good.example/q3">Bericht</a><div style="background:url(https://remote.example/d.png)"
 onmouseover="alert(3)">Gruß</div><svg onload="alert(4)"><image href="https://remote.example/s.png"/></svg>
<iframe src="https://remote.example/frame"></iframe><video poster="https://remote.example/v.png"></video>
</body></html>`;

// The message, built and sent by Debian's Python (smtplib), as alice's mail server would.
function sendHostile(gw) {
  const script = `
import smtplib, sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "Alice <${ALICE}>"
m["To"] = "${PARTNER}"
m["Subject"] = "[secure] Quartalszahlen Q3"
m.set_content("Sehr geehrte Frau Web, die Zahlen.")
m.add_alternative(sys.argv[2], subtype="html")
m.get_payload()[1].add_related(bytes.fromhex(sys.argv[3]), maintype="image", subtype="png",
                               cid="<logo@example.test>")
m.add_attachment(bytes.fromhex(sys.argv[4]), maintype="application", subtype="pdf",
                 filename="Übersicht Q3.pdf")
m.add_attachment("Zeile 1\\n".encode(), maintype="text", subtype="plain", filename="notiz.txt")
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=60) as s:
    s.send_message(m, from_addr="${ALICE}", to_addrs=["${PARTNER}"])`;
  execFileSync('/usr/bin/python3', ['-c', script, String(gw.smtp), HOSTILE, PNG.toString('hex'),
    ATTACHMENT.toString('hex')]);
}

function shot(page, name) {
  return page.screenshot({ path: path.join(ART, `webmail-${name}.png`), fullPage: true });
}

// Everything a page asks for, and whether any dialog (alert) opened.
function watch(page, host) {
  const seen = { foreign: [], dialogs: 0 };
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.hostname !== host) seen.foreign.push(r.url());
  });
  page.on('dialog', async (d) => { seen.dialogs++; await d.dismiss(); });
  return seen;
}

async function noScriptInDom(page) {
  return page.evaluate(() => {
    const bad = [];
    for (const el of document.querySelectorAll('*')) {
      const tag = el.tagName.toLowerCase();
      if (['script', 'iframe', 'svg', 'object', 'embed', 'video', 'style', 'link'].includes(tag) &&
          !(tag === 'link' && el.getAttribute('href') === '/static/portal.css'))
        bad.push(tag);
      for (const a of el.attributes)
        // (Chromium itself gives hidden inputs an empty style attribute)
        if (/^on/i.test(a.name) || /^\s*javascript:/i.test(a.value) ||
            (a.name === 'style' && a.value !== ''))
          bad.push(`${tag}[${a.name}]`);
    }
    return bad;
  });
}

async function main() {
  fs.mkdirSync(ART, { recursive: true });
  const gw = await instance({ maildir: true });
  execFileSync(BIN, ['user', 'add-external', PARTNER, '--channel', 'webmail', '--password-stdin',
    '-c', path.join(gw.inst, 'sealgate.conf')], { input: `${PASSWORD}\n` });
  const work = path.join(gw.dir, 'work');
  fs.mkdirSync(work);
  const browser = await launch(gw);
  const ctx = await browser.newContext({ locale: 'de-DE', acceptDownloads: true,
    viewport: { width: 1000, height: 760 } });
  const page = await ctx.newPage();
  const seen = watch(page, 'portal.example.test');
  let failed = false;
  let link;
  try {
    await step('the notification carries a link, not the content', async () => {
      sendHostile(gw);
      const [note] = await mailbox(gw.mdExt, PARTNER, 1, 60000);
      const n = parseMail(note, work);
      expect(!n.text.includes('Sehr geehrte'), 'the notification carries the content');
      link = n.text.match(/(https:\/\/portal\.example\.test:\d+\/webmail\/[0-9a-f]{32})/)[1];
    });
    await step('notification link -> German login -> the message', async () => {
      await page.goto(link);
      expect(page.url().includes('/login?next=/webmail/'), `not sent to login: ${page.url()}`);
      expect(await page.getAttribute('html', 'lang') === 'de', 'lang is not de');
      await page.fill('#email', PARTNER);
      await page.fill('#password', PASSWORD);
      await Promise.all([page.waitForURL(link), page.click('main button[type=submit]')]);
      const main = await page.textContent('main');
      expect(main.includes('Quartalszahlen') && main.includes('Sehr geehrte Frau Web'),
        'the message is not shown');
      expect(main.includes('Antworten') && main.includes('Löschen'), 'no German actions');
      await shot(page, '01-read');
    });
    await step('hostile HTML: no script in the DOM, no alert, no request to another host', async () => {
      const bad = await noScriptInDom(page);
      expect(bad.length === 0, `the DOM holds ${bad.join(', ')}`);
      await page.hover('text=Gruß');
      expect(seen.dialogs === 0, `${seen.dialogs} dialog(s) opened`);
      expect(seen.foreign.length === 0, `requests left the portal: ${seen.foreign.join(' ')}`);
      const logo = await page.$('img[alt=Logo]');
      expect(logo && await logo.evaluate((i) => i.complete && i.naturalWidth === 1),
        'the cid: image is not shown');
      const target = await page.textContent('.link-target');
      expect(target.includes('https://good.example/q3'), 'the link target is not shown');
    });
    await step('the message and the inbox pass axe-core (WCAG 2.1 AA)', async () => {
      let v = await axeViolations(page);
      expect(v.length === 0, `message: ${v.join('; ')}`);
      await page.goto(`${gw.base}/webmail`);
      v = await axeViolations(page);
      expect(v.length === 0, `inbox: ${v.join('; ')}`);
      await shot(page, '02-inbox');
      await page.goto(link);
    });
    await step('download: the attachment byte-exact, under its own name', async () => {
      const [dl] = await Promise.all([page.waitForEvent('download'),
        page.click('a:has-text("Übersicht Q3.pdf")')]);
      expect(dl.suggestedFilename() === 'Übersicht Q3.pdf', `named ${dl.suggestedFilename()}`);
      const got = fs.readFileSync(await dl.path());
      expect(got.equals(ATTACHMENT), 'the downloaded bytes differ');
    });
    await step('reply: it reaches alice, and the copy is in Sent', async () => {
      await Promise.all([page.waitForURL('**/reply'), page.click('a:has-text("Antworten")')]);
      expect((await page.inputValue('#to')) === ALICE, 'the reply is not addressed to alice');
      await page.fill('textarea', 'Danke, erhalten.');
      await shot(page, '03-reply');
      await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
      const [reply] = await mailbox(gw.mdInt, ALICE, 1, 60000);
      const r = parseMail(reply, work);
      expect(r.text.includes('Danke, erhalten.'), 'the reply text did not arrive');
      expect(/^Re: /.test(r.headers.Subject || ''), `subject ${r.headers.Subject}`);
      await page.goto(`${gw.base}/webmail/sent`);
      expect((await page.textContent('main')).includes('Re: Quartalszahlen Q3'), 'not in Sent');
    });
    await step('phone width: inbox and message fit, pass axe-core', async () => {
      const phone = await browser.newContext({ locale: 'de-DE', viewport: { width: 375, height: 740 },
        storageState: await ctx.storageState() });
      const p = await phone.newPage();
      const pseen = watch(p, 'portal.example.test');
      for (const [url, name] of [[`${gw.base}/webmail`, '04-phone-inbox'], [link, '05-phone-read']]) {
        await p.goto(url);
        await p.screenshot({ path: path.join(ART, `webmail-${name}.png`), fullPage: true });
        const wide = await p.evaluate(() => document.documentElement.scrollWidth);
        expect(wide <= 376, `${name}: the page is ${wide} px wide`);
        const v = await axeViolations(p);
        expect(v.length === 0, `${name}: ${v.join('; ')}`);
      }
      expect(pseen.foreign.length === 0 && pseen.dialogs === 0, 'a request left or a dialog opened');
      await phone.close();
    });
  } catch (e) {
    failed = true;
    await page.screenshot({ path: path.join(ART, 'webmail-failure.png'), fullPage: true }).catch(() => {});
  }
  process.exit(await finish(gw, browser, failed));
}
main().catch((e) => { console.log(`0 passed, 1 failed (${e.message})`); process.exit(1); });
