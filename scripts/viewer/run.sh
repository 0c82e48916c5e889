#!/usr/bin/env bash
# Browser test of the ROMI web viewer against our server: starts
# `plantdb-auth serve --test --viewer DIR --port 0 --no-rate-limits` (a temporary
# database with the demo scans), runs scripts/viewer/viewer_test.py in headless
# Chromium against it, stops the server, exits with the test's status.
# Builds nothing.
#
# Usage: scripts/viewer/run.sh [extra viewer_test.py options, e.g. --max-scans 2]
# Output: PASS/FAIL lines, then "viewer: N passed, N failed" per phase; server logs and
# screenshots under $PLANTDB_VIEWER_OUT/<phase>/.
# Environment:
#   PLANTDB_AUTH_BIN              server binary (default: <repo>/target/debug/plantdb-auth)
#   PLANTDB_VIEWER_DIR            built viewer (default: <repo>/../shared/viewer/plant-3d-explorer)
#   PLANTDB_VIEWER_PYTHON         Python with Playwright (default: <repo>/target/pyenv/venv/bin/python)
#   PLANTDB_CHROMIUM              Chromium executable (default: /usr/bin/chromium)
#   PLANTDB_VIEWER_OUT            server log and screenshots (default: <repo>/target/viewer-test)
#   PLANTDB_VIEWER_EXPECT_SCANS   if set, passed as --expect-scans
#   PLANTDB_VIEWER_TIMEOUT        seconds allowed for the whole browser test (default: 600)
#   PLANTDB_VIEWER_EDGE_CASES     1: then also serve `plantdb-auth demo` scans plus the edge-case
#                                 scans of scripts/viewer/edge_scans.py (--db, a temp dir) and
#                                 run the browser test on them too
#   PLANTDB_VIEWER_TEST_OPTIONAL  1: a missing Chromium / Playwright / viewer is a skip
#                                 (exit 0); otherwise it is a failure (exit 1)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"

bin="${PLANTDB_AUTH_BIN:-$repo/target/debug/plantdb-auth}"
viewer="${PLANTDB_VIEWER_DIR:-$repo/../shared/viewer/plant-3d-explorer}"
py="${PLANTDB_VIEWER_PYTHON:-$repo/target/pyenv/venv/bin/python}"
chromium="${PLANTDB_CHROMIUM:-/usr/bin/chromium}"
out="${PLANTDB_VIEWER_OUT:-$repo/target/viewer-test}"
run_timeout="${PLANTDB_VIEWER_TIMEOUT:-600}"

die() { echo "viewer/run.sh: $*" >&2; exit 1; }

# --- what the browser test needs; a missing piece is a skip only when optional ---
missing=()
[ -x "$chromium" ] || missing+=("no Chromium at $chromium")
if [ ! -x "$py" ]; then
    missing+=("no Python at $py")
elif ! "$py" -c 'import playwright.sync_api' >/dev/null 2>&1; then
    missing+=("Playwright for Python is not installed in $py")
fi
[ -f "$viewer/index.html" ] || missing+=("no built viewer at $viewer")
if [ ${#missing[@]} -gt 0 ]; then
    what="$(IFS=';'; echo "${missing[*]}" | sed 's/;/; /g')"
    echo "viewer browser test: skipped ($what; install with: apt-get install -y chromium &&" \
         "$py -m pip install -r scripts/viewer/requirements.txt -- never 'playwright install')"
    if [ "${PLANTDB_VIEWER_TEST_OPTIONAL:-0}" = 1 ]; then exit 0; fi
    exit 1
fi
[ -x "$bin" ] || die "no server binary at $bin (build it first: cargo build --bin plantdb-auth)"
viewer="$(cd "$viewer" && pwd)"

rm -rf "$out"
mkdir -p "$out"
server_pid=""
stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}
cleanup() { stop_server; [ -n "${edge_db:-}" ] && rm -rf "$edge_db"; return 0; }
trap cleanup EXIT

# run_phase NAME SERVE-ARGS...: start the server, run the browser test, stop the server.
# Sets $phase_status.
run_phase() {
    local name="$1"; shift
    local dir="$out/$name"
    mkdir -p "$dir/screenshots"
    "$bin" serve "$@" --viewer "$viewer" --port 0 --no-rate-limits >"$dir/server.out" 2>"$dir/server.log" &
    server_pid=$!
    local base=""
    for _ in $(seq 1 600); do
        base="$(sed -n 's|^plantdb-auth listening on \(http://[^ ]*\).*|\1|p' "$dir/server.out" | head -n 1)"
        [ -n "$base" ] && break
        kill -0 "$server_pid" 2>/dev/null || { tail -n 30 "$dir/server.log" >&2; die "the server exited at start"; }
        sleep 0.1
    done
    [ -n "$base" ] || { tail -n 30 "$dir/server.log" >&2; die "the server did not print its startup line in 60 s"; }
    base="${base%/}"
    echo "viewer/run.sh: [$name] server $bin at $base, viewer $viewer" >&2

    local args=(--url "$base" --screenshots "$dir/screenshots" --chromium "$chromium")
    [ "$name" = demo ] && [ -n "${PLANTDB_VIEWER_EXPECT_SCANS:-}" ] && args+=(--expect-scans "$PLANTDB_VIEWER_EXPECT_SCANS")
    phase_status=0
    timeout --kill-after=10 "$run_timeout" "$py" "$repo/scripts/viewer/viewer_test.py" "${args[@]}" "${extra_args[@]}" \
        || phase_status=$?
    [ "$phase_status" = 124 ] && echo "viewer/run.sh: [$name] the browser test did not finish in ${run_timeout} s" >&2
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "viewer/run.sh: [$name] the server died during the test; its log:" >&2
        tail -n 30 "$dir/server.log" >&2
        [ "$phase_status" = 0 ] && phase_status=1
    fi
    stop_server
}

extra_args=("$@")
started=$(date +%s)
status=0

# 1. The demo database of --test.
run_phase demo --test
status=$phase_status

# 2. Optional: the demo scans plus edge-case scans (no metadata.json; images only).
if [ "${PLANTDB_VIEWER_EDGE_CASES:-0}" = 1 ]; then
    edge_db="$(mktemp -d /tmp/plantdb-viewer-edge-XXXXXX)"
    "$bin" demo "$edge_db/db" >/dev/null || die "'$bin demo $edge_db/db' failed"
    "$py" "$repo/scripts/viewer/edge_scans.py" "$edge_db/db" >/dev/null || die "edge_scans.py failed"
    edge_ids="$("$py" "$repo/scripts/viewer/edge_scans.py" --list)"
    extra_args=("$@" --scans "$(echo $edge_ids | tr ' ' ,)")
    PLANTDB_ADMIN_PASSWORD="viewer-test-$$-admin" run_phase edge --db "$edge_db/db"
    [ "$status" = 0 ] && status=$phase_status
fi

echo "viewer/run.sh: exit $status after $(( $(date +%s) - started )) s; server logs and screenshots in $out" >&2
exit "$status"
