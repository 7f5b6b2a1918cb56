"""The store on PostgreSQL (issue 15): the URI and its mistakes said by check-config, the
password from store.password_file (never the config), the migrations giving both engines the
same schema, and nodes starting at once migrating once. The rest of the suite runs on
PostgreSQL too with SEALGATE_STORE=pgsql (make integration-pgsql)."""

import os
import subprocess

import pytest

import pg_rig
import sgrig


@pytest.fixture
def pg():
    try:
        return pg_rig.server()
    except pg_rig.PgError as e:
        pytest.fail(str(e))


def check_config(g):
    return g.cli("check-config")


def test_check_config_names_a_malformed_uri_and_an_unreachable_server(gw_factory, pg):
    g = gw_factory()
    g.use_pgsql()
    r = check_config(g)
    assert r.returncode == 0, r.stdout + r.stderr
    good = pg.uri(g.pg_database)
    g.set(**{"store.database": good + "&sslmod=require"})  # libpq knows no "sslmod"
    r = check_config(g)
    assert r.returncode == 1
    assert "store.database: not a valid PostgreSQL URI" in r.stderr and "sslmod" in r.stderr
    nobody = good.replace(f"port={pg.port}", f"port={sgrig.free_port()}")
    g.set(**{"store.database": nobody})
    r = check_config(g)
    assert r.returncode == 1 and "store.database: cannot connect to PostgreSQL" in r.stderr
    r = g.cli("config", "set", "store.database", good.replace("postgres@", "postgres:pw@"))
    assert r.returncode != 0 and "must not hold a password" in r.stdout + r.stderr
    r = g.cli("config", "set", "store.database", good + "&password=pw")
    assert r.returncode != 0 and "store.password_file" in r.stdout + r.stderr


def test_password_comes_from_the_password_file_only(gw_factory, pg, workdir):
    g = gw_factory()
    secret = "Pg-pass 'quoted' \u00e4"
    quoted = secret.replace("'", "''")
    pg.psql(f"DO $$ BEGIN CREATE ROLE {pg_rig.PASSWORD_ROLE} LOGIN; EXCEPTION WHEN "
            f"duplicate_object THEN NULL; END $$;"
            f"ALTER ROLE {pg_rig.PASSWORD_ROLE} PASSWORD '{quoted}'")
    g.release_store()  # a database of its own, made by that role from its first table on
    g.pg_database = pg.create_database(owner=pg_rig.PASSWORD_ROLE)
    g.set(**{"store.database": pg.uri(g.pg_database, user=pg_rig.PASSWORD_ROLE)})
    r = check_config(g)
    assert r.returncode == 1 and "password" in r.stderr, r.stderr  # none given: refused
    pwfile = os.path.join(str(workdir), "pg.pw")
    with open(pwfile, "w") as f:
        f.write(secret + "\n")
    os.chmod(pwfile, 0o644)
    g.set(**{"store.password_file": pwfile})
    r = check_config(g)
    assert r.returncode == 1 and "readable by everyone" in r.stderr, r.stderr
    os.chmod(pwfile, 0o600)
    r = check_config(g)
    assert r.returncode == 0, r.stderr
    r = g.cli("store", "migrate")
    assert r.returncode == 0 and "schema at version" in r.stdout, r.stderr
    with open(g.conf) as f:
        assert secret not in f.read()


def schema(g):
    """{table: sorted columns} of the store, whichever engine it is on."""
    with g.db() as c:
        if g.pg_database is not None:
            rows = c.execute("SELECT table_name, column_name FROM information_schema.columns "
                             "WHERE table_schema = 'public'").fetchall()
        else:
            tables = [t for (t,) in c.execute("SELECT name FROM sqlite_master WHERE type = "
                                              "'table' AND name NOT LIKE 'sqlite_%'")]
            rows = [(t, col[1]) for t in tables
                    for col in c.execute(f"PRAGMA table_info({t})").fetchall()]
    out = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return {t: sorted(cols) for t, cols in out.items()}


def test_migrations_give_both_engines_the_same_schema(gw_factory, pg):
    lite, post = gw_factory("lite"), gw_factory("post")
    lite.use_sqlite()
    post.use_pgsql()
    for g in (lite, post):
        r = g.cli("store", "migrate")
        assert r.returncode == 0, r.stderr
    assert lite.cli("store", "migrate").stdout == post.cli("store", "migrate").stdout
    a, b = schema(lite), schema(post)
    assert len(a) >= 20 and a == b
    with post.db() as c:  # the types PostgreSQL was given for SQLite's
        types = dict(((t, col), ty) for t, col, ty in c.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public'").fetchall())
        identity = c.execute("SELECT is_identity FROM information_schema.columns WHERE "
                             "table_name = 'users' AND column_name = 'id'").fetchone()[0]
    assert types[("users", "id")] == "bigint" and identity == "YES"
    assert types[("certificates", "der")] == "bytea"
    assert types[("users", "address")] == "USER-DEFINED"  # citext: addresses match in any case
    assert types[("private_keys", "cert_id")] == "bigint"


def test_nodes_starting_at_once_migrate_once(gw_factory, pg):
    g = gw_factory()
    g.use_pgsql()
    pg.empty_database(g.pg_database)  # `config set` has migrated it (for its audit line)
    argv = [sgrig.SEALGATE_BIN, "store", "migrate", "-c", g.conf]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    results = [(p.wait(120), *p.communicate()) for p in procs]
    assert all(rc == 0 for rc, _, _ in results), results
    with g.db() as c:
        versions = [v for (v,) in c.execute("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == list(range(1, len(versions) + 1)) and len(versions) >= 19


def test_store_unit_tests_pass_on_postgresql(pg):
    """tests/unit/test_store.c (users, certificates, keys, stamps, transactions from two
    threads) on a PostgreSQL database instead of its SQLite file."""
    binary = os.path.join(os.path.dirname(sgrig.SEALGATE_BIN), "tests", "test_store")
    if not os.access(binary, os.X_OK):
        pytest.fail(f"no {binary}: build the unit tests beside SEALGATE_BIN (make / make asan)")
    db = pg.create_database()
    try:
        r = subprocess.run([binary], capture_output=True, text=True, timeout=300,
                           env={**os.environ, "SEALGATE_TEST_STORE": pg.uri(db)})
        assert r.returncode == 0 and "PASSED" in r.stdout + r.stderr, r.stdout + r.stderr
        with pg_rig.Connection(db) as c:  # it ran there, not on a file
            assert c.execute("SELECT count(*) FROM certificates").fetchone()[0] > 0
    finally:
        pg.drop_database(db)
