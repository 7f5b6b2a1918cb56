"""Fixtures for the black-box tests: fresh sealgate instances on free loopback ports, SMTP
sinks and private Postfix instances. Every server a test starts is stopped at teardown, pass or
fail, and a failing test shows the tail of each server's log."""

import os
import pathlib
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import sgrig  # noqa: E402
from postfix_rig import Postfix, PostfixError, require_postfix  # noqa: E402
from dns_rig import DnsRig  # noqa: E402
from slapd_rig import Slapd  # noqa: E402
from smtpsink import SmtpSink  # noqa: E402


def _logs_of(item):
    if not hasattr(item, "_sg_logs"):
        item._sg_logs = []
    return item._sg_logs


def _did_not_run(item, rep):
    """A skip is never silent: `make check` (SG_SKIP_LOG) counts it and names it at the end, and
    under CI=true, where every peer, root and the corpus are present, it is a failure."""
    reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
    reason = reason.removeprefix("Skipped: ")
    log = os.environ.get("SG_SKIP_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"integration: {item.nodeid}: {reason}\n")
    if os.environ.get("CI") == "true":
        rep.outcome = "failed"
        rep.longrepr = f"did not run under CI=true, where every test must run: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and not hasattr(rep, "wasxfail"):
        _did_not_run(item, rep)
    if rep.failed:
        item._sg_failed = True
        for title, fn in getattr(item, "_sg_logs", []):
            try:
                rep.sections.append((title, fn()))
            except Exception as e:  # a log we cannot read must not hide the failure
                rep.sections.append((title, f"(cannot read: {e})"))


@pytest.fixture
def workdir(request):
    """A fresh directory under /tmp that other users can traverse (pytest's tmp_path is 0700,
    and Postfix's virtual(8) delivers as uid 65534). Removed after a pass, kept after a failure."""
    d = tempfile.mkdtemp(prefix="sg-it-", dir="/tmp")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    if getattr(request.node, "_sg_failed", False):
        print(f"\nkept {d} for inspection", file=sys.stderr)
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def gw_factory(request, workdir):
    """make(name="gw", domains=...) -> sgrig.Gateway, initialised, configured, not started."""
    if not os.access(sgrig.SEALGATE_BIN, os.X_OK):
        pytest.fail(f"no sealgate binary at {sgrig.SEALGATE_BIN}: build it (make) or set SEALGATE_BIN")
    made = []

    def make(name="gw", **kw):
        g = sgrig.Gateway(str(workdir), name, **kw)
        made.append(g)
        _logs_of(request.node).append((f"sealgate log tail ({name})", g.log_tail))
        return g

    yield make
    problems = []
    for g in made:
        was_running = g.running()
        rc = g.stop()
        if was_running and rc != 0:
            problems.append(f"{g.dir}: SIGTERM at teardown gave {rc!r}, not exit 0")
        allowed = getattr(g, "allowed_problems", None)  # a test that kills a child on purpose
        problems += [f"{g.dir}: {line}" for line in sgrig.log_problems(g.log())
                     if allowed is None or not allowed.search(line)]
        problems += [f"{g.dir}: not in the log format: {line}" for line in sgrig.foreign_lines(g.log())]
        g.release_store()
    if problems:
        pytest.fail("the gateway misbehaved during this test:\n" + "\n".join(problems[:20]),
                    pytrace=False)


def maildir_routes(g, base):
    """Point both routes of g at Maildirs under base; returns (internal, external) paths."""
    internal, external = os.path.join(base, "md-internal"), os.path.join(base, "md-external")
    g.set(**{"route.internal": f"maildir:{internal}", "route.external": f"maildir:{external}"})
    return internal, external


@pytest.fixture
def gateway(gw_factory, workdir):
    """A running gateway whose routes are Maildirs: .md_int / .md_ext are their roots."""
    g = gw_factory()
    g.md_int, g.md_ext = maildir_routes(g, str(workdir))
    return g.start()


@pytest.fixture
def portal_gw(gw_factory, workdir):
    """A running gateway with Maildir routes (.md_int / .md_ext) whose portal is up."""
    g = gw_factory()
    g.md_int, g.md_ext = maildir_routes(g, str(workdir))
    g.start()
    sgrig.wait_for(lambda: sgrig.port_open(g.portal_port), 20, what="portal port")
    return g


@pytest.fixture
def sink_factory(request):
    """make(port=None) -> a started SmtpSink on a free (or the given) port."""
    made = []

    def make(port=None):
        s = SmtpSink(port or sgrig.free_port()).start()
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


@pytest.fixture
def postfix_factory(request, workdir):
    """make(mailboxes={domain: [users]}, relay=None, content_filter=None) -> a started private
    Postfix; with content_filter="127.0.0.1:PORT" it hands every message to that filter and
    takes it back on .reinject_port (notes/test-rig.md part d)."""
    try:
        require_postfix()
    except PostfixError as e:
        pytest.fail(str(e))
    made = []

    def make(mailboxes, relay=None, name="postfix", content_filter=None, extra_main=None,
             port=None):
        p = Postfix(str(workdir / name), port or sgrig.free_port(), mailboxes, relay,
                    extra_main=extra_main, content_filter=content_filter,
                    reinject_port=sgrig.free_port() if content_filter else None)
        made.append(p)
        _logs_of(request.node).append((f"postfix maillog ({name})", p.log_tail))
        return p.start()

    yield make
    for p in made:
        p.stop()


@pytest.fixture
def slapd(request, workdir):
    """A private OpenLDAP slapd (slapd_rig.py) on a free port: StartTLS with its own CA, the
    employees of slapd_rig.PEOPLE (inetOrgPerson) and AD_PEOPLE (AD-style schema). Stopped at
    teardown."""
    if shutil.which("slapd") is None and not os.path.exists("/usr/sbin/slapd"):
        pytest.fail("slapd is not installed: run scripts/deps.sh (make deps)")
    s = Slapd(str(workdir), sgrig.free_port()).setup()
    _logs_of(request.node).append(("slapd log tail", s.log))
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def dns_rig():
    """A private unbound (dns_rig.py) serving a DNSSEC-signed and an unsigned test zone, one per
    test module; tests add records under names of their own and commit(). Its trust anchor and
    address go to a gateway by g.set(**dns_rig.settings())."""
    if shutil.which("unbound") is None and not os.path.exists("/usr/sbin/unbound"):
        pytest.fail("unbound is not installed: run scripts/deps.sh (make deps)")
    if shutil.which("ldns-signzone") is None:
        pytest.fail("ldns-signzone is not installed: run scripts/deps.sh (make deps)")
    d = tempfile.mkdtemp(prefix="sg-dns-", dir="/tmp")
    rig = DnsRig(d).start()
    yield rig
    rig.stop()
    shutil.rmtree(d, ignore_errors=True)
