#!/usr/bin/python3
"""check-deps: proves on this machine that scripts/deps.sh installs everything the tests, the
demo and the benchmarks use. Every executable they call, every font they draw with and every
Python module they import must be a file of a package that deps.sh names, or that one of those
pulls in as a Depends/Pre-Depends (recursively), or of an Essential package; tools with optional
parts are asked whether they have them. A failure names the package to add to deps.sh.
Reads dpkg's database directly (no apt-cache, no network): well under a second."""

import ast
import glob
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DPKG_INFO = "/var/lib/dpkg/info"

# Called from shell scripts, JavaScript or through variables, where the scan below cannot see.
TOOLS = """
swaks openssl gpgsm gpg gpgconf gpg-agent rnp rnpkeys sq cmsutil certutil pk12util qpdf
pdftotext pdfdetach pdfinfo pdftoppm mutool ldapsearch slapd slapadd postfix postconf postmap
postqueue smtp-sink smtp-source chromium wrk node npm valgrind clang cc cmake make pkg-config
ctest cppcheck clang-tidy runuser script pgrep setpriv fc-match readelf nm ldd
dpkg-buildpackage dh lintian debootstrap chroot curl systemd-analyze promtool groff
""".split()

# Fonts SecurePDF and the browser tests render with: fontconfig's pick must come from our deps.
FONTS = ["sans-serif:lang=en", "sans-serif:lang=ja", "sans-serif:lang=zh-cn", "sans-serif:lang=ko",
         "sans-serif:lang=ar", "sans-serif:lang=he", "Liberation Sans"]

SCAN_DIRS = ["tests/integration", "tests/browser", "bench", "scripts", "tools"]
CALL_RX = re.compile(r"""(?:run|Popen|check_output|check_call|which|execFileSync|spawnSync|spawn)\(\s*\[?\s*["']([a-z][a-z0-9_.+-]*)["']""")


def installed_packages():
    """{name: (essential, [depends alternatives], [provides])} of every installed package."""
    fmt = "${Package}\t${Status}\t${Essential}\t${Pre-Depends}, ${Depends}\t${Provides}\n"
    out = subprocess.run(["dpkg-query", "-W", "-f", fmt], capture_output=True, text=True,
                         check=True).stdout
    pkgs = {}
    for line in out.splitlines():
        name, status, essential, deps, provides = (line.split("\t") + [""] * 5)[:5]
        if not status.endswith("ok installed"):
            continue
        alts = []
        for dep in deps.split(","):
            choice = [re.sub(r"[\s(:].*", "", a.strip()) for a in dep.split("|") if a.strip()]
            if choice:
                alts.append(choice)
        prov = [re.sub(r"[\s(:].*", "", p.strip()) for p in provides.split(",") if p.strip()]
        pkgs[name] = (essential == "yes", alts, prov)
    return pkgs


def closure(roots, pkgs):
    providers = {}
    for name, (_, _, prov) in pkgs.items():
        for p in prov:
            providers.setdefault(p, []).append(name)
    seen, todo = set(), [r for r in roots if r in pkgs]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for choice in pkgs[name][1]:
            for alt in choice:  # any installed alternative may be the one that satisfies it
                todo += [alt] if alt in pkgs else providers.get(alt, [])
    return seen


def owned_files(packages):
    files = set()
    for name in os.listdir(DPKG_INFO):
        if name.endswith(".list") and name[:-5].split(":")[0] in packages:
            with open(os.path.join(DPKG_INFO, name), encoding="utf-8", errors="replace") as f:
                files.update(line.rstrip("\n") for line in f)
    return files


def variants(path):
    """The names dpkg may list a file under (merged /usr, symlinks, alternatives)."""
    out = {path, os.path.realpath(path)}
    for p in list(out):
        if p.startswith("/usr/") and p.split("/")[2] in ("bin", "sbin", "lib", "lib64"):
            out.add(p[4:])
    link = path
    for _ in range(8):  # follow each link step: /usr/bin/x -> /etc/alternatives/x -> ...
        if not os.path.islink(link):
            break
        link = os.path.join(os.path.dirname(link), os.readlink(link))
        out.add(os.path.normpath(link))
    return out


def owner(path):
    for v in sorted(variants(path)):
        r = subprocess.run(["dpkg", "-S", v], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].split(",")[0].strip()
    return None


