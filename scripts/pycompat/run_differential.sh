#!/usr/bin/env bash
# Differential test of the read routes: the REAL Python plantdb-server 0.17.0 (with
# Open3D) vs ours (target/debug/plantdb-auth), each on its own copy of a fresh fixture
# (scripts/pycompat/generate_data_fixture.py), compared by diff_read_routes.py.
#
# Usage: scripts/pycompat/run_differential.sh [options] [-- diff_read_routes.py options]
#   --self-test      "ours" is a second Python server (validates the harness: must pass)
#   --ours-only      no Python server: check ours against the on-disk oracle
#   --viewer         also check the 0.14 viewer routes on ours
#   --with-broken    add the fixture's broken cases (implies --ours-only: Python refuses
#                    to start on them, spec §1.1 P1)
#   --require-ours   fail (instead of skipping ours) when ours does not serve the data API
#   --fixture DIR    use DIR as the fixture instead of generating one (it is copied)
#   --bin PATH       our binary (default: target/debug/plantdb-auth; built if missing)
#   --no-client      do not run client_read_calls.py (plantdb-client 0.17) on each server
#   --keep           keep the work directory (databases, logs, report)
# Exit code: that of diff_read_routes.py (1 on any FAIL), 2 on a set-up failure.
# Needs: the venv of scripts/python-env.sh --with-server (installed if missing) and,
# for Open3D, Debian's libusb-1.0-0 libegl1 libgl1 libx11-6 libudev1.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/scripts/pycompat"

client=1 with_broken=0 self_test=0 ours_only=0 viewer=0 keep=0 require_ours=0 fixture="" bin="$repo/target/debug/plantdb-auth"
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --self-test) self_test=1 ;;
        --ours-only) ours_only=1 ;;
        --viewer) viewer=1 ;;
        --with-broken) with_broken=1; ours_only=1 ;;
        --keep) keep=1 ;;
        --no-client) client=0 ;;
        --require-ours) require_ours=1 ;;
        --fixture) fixture="$2"; shift ;;
        --bin) bin="$2"; shift ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run_differential.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift
done

