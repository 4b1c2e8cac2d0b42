#!/usr/bin/env bash
# Stops the server started by start.sh DIR and removes DIR.
set -uo pipefail
DIR=${1:?usage: stop.sh DIR}
# The same binaries as start.sh: the newest installed PostgreSQL.
BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
AS=()
[ "$(id -u)" = 0 ] && AS=(runuser -u postgres --)
"${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1
rm -rf "$DIR"
