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

# The store's engines stay behind src/store/store_db.h: only a backend includes its client
# library's header (issue 15), so a second engine never needs a copy of every store file.
engine=$(grep -rlnE '#include[[:space:]]*<(sqlite3|libpq-fe)\.h>' --include='*.c' --include='*.h' src \
           2>/dev/null | grep -vE '^src/store/store_db_(sqlite|pgsql)(_[a-z]+)?\.[ch]$' || true)
if [ -n "$engine" ]; then
  echo "checksrc: a database engine's header outside its store_db_*.c backend:"
  echo "$engine"
  exit 1
fi
echo "checksrc: database engines only behind store_db.h"
