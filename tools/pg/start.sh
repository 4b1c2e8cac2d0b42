#!/usr/bin/env bash
# Starts a throw-away PostgreSQL (the newest installed) on 127.0.0.1 (trust auth) and prints its URL on the last line.
# Usage: tools/pg/start.sh DIR   (stop with tools/pg/stop.sh DIR)
# Runs the server as the `postgres` system user when started as root (postgres refuses root).
set -euo pipefail
DIR=${1:?usage: start.sh DIR}
BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$BIN/initdb" ] || { echo "PostgreSQL binaries not found in $BIN (apt-get install postgresql, or set PG_BIN)" >&2; exit 2; }
mkdir -p "$DIR"
AS=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$DIR"
  AS=(runuser -u postgres --)
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null || node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
"${AS[@]}" "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 3; }
"${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_connections=100" start >/dev/null || { cat "$DIR/server.log" >&2; exit 4; }
echo "$PORT" >"$DIR/port"
echo "postgresql://postgres@127.0.0.1:$PORT/postgres"
