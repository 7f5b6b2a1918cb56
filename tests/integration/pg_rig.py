"""pg_rig: a private PostgreSQL 15 for the tests (issue 15) -- Debian's server binaries run by
the unprivileged system user `postgres` on a data directory under /tmp, reachable only by its
Unix socket (listen_addresses=''), stopped when the Python process ends. One server per test
process (each pytest-xdist worker has its own); one fresh database per gateway, dropped when
the test is done.

SEALGATE_STORE=pgsql makes every sgrig.Gateway use it (store_is_pgsql()): the whole
integration suite runs against PostgreSQL. Stdlib only (Debian's /usr/bin/python3)."""

import atexit
import itertools
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import threading

PG_BIN = os.environ.get("SEALGATE_PG_BIN", "/usr/lib/postgresql/15/bin")
PG_USER = "postgres"  # the OS account the server runs as, and its superuser role
PASSWORD_ROLE = "sg_password"  # the one role that must give a password (store.password_file)
_lock = threading.Lock()
_server = None
_names = itertools.count(1)
NULL = "<sg:NULL>"  # how psql prints SQL NULL here (no field of the tests holds it)


class PgError(RuntimeError):
    pass


def store_is_pgsql():
    """True when this run puts the gateways' store on PostgreSQL (SEALGATE_STORE=pgsql)."""
    engine = os.environ.get("SEALGATE_STORE", "sqlite")
    if engine not in ("sqlite", "pgsql"):
        raise PgError(f"SEALGATE_STORE={engine!r}: use sqlite or pgsql")
    return engine == "pgsql"


def _as_postgres(argv, timeout=60, input=None):
    """Runs a server binary as the postgres account (initdb and postgres refuse root)."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input,
                       user=PG_USER, group=pwd.getpwnam(PG_USER).pw_gid, extra_groups=[],
                       cwd="/tmp")
    if r.returncode != 0:
        raise PgError(f"{os.path.basename(argv[0])} failed rc={r.returncode}: "
                      f"{r.stdout}{r.stderr}")
    return r


class PgServer:
    """initdb + pg_ctl start on a free port; the socket in the data directory's parent."""

    def __init__(self, port):
        if not os.access(os.path.join(PG_BIN, "initdb"), os.X_OK):
            raise PgError(f"no PostgreSQL server in {PG_BIN}: run scripts/deps.sh (make deps)")
        self.port = port
        self.base = tempfile.mkdtemp(prefix="sg-pg-", dir="/tmp")
        self.data = os.path.join(self.base, "data")
        self.sockdir = self.base
        self.logpath = os.path.join(self.base, "postgres.log")
        os.chmod(self.base, 0o755)  # the gateway's roles reach the socket under their own uid
        pw = pwd.getpwnam(PG_USER)
        os.chown(self.base, pw.pw_uid, pw.pw_gid)

    def start(self):
        _as_postgres([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", PG_USER,
                      "--auth-local=trust", "--auth-host=reject", "-E", "UTF8",
                      "--locale=C.UTF-8"], timeout=120)
        # PASSWORD_ROLE logs in with its password (SCRAM); every other role is trusted
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write(f"local all {PASSWORD_ROLE} scram-sha-256\nlocal all all trust\n")
        # fsync off: a test server that dies loses nothing a test needs; many gateways
        # (a pool per role) connect at once.
        opts = (f"-k {self.sockdir} -p {self.port} -c listen_addresses='' -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=400 "
                "-c shared_buffers=32MB")
        _as_postgres([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-l", self.logpath,
                      "-w", "-t", "120", "-o", opts, "start"], timeout=150)
        return self

    def stop(self):
        try:
            _as_postgres([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m", "immediate",
                          "-w", "stop"], timeout=60)
        except (PgError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.base, ignore_errors=True)

    def psql(self, sql, db="postgres", timeout=60):
        """Runs sql (read from stdin) in db; the raw output (unaligned, \\x1f between fields)."""
        argv = [os.path.join(PG_BIN, "psql"), "-X", "-q", "-A", "-t", "-F", "\x1f", "-P", f"null={NULL}", "-v", "ON_ERROR_STOP=1",
                "-h", self.sockdir, "-p", str(self.port), "-U", PG_USER, "-d", db]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=sql)
        if r.returncode != 0:
            raise PgError(f"psql failed rc={r.returncode}: {r.stderr}")
        return r.stdout

    def create_database(self, owner=PG_USER):
        name = f"sg_{os.getpid()}_{next(_names)}"
        self.psql(f'CREATE DATABASE "{name}" OWNER "{owner}" TEMPLATE template0')
        return name

    def empty_database(self, name):
        """The database dropped and made again under its name: no table at all."""
        self.drop_database(name)
        self.psql(f'CREATE DATABASE "{name}" TEMPLATE template0')

    def drop_database(self, name):
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def uri(self, name, user=PG_USER):
        """The store.database of a gateway on database name (libpq URI, socket as host=)."""
        return f"postgresql://{user}@/{name}?host={self.sockdir}&port={self.port}"


def server():
    """This process's server, started on first use and stopped when the process exits."""
    global _server
    with _lock:
        if _server is None:
            import sgrig  # here: sgrig imports this module
            _server = PgServer(sgrig.free_port()).start()
            atexit.register(_server.stop)
        return _server


def _literal(value):
    if value is None:
        return "NULL"
    if isinstance(value, (bytes, bytearray)):
        return "'\\x" + bytes(value).hex() + "'::bytea"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _field(text):
    if text == NULL:
        return None
    if text.startswith("\\x") and re.fullmatch(r"\\x[0-9a-f]*", text):
        return bytes.fromhex(text[2:])
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    return {"t": True, "f": False}.get(text, text)  # booleans compare like SQLite's 1 and 0


def query(database, sql, params=()):
    """sql with sqlite3-style ? parameters on a gateway's database: (rows, changed) like
    sqlite3's fetchall() and rowcount, so a test pokes either engine the same way."""
    it = iter(params)
    text = re.sub(r"\?", lambda m: _literal(next(it)), sql)
    verb = sql.lstrip().split(None, 1)[0].upper()
    if verb in ("UPDATE", "DELETE", "INSERT"):
        text = f"WITH changed AS ({text} RETURNING 1) SELECT count(*) FROM changed"
    out = server().psql(text + ";\n", db=database)
    rows = [tuple(_field(f) for f in line.split("\x1f")) for line in out.split("\n") if line]
    if verb in ("UPDATE", "DELETE", "INSERT"):
        return [], rows[0][0]
    return rows, len(rows)


class Cursor:
    def __init__(self, rows, rowcount):
        self.rows, self.rowcount = rows, rowcount

    def __iter__(self):
        return iter(self.rows)

    def fetchall(self):
        return self.rows

    def fetchone(self):
        return self.rows[0] if self.rows else None


class Connection:
    """The few sqlite3.Connection calls the tests use (`with db as c: c.execute(...)`), each
    statement committed on its own."""

    def __init__(self, database):
        self.database = database

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, params=()):
        return Cursor(*query(self.database, sql, params))


def dump(database):
    """Every byte the store keeps for a database (pg_dump's plain output, bytea in hex)."""
    s = server()
    r = subprocess.run([os.path.join(PG_BIN, "pg_dump"), "-h", s.sockdir, "-p", str(s.port), "-U", PG_USER,
                        database], capture_output=True, timeout=120)
    if r.returncode != 0:
        raise PgError(f"pg_dump failed: {r.stderr!r}")
    return r.stdout
