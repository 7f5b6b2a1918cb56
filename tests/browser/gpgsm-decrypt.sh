#!/usr/bin/env bash
# gpgsm-decrypt.sh KEY CERT MESSAGE: decrypts an S/MIME message with gpgsm (the independent
# peer), in a throw-away GNUPGHOME; prints the plaintext. gpgsm 2.2.40 refuses about 1 in 40
# valid legacy .p12 files (docs/smime.md), so a refused file is exported again with a new salt.
set -euo pipefail
KEY=$1 CRT=$2 MSG=$3
H=$(mktemp -d); trap 'gpgconf --homedir "$H" --kill all >/dev/null 2>&1; rm -rf "$H"' EXIT
chmod 700 "$H"
echo allow-loopback-pinentry > "$H/gpg-agent.conf"
printf 'disable-crl-checks\ndisable-dirmngr\npinentry-mode loopback\n' > "$H/gpgsm.conf"
export GNUPGHOME=$H
ok=
for _ in 1 2 3; do
  openssl pkcs12 -export -in "$CRT" -inkey "$KEY" -out "$H/k.p12" -passout pass:test \
    -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1
  if echo test | gpgsm --batch --pinentry-mode loopback --passphrase-fd 0 --import "$H/k.p12" \
       >/dev/null 2>&1; then ok=1; break; fi
done
[ -n "$ok" ] || { echo "gpgsm refused three fresh .p12 files" >&2; exit 1; }
# The body of the message (after the header) is the base64 CMS object.
awk 'f{print} /^\r?$/{f=1}' "$MSG" > "$H/body.b64"
echo test | gpgsm --batch --pinentry-mode loopback --passphrase-fd 0 --assume-base64 \
  --decrypt "$H/body.b64" 2>/dev/null
