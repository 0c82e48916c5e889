#!/usr/bin/env bash
# Property-based API testing: schemathesis (PyPI) generates requests from the
# server's own OpenAPI document (GET /api/v1/openapi.json) and checks that the
# live server never answers 5xx and that every status code and response body
# conforms to the document.
#
# Starts `plantdb-auth serve --test --port 0 --no-rate-limits` (a fresh
# temporary database with admin/admin and the demo scans, which the path
# parameters' examples name, so the data routes answer 200 too), logs in as
# admin so that the authenticated routes are exercised (data writes
# included), runs schemathesis, stops the server.
# Exits non-zero on any failure.
#
# Usage: scripts/schemathesis.sh [extra schemathesis options]
# Environment:
#   SCHEMATHESIS_VENV          venv location (default: <repo>/target/pyenv/schemathesis)
#   SCHEMATHESIS_MAX_EXAMPLES  test cases per operation and phase (default: 30)
#   SCHEMATHESIS_SEED          random seed (default: fixed, so CI is reproducible)
#   SCHEMATHESIS_TIMEOUT       seconds allowed for each schemathesis run (default: 600)
#   PLANTDB_AUTH_BIN           server binary (default: target/debug/plantdb-auth,
#                              built or brought up to date first)
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
venv="${SCHEMATHESIS_VENV:-$repo/target/pyenv/schemathesis}"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-30}"
seed="${SCHEMATHESIS_SEED:-20260101}"
run_timeout="${SCHEMATHESIS_TIMEOUT:-600}"

die() { echo "schemathesis.sh: $*" >&2; exit 1; }

# --- the tool, in its own venv (not the plantdb one: different pins) ---
st="$venv/bin/schemathesis"
if ! { [ -x "$st" ] && "$st" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; }; then
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv" || die "'python3 -m venv $venv' failed (Debian: apt-get install -y python3-venv)"
    fi
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input \
        "schemathesis==$SCHEMATHESIS_VERSION" >&2 || die "pip install schemathesis==$SCHEMATHESIS_VERSION failed"
fi

# --- the server ---
bin="${PLANTDB_AUTH_BIN:-}"
if [ -z "$bin" ]; then
    # Always the debug build of this tree (a no-op when it is up to date): a
    # release binary left by an earlier build may be stale.
    cargo build --quiet --bin plantdb-auth
    bin=target/debug/plantdb-auth
fi
[ -x "$bin" ] || die "no server binary at $bin"

# The server's log and schemathesis' reports stay in target/schemathesis/.
out="$repo/target/schemathesis"
rm -rf "$out"
mkdir -p "$out"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

"$bin" serve --test --port 0 --no-rate-limits >"$out/server.out" 2>"$out/server.log" &
server_pid=$!

base=""
for _ in $(seq 1 300); do
    base="$(sed -n 's|^plantdb-auth listening on \(http://[^ ]*\).*|\1|p' "$out/server.out" | head -n 1)"
    [ -n "$base" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$out/server.log" >&2; die "the server exited at start"; }
    sleep 0.1
done
[ -n "$base" ] || { cat "$out/server.log" >&2; die "the server did not say where it listens"; }
base="${base%/}"
echo "schemathesis.sh: server $bin at $base" >&2

# An admin access token (--test mode: admin/admin).
token="$("$venv/bin/python" - "$base" <<'EOF'
import json, sys, urllib.request
req = urllib.request.Request(
    sys.argv[1] + "/api/v1/auth/login",
    data=json.dumps({"username": "admin", "password": "admin"}).encode(),
    headers={"Content-Type": "application/json"},
)
with urllib.request.urlopen(req, timeout=30) as answer:
    print(json.load(answer)["access_token"])
EOF
)" || die "could not log in as admin"

# Routes that end the caller's own sessions (logout, logout-all, revoking a
# session: schemathesis reuses the ids that GET /auth/sessions lists) would
# log the admin token out halfway through and leave the rest of the run
# unauthenticated: they run last, in a run of their own.
session_enders='logout|/auth/sessions/'
common=(
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance
    --phases examples,coverage,fuzzing
    --max-examples "$max_examples"
    --seed "$seed"
    --workers 1
    --request-timeout 30
    --generation-database none
    --header "Authorization: Bearer $token"
    --no-color
)
# From $out: schemathesis keeps a cache (.schemathesis/) in its working directory.
runs=0
run() {
    runs=$((runs + 1))
    (cd "$out" && timeout "$run_timeout" "$st" run "$base/api/v1/openapi.json" "${common[@]}" "$@") \
        2>&1 | tee "$out/run-$runs.txt"
    return "${PIPESTATUS[0]}"
}
# Sums "N <word>" over the runs' summary lines: the one after "Test cases:"
# ("1415 generated, 1415 passed") and the last ("=== 2 failures, 1 error in 9s ===").
count() {
    cat "$out"/run-*.txt | grep -A1 '^Test cases:' | { grep -Eo "[0-9]+ $1" || true; } |
        awk '{n += $1} END {print n + 0}'
}
count_final() {
    cat "$out"/run-*.txt | { grep -E '^=+ .* in [0-9.]+s =+$' || true; } |
        { grep -Eo "[0-9]+ $1" || true; } | awk '{n += $1} END {print n + 0}'
}

status=0
run --exclude-path-regex "$session_enders" "$@" || status=1
run --include-path-regex "$session_enders" "$@" || status=1
failed=$(( $(count_final 'failures?') + $(count_final 'errors?') ))
[ "$status" = 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "schemathesis: $(count passed) passed, $failed failed"

if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$out/server.log" >&2
    die "the server died during the run"
fi
if [ "$status" != 0 ]; then
    echo "schemathesis.sh: FAILED; the server log is $out/server.log (its tail below); re-run with the same SCHEMATHESIS_SEED to reproduce" >&2
    tail -n 50 "$out/server.log" >&2
    exit 1
fi
echo "schemathesis.sh: passed"
