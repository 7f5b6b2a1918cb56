#!/usr/bin/env bash
# `make demo`: a demo instance in ./demo (internal domain example.com, both routes into the
# Maildirs under demo/mail), then the gateway in the foreground. Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/sealgate
dir=demo
if [ ! -f "$dir/sealgate.conf" ]; then
  "$bin" init "$dir" --domain example.com --org "Example Org" --hostname localhost
  "$bin" config set -c "$dir/sealgate.conf" route.internal maildir:mail
  "$bin" config set -c "$dir/sealgate.conf" route.external maildir:mail
  "$bin" config set -c "$dir/sealgate.conf" metrics.listen 127.0.0.1:9464
fi
"$bin" check-config -c "$dir/sealgate.conf"
port=$("$bin" config get -c "$dir/sealgate.conf" smtp.listen)
ldap=$("$bin" config get -c "$dir/sealgate.conf" ldap.listen)
portal=$("$bin" config get -c "$dir/sealgate.conf" portal.base_url)
cat <<EOT

sealgate demo: SMTP on $port (STARTTLS with the demo CA in $dir/ca/ca.crt),
certificate directory (LDAP) on $ldap, partner portal on $portal,
Prometheus metrics on http://$("$bin" config get -c "$dir/sealgate.conf" metrics.listen)/metrics.
Send it a mail from another terminal:

  swaks --server ${port} --from alice@example.com --to bob@example.com \\
        --header "Subject: hello from the demo" --body "It works."

and read it in $dir/mail/bob@example.com/new/. The queue: $bin queue list -c $dir/sealgate.conf
Mail to other domains goes to $dir/mail/<address>/ too (route.external = maildir:mail).
Ctrl-C stops the gateway.

EOT
exec "$bin" run -c "$dir/sealgate.conf"
