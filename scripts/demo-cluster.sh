#!/usr/bin/env bash
# `make demo-cluster`: two gateway nodes on one PostgreSQL (docs/cluster.md). A private
# PostgreSQL 15 cluster in demo-cluster/pgdata (initdb and pg_ctl as an unprivileged account:
# the invoking user, or Debian's `postgres` when run as root), reachable only by its Unix
# socket; node a (SMTP 10025, portal 8443, LDAP 3389) made first, with the CA it puts into the
# store; node b (SMTP 10026, portal 8444, LDAP 3390) made from the store with a's master key.
# Both run in the foreground; Ctrl-C stops both nodes and the database.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/build/sealgate
dir=$PWD/demo-cluster
pgbin=${SEALGATE_PG_BIN:-/usr/lib/postgresql/15/bin}
pgport=${DEMO_PG_PORT:-55432}
sock=$dir/pg
url="postgresql://postgres@/sealgate?host=$sock&port=$pgport"

as_pg() { # the server refuses to run as root
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  mkdir -p "$sock"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$sock"; fi
  chmod 0755 "$sock"
  if [ ! -f "$sock/pgdata/PG_VERSION" ]; then
    as_pg "$pgbin/initdb" -D "$sock/pgdata" -U postgres --auth-local=trust --auth-host=reject \
      -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  as_pg "$pgbin/pg_ctl" -D "$sock/pgdata" -l "$sock/postgres.log" -w \
    -o "-k $sock -p $pgport -c listen_addresses=''" start >/dev/null
  as_pg "$pgbin/psql" -X -q -h "$sock" -p "$pgport" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'sealgate'" | grep -q 1 ||
    as_pg "$pgbin/createdb" -h "$sock" -p "$pgport" -U postgres sealgate
}

node() { # name smtp portal ldap [init options...]
  local name=$1 smtp=$2 portal=$3 ldap=$4
  shift 4
  [ -f "$dir/$name/sealgate.conf" ] && return 0
  "$bin" init "$dir/$name" --domain example.com --org "Example Org" --hostname localhost \
    --store "$url" "$@"
  local conf=$dir/$name/sealgate.conf
  "$bin" config set -c "$conf" smtp.listen "127.0.0.1:$smtp"
  "$bin" config set -c "$conf" portal.listen "127.0.0.1:$portal"
  "$bin" config set -c "$conf" portal.base_url "https://localhost:$portal"
  "$bin" config set -c "$conf" ldap.listen "127.0.0.1:$ldap"
  "$bin" config set -c "$conf" route.internal maildir:mail
  "$bin" config set -c "$conf" route.external maildir:mail
}

stop_all() {
  trap - INT TERM EXIT
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  as_pg "$pgbin/pg_ctl" -D "$sock/pgdata" -m fast -w stop >/dev/null || true
}

mkdir -p "$dir"
start_postgres
node a 10025 8443 3389
node b 10026 8444 3390 --master-key "$dir/a/master.key"
for n in a b; do "$bin" check-config -c "$dir/$n/sealgate.conf"; done
cat <<EOT

sealgate cluster demo: PostgreSQL on the socket in $sock (port $pgport), database sealgate;
node a: SMTP 127.0.0.1:10025, portal https://localhost:8443, LDAP 127.0.0.1:3389
node b: SMTP 127.0.0.1:10026, portal https://localhost:8444, LDAP 127.0.0.1:3390
Both share users, keys, the CA and held mail; each has its own spool. From another terminal:

  $bin cert issue -c $dir/a/sealgate.conf alice@example.com     # issued through node a
  ldapsearch -x -H ldap://127.0.0.1:3390 -b dc=example '(mail=alice@example.com)' mail
                                                                  # published by node b
  swaks --server 127.0.0.1:10026 --from alice@example.com --to bob@example.com

Ctrl-C stops both nodes and the database.

EOT
pids=()
"$bin" run -c "$dir/a/sealgate.conf" &
pids+=($!)
"$bin" run -c "$dir/b/sealgate.conf" &
pids+=($!)
trap stop_all INT TERM EXIT
wait -n "${pids[@]}" || true
