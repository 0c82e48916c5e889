#!/usr/bin/env bash
# Run client_compat.py against the REFERENCE Python server (plantdb-server 0.17.0):
# creates the venv if needed (scripts/python-env.sh --with-server), starts
# scripts/pycompat/run_python_server.py on a free 127.0.0.1 port with a fresh empty FSDB
# (admin/admin, guest/guest), runs the checks, stops the server and removes the database.
# Extra arguments go to client_compat.py (e.g. --trace).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)"
py="$("$repo/scripts/python-env.sh" --with-server | tail -n 1)"
db="$(mktemp -d "${TMPDIR:-/tmp}/plantdb-ref-db.XXXXXX")"
log="$db.log"
touch "$db/romidb"
port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$py" "$repo/scripts/pycompat/run_python_server.py" --host 127.0.0.1 --port "$port" --db-path "$db" >"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$db" "$log"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
    if "$py" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" \
        "http://127.0.0.1:$port/api/v1/health" 2>/dev/null; then break; fi
    kill -0 "$pid" 2>/dev/null || { echo "reference server died:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.2
done
"$py" "$repo/crates/server/tests/python/client_compat.py" "http://127.0.0.1:$port" "$@"