def scanned_tools():
    found = set()
    for d in SCAN_DIRS:
        for path in glob.glob(os.path.join(ROOT, d, "**", "*"), recursive=True):
            if "node_modules" in path or not path.endswith((".py", ".js", ".mjs")):
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                found.update(CALL_RX.findall(f.read()))
    return found


def python_imports():
    mods = set()
    for d in SCAN_DIRS:
        for path in glob.glob(os.path.join(ROOT, d, "**", "*.py"), recursive=True):
            local = {os.path.splitext(os.path.basename(p))[0]
                     for p in glob.glob(os.path.join(os.path.dirname(path), "*.py"))}
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), path)
            for node in ast.walk(tree):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module and \
                    node.level == 0 else []
                mods.update(n.split(".")[0] for n in names if n.split(".")[0] not in local)
    return mods | {"pytest", "xdist"}  # xdist: make check runs the integration files in parallel


def main():
    named = subprocess.run([os.path.join(ROOT, "scripts/deps.sh"), "--list"], capture_output=True,
                           text=True, check=True).stdout.split()
    pkgs = installed_packages()
    problems = [f"package {p} (named in scripts/deps.sh) is not installed: run scripts/deps.sh"
                for p in named if p not in pkgs]
    allowed = closure(named, pkgs) | {n for n, (ess, _, _) in pkgs.items() if ess}
    allowed = closure(allowed, pkgs)
    files = owned_files(allowed)

    def check(kind, what, path):
        if path is None:
            problems.append(f"{kind} {what}: not found on this machine")
        elif not variants(path) & files:
            pkg = owner(path)
            problems.append(f"{kind} {what} ({path}) comes from "
                            + (f"package {pkg}, which scripts/deps.sh does not install: add {pkg}"
                               if pkg else "no Debian package: install it from Debian instead"))

    for tool in sorted(set(TOOLS) | scanned_tools()):
        check("executable", tool, shutil.which(tool))
    for pattern in FONTS:
        r = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True)
        check("font for", repr(pattern), r.stdout or None)
    sys.path = [p for p in sys.path if not p.startswith(ROOT)]
    import importlib.util
    for mod in sorted(python_imports()):
        spec = importlib.util.find_spec(mod)
        if spec is None:
            problems.append(f"python module {mod}: not importable by /usr/bin/python3")
        elif spec.origin not in (None, "built-in", "frozen"):
            check("python module", mod, spec.origin)
    problems += optional_parts()
    if problems:
        print("check-deps: scripts/deps.sh does not install everything that is used:")
        print("\n".join("  " + p for p in problems))
        return 1
    print(f"check-deps: {len(named)} packages of scripts/deps.sh (and their Depends) provide every "
          "executable, font and Python module the tests, the demo and the benchmarks use")
    return 0


def optional_parts():
    """Tools whose optional parts come from a Recommends: ask the tool itself."""
    out = []
    r = subprocess.run(["swaks", "--support"], capture_output=True, text=True)
    tls = [line for line in (r.stdout + r.stderr).splitlines() if " TLS " in line + " "]
    if not any(line.startswith("=== TLS supported") for line in tls):
        out.append(f"swaks cannot do STARTTLS ({' '.join(tls) or 'swaks --support failed'}):"
                   " add libnet-ssleay-perl")
    r = subprocess.run(["perl", "-MIO::Socket::SSL", "-e", "1"], capture_output=True, text=True)
    if r.returncode != 0:
        out.append("perl has no IO::Socket::SSL: add libio-socket-ssl-perl")
    r = subprocess.run(["node", "--version"], capture_output=True, text=True)
    major = int(re.sub(r"^v(\d+).*", r"\1", r.stdout.strip() or "v0") or 0)
    if major < 20:
        out.append(f"node {r.stdout.strip() or '(none)'} is too old: playwright-core (tests/browser) "
                   "and pdfjs-dist (tests/pdfjs) need Node.js 20, which the project's machine "
                   "image ships (NodeSource); Debian 12's own nodejs is 18")
    data = "/usr/lib/python3.11/test/test_email/data"
    if not os.path.isdir(data):
        out.append(f"no CPython e-mail fixtures in {data}: add libpython3.11-testsuite")
    return out


if __name__ == "__main__":
    sys.exit(main())
