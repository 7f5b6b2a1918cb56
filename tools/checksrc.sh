#!/usr/bin/env bash
# Fails when a banned libc call appears in our C sources (STYLE.md, habit 7).
# Use snprintf with checked results / sg_snprintf, sg_strlcpy, sg_strtonum, cursor parsers.
set -u
cd "$(dirname "$0")/.."
banned='strcpy|strcat|strncpy|strncat|sprintf|vsprintf|gets|strtok|atoi|atol|sscanf'
# A call is the name, not preceded by an identifier character or '_', followed by '('.
hits=$(grep -rnE "(^|[^A-Za-z0-9_.>])($banned)[[:space:]]*\(" --include='*.c' --include='*.h' \
        src tests bench 2>/dev/null | grep -vE '^\S+:[0-9]+:\s*(//|\*|/\*)' || true)
if [ -n "$hits" ]; then
  echo "checksrc: banned calls (see STYLE.md habit 7):"
  echo "$hits"
  exit 1
fi
echo "checksrc: no banned calls"
