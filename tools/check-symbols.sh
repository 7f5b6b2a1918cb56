#!/usr/bin/env bash
# Fails when a global symbol we define is also defined by one of the shared libraries we link
# (OpenSSL, GMime/GLib, SQLite, libsodium, inih, ...): such a collision silently interposes.
set -euo pipefail
build=${1:-build}
bin="$build/sealgate"
[ -x "$bin" ] || { echo "check-symbols: $bin not built"; exit 1; }
# Data a library exports and we merely use (g_ascii_table via GLib's macros) is copied into the
# executable by R_X86_64_COPY relocations: defined here, but not ours.
copied=$(readelf -rW "$bin" | awk '/R_X86_64_COPY/ {sub(/@.*/, "", $5); print $5}' | sort -u)
ours=$(nm --defined-only -g "$bin" | awk '$2 ~ /[TDBR]/ {print $3}' | sort -u |
       comm -23 - <(echo "$copied"))
theirs=$(ldd "$bin" | awk '/=>/ {print $3}' | while read -r lib; do
  [ -f "$lib" ] && nm -D --defined-only "$lib" 2>/dev/null | awk '{print $3}'
done | sed 's/@.*//' | sort -u)
clash=$(comm -12 <(echo "$ours") <(echo "$theirs") | grep -vE '^(_init|_fini|_start|main|_IO_stdin_used|__data_start|data_start|_edata|_end|__bss_start|__dso_handle)$' || true)
# Interposed on purpose: src/pdf/pdf_nomem.c makes a failed allocation in the SecurePDF worker
# fatal (forwarding to glibc's own entry points); nothing else may be on this list.
intended='^(malloc|calloc|realloc|reallocarray|memalign|aligned_alloc|posix_memalign|pthread_create)$'
clash=$(echo "$clash" | grep -vE "$intended" || true)
if [ -n "$clash" ]; then
  echo "check-symbols: our symbols collide with a dependency's:"
  echo "$clash"
  exit 1
fi
echo "check-symbols: $(echo "$ours" | wc -l) symbols, no collision with dependencies"