t_start=$(date +%s.%N)
say() { echo "[differential] $*"; }
die() { echo "[differential] ERROR: $*" >&2; exit 2; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(date +%s.%N)"; }

PY="$(bash "$repo/scripts/python-env.sh" --with-server | tail -n 1)" || die "python-env.sh --with-server failed"
have_open3d=1
"$PY" -c 'import open3d' >/dev/null 2>&1 || have_open3d=0
if [ "$have_open3d" = 0 ] && [ "$ours_only" = 0 ]; then
    say "SKIP the Python server: 'import open3d' fails (Debian: apt-get install -y libusb-1.0-0 libegl1 libgl1 libx11-6 libudev1);"
    say "     falling back to --ours-only (ours against the on-disk oracle)"
    ours_only=1
    [ "$self_test" = 1 ] && die "--self-test needs the Python server (Open3D)"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/plantdb-differential.XXXXXX")"
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "$keep" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

if [ -n "$fixture" ]; then
    [ -f "$fixture/romidb" ] || die "$fixture is not an FSDB (no romidb)"
    cp -a "$fixture" "$work/fixture"
else
    t0=$(date +%s.%N)
    gen_args=()
    [ "$with_broken" = 1 ] && gen_args+=(--with-broken)
    "$PY" "$here/generate_data_fixture.py" "$work/fixture" "${gen_args[@]}" >/dev/null || die "fixture generation failed"
    say "fixture generated in $(elapsed "$t0") s"
fi
cp -a "$work/fixture" "$work/py_db"
cp -a "$work/fixture" "$work/ours_db"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

wait_health() { # url pid log
    local i
    for i in $(seq 1 240); do
        if curl -sf -o /dev/null "$1/api/v1/health"; then return 0; fi
        kill -0 "$2" 2>/dev/null || { tail -n 15 "$3" >&2; return 1; }
        sleep 0.25
    done
    tail -n 15 "$3" >&2
    return 1
}

# The real Python server. plantdb-server 0.17.0 cannot START on a database holding a
# timelapse container (Scan() calls timelapse_exists() before connect() has set
# is_connected: "ValueError: Database not connected"). It loads them fine on a full
# /refresh, so the containers are hidden at start-up, put back, then /refresh is called.
start_python() { # db name -> sets py_url
    local db="$1" name="$2" port log tl hidden=()
    port="$(free_port)"
    log="$work/$name.log"
    for tl in "$db"/*/; do
        tl="${tl%/}"
        if [ -f "$tl/timelapse.json" ]; then
            mv "$tl" "$db/.startup-hidden-$(basename "$tl")"
            hidden+=("$(basename "$tl")")
        fi
    done
    "$PY" "$here/run_python_server.py" --host 127.0.0.1 --port "$port" --db-path "$db" --log-level WARNING \
        >"$log" 2>&1 &
    pids+=($!)
    py_url="http://127.0.0.1:$port"
    wait_health "$py_url" "$!" "$log" || die "the Python server ($name) did not start: see above"
    if [ ${#hidden[@]} -gt 0 ]; then
        for tl in "${hidden[@]}"; do mv "$db/.startup-hidden-$tl" "$db/$tl"; done
        curl -sf -o /dev/null "$py_url/api/v1/refresh" || die "GET /api/v1/refresh on the Python server failed"
        say "python ($name): timelapse containers hidden at start-up and loaded by /refresh: ${hidden[*]}"
    fi
}

start_ours() { # db
    local log="$work/ours.log" i
    if [ ! -x "$bin" ]; then
        say "building $bin (cargo build -p plantdb-auth)"
        (cd "$repo" && cargo build -q -p plantdb-auth) || die "cargo build failed"
    fi
    "$bin" serve --db "$1" --host 127.0.0.1 --port 0 --no-rate-limits >"$log" 2>"$work/ours.err" &
    pids+=($!)
    ours_url=""
    for i in $(seq 1 240); do
        ours_url="$(sed -n 's/^plantdb-auth listening on \(http:[^ ]*\) .*/\1/p' "$log" | head -n 1)"
        [ -n "$ours_url" ] && break
        kill -0 "$!" 2>/dev/null || { cat "$work/ours.err" >&2; die "our server exited"; }
        sleep 0.25
    done
    [ -n "$ours_url" ] || die "no 'plantdb-auth listening on' line from our server"
    wait_health "$ours_url" "$!" "$work/ours.err" || die "our server is not healthy"
}

t0=$(date +%s.%N)
args=(--db "$work/fixture" --report "$work/report.json")
client_urls=()
if [ "$ours_only" = 0 ]; then
    start_python "$work/py_db" python
    args+=(--python-url "$py_url" --python-db "$work/py_db")
    client_urls+=("$py_url")
    say "python server: $py_url ($(elapsed "$t0") s to start)"
fi
if [ "$self_test" = 1 ]; then
    start_python "$work/ours_db" python2
    args+=(--ours-url "$py_url" --ours-kind python)
    client_urls+=("$py_url")
    say "self-test: 'ours' is a second Python server: $py_url (documented differences are not applied)"
else
    start_ours "$work/ours_db"
    code="$(curl -s -o /dev/null -w '%{http_code}' "$ours_url/api/v1/scans" || true)"
    if [ "$code" = 404 ] || [ "$code" = 405 ]; then
        if [ "$require_ours" = 1 ]; then
            die "ours ($ours_url) does not serve GET /api/v1/scans yet ($code) and --require-ours was given"
        fi
        say "SKIP ours: $ours_url answers $code on GET /api/v1/scans: the data API is not served yet;"
        say "     running the Python side only (harness oracle + spec claims). Use --require-ours to fail instead."
        [ "$ours_only" = 1 ] && { say "nothing to check (--ours-only without data routes)"; exit 0; }
    else
        args+=(--ours-url "$ours_url" --ours-db "$work/ours_db")
        [ "$with_broken" = 0 ] && client_urls+=("$ours_url")
        say "ours: $ours_url"
        [ "$ours_only" = 1 ] && args+=(--ours-only)
        [ "$viewer" = 1 ] && args+=(--viewer)
    fi
fi

t0=$(date +%s.%N)
set +e
"$PY" "$here/diff_read_routes.py" "${args[@]}" "${extra[@]}"
rc=$?
set -e
say "diff_read_routes.py exit code $rc after $(elapsed "$t0") s"
if [ "$client" = 1 ]; then
    for url in "${client_urls[@]}"; do
        say "plantdb-client 0.17 read calls against $url"
        set +e
        "$PY" "$here/client_read_calls.py" --url "$url" --db "$work/fixture"
        crc=$?
        set -e
        [ "$crc" != 0 ] && rc=1
    done
fi
say "exit code $rc; total $(elapsed "$t_start") s"
[ "$keep" = 1 ] && say "report: $work/report.json"
exit "$rc"
