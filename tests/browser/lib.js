// lib.js: what the browser tests share: a sealgate instance of their own (free ports, optional
// Maildir routes), the headless Chromium launch, steps with pass/fail bookkeeping, and reading
// the Maildirs the gateway delivers into.
'use strict';
const { chromium } = require('playwright-core');
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const BIN = process.env.SEALGATE_BIN || path.resolve(__dirname, '../../build/sealgate');
const ART = path.join(__dirname, 'artifacts');
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
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitPort(port, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); r(true); });
      c.on('error', () => r(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`port ${port} not open`);
}

// A running instance; with maildir, both routes deliver into Maildirs under dir.
// The portal is reached by its name, which Chromium maps to 127.0.0.1 (launch), and verified
// against the instance CA alone: trusted in an NSS database of its own, in the HOME Chromium
// runs with (Chromium on Linux reads ~/.pki/nssdb). No certificate error is ignored.
const HOST = 'portal.example.test';

function trustInstanceCa(inst, home) {
  const db = path.join(home, '.pki', 'nssdb');
  fs.mkdirSync(db, { recursive: true });
  execFileSync('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
  execFileSync('certutil', ['-A', '-d', `sql:${db}`, '-n', 'sealgate instance CA', '-t', 'C,,',
    '-i', path.join(inst, 'ca', 'ca.crt')]);
}

async function instance({ maildir = false, settings = [] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-browser-'));
  const inst = path.join(dir, 'gw');
  execFileSync(BIN, ['init', inst, '--domain', 'example.test', '--org', 'Beispiel GmbH',
    '--hostname', HOST]);
  trustInstanceCa(inst, path.join(dir, 'home'));
  const port = await freePort();
  const smtp = await freePort();
  const keys = [['smtp.listen', `127.0.0.1:${smtp}`], ['ldap.listen', `127.0.0.1:${await freePort()}`],
    ['portal.listen', `127.0.0.1:${port}`], ['portal.base_url', `https://${HOST}:${port}`],
    ['smtp.internal_networks', '127.0.0.1/32'], ...settings];
  if (maildir)
    keys.push(['route.internal', `maildir:${path.join(dir, 'md-int')}`],
      ['route.external', `maildir:${path.join(dir, 'md-ext')}`]);
  for (const [k, v] of keys) sg(inst, 'config', 'set', k, v);
  const log = fs.openSync(path.join(dir, 'sealgate.log'), 'a');
  const proc = spawn(BIN, ['run', '-c', path.join(inst, 'sealgate.conf')],
    { stdio: ['ignore', log, log] });
  await waitPort(port, 20000);
  await waitPort(smtp, 20000);
  return { dir, inst, port, smtp, proc, base: `https://${HOST}:${port}`, home: path.join(dir, 'home'),
    mdInt: path.join(dir, 'md-int'), mdExt: path.join(dir, 'md-ext') };
}

async function launch(gw) {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true, env: { ...process.env, HOME: gw.home },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', `--host-resolver-rules=MAP ${HOST} 127.0.0.1`,
      '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
}

// The messages delivered to addr under the Maildir root (oldest first), waiting for count.
async function mailbox(root, addr, count, ms = 30000) {
  const dir = path.join(root, addr, 'new');
  const end = Date.now() + ms;
  for (;;) {
    const names = fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
    if (names.length >= count)
      return names.map((n) => fs.readFileSync(path.join(dir, n), 'latin1'));
    if (Date.now() > end) throw new Error(`${addr}: ${names.length} of ${count} messages`);
    await sleep(200);
  }
}

// Decoded text parts, attachments, header values of a raw message (Debian's python parses).
function parseMail(raw, saveDir) {
  const script = `
import email, email.policy, json, os, sys
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
out = {"headers": {k: str(v) for k, v in m.items()}, "text": "", "files": []}
for p in m.walk():
    if p.is_multipart(): continue
    name = p.get_filename()
    if name:
        data = p.get_content() if isinstance(p.get_content(), bytes) else p.get_payload(decode=True)
        dest = os.path.join(sys.argv[1], os.path.basename(name))
        open(dest, "wb").write(data)
        out["files"].append(dest)
    elif p.get_content_type() == "text/plain":
        out["text"] += p.get_content()
print(json.dumps(out))`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, saveDir],
    { input: Buffer.from(raw, 'latin1'), encoding: 'utf8' }));
}

// The lines the master and the sanitizers really write when something went wrong (the same
// list as PROBLEM_RX in tests/integration/sgrig.py): a child that crashed or exited non-zero,
// a restart, a sanitizer report, an SQL error.
const PROBLEM_RX = new RegExp('AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:' +
  '|restarting in \\d+ ms|exited with status [1-9]|killed by signal|children still running after' +
  '|error: store: ');

// Stops the instance; a clean log (no sanitizer report, no crash) is one more result.
async function finish(gw, browser, failed) {
  if (browser) await browser.close();
  const exited = new Promise((r) => gw.proc.on('exit', (code, signal) => r({ code, signal })));
  gw.proc.kill('SIGTERM');
  const { code, signal } = await exited;
  results.push([`the gateway exits 0 on SIGTERM (got ${code ?? signal})`, code === 0]);
  const log = fs.readFileSync(path.join(gw.dir, 'sealgate.log'), 'utf8');
  const problems = log.split('\n').filter((l) => PROBLEM_RX.test(l));
  results.push(['no sanitizer reports or crashes in the gateway log', problems.length === 0]);
  if (problems.length) console.log(`FAIL sanitizer/crash lines:\n${problems.slice(0, 10).join('\n')}`);
  else if (!failed) fs.rmSync(gw.dir, { recursive: true, force: true });
  else console.log(`kept ${gw.dir}`);
  const pass = results.filter((r) => r[1]).length;
  const fail = results.length - pass + (failed && results.every((r) => r[1]) ? 1 : 0);
  console.log(`${pass} passed, ${fail} failed`);
  return fail === 0 ? 0 : 1;
}

// axe-core's WCAG 2.1 A and AA rules on the page as it stands: the violations (id and the
// first nodes). The portal's CSP allows no script, so axe runs through the DevTools protocol
// (page.evaluate), which no page script could; call it after any check that the DOM holds no
// script element.
let AXE = null;
async function axeViolations(page) {
  AXE = AXE || fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(AXE);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag',
      values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return r.violations.map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
}

module.exports = { BIN, ART, freePort, sg, step, expect, sleep, waitPort, instance, launch,
  mailbox, parseMail, finish, execFileSync, axeViolations };
