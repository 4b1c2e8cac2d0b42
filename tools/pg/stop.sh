#!/usr/bin/env bash
# Stops the server started by start.sh DIR and removes DIR.
set -uo pipefail
DIR=${1:?usage: stop.sh DIR}
BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
AS=()
[ "$(id -u)" = 0 ] && AS=(runuser -u postgres --)
"${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1
rm -rf "$DIR"
