#!/usr/bin/env bash
# `make deb`: the Debian package, built by Debian's own tools (dpkg-buildpackage -us -uc -b)
# from a copy of the tree in BUILD/deb/src, so that neither debhelper's files nor the .deb
# land in the checkout (dpkg-buildpackage writes its results into the parent directory).
#   tools/make-deb.sh BUILD    → BUILD/deb/sealgate_VERSION_ARCH.deb
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build}/deb")
rm -rf "$out"
mkdir -p "$out/src"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$out/src"
cd "$out/src"
DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1 \
  || { tail -40 "$out/build.log"; echo "make deb: dpkg-buildpackage failed ($out/build.log)"; exit 1; }
ls "$out"/*.deb
