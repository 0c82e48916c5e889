#!/usr/bin/env bash
# Differential test of the WRITE routes: the REAL Python plantdb-server 0.17.0 vs ours
# (target/debug/plantdb-auth), each on its own copy of a fresh fixture
# (generate_data_fixture.py), compared by diff_write_routes.py (statuses, JSON bodies,
# then the two database directories). Then, unless --no-robot, robot_flow.py (the Plant
# Imager's plantdb-client upload + a plantdb-commons read-back) against each server.
#
# Usage: scripts/pycompat/run_write_differential.sh [options] [-- diff_write_routes.py options]
#   --fixture DIR    use DIR as the fixture instead of generating one (it is copied)
#   --bin PATH       our binary (default: target/debug/plantdb-auth; built if missing)
#   --no-robot       do not run robot_flow.py
#   --robot-images N images of the robot flow (default 60)
#   --keep           keep the work directory (databases, logs, report)
# Exit code: 1 if diff_write_routes.py or a robot flow failed, 2 on a set-up failure.
# Needs the venv of scripts/python-env.sh --with-server (installed if missing) with a working
# `import open3d` (Debian: libusb-1.0-0 libegl1 libgl1 libx11-6 libudev1).
# The Python server's DELETE /timelapses uses send2trash: XDG_DATA_HOME points into the work
# directory so that nothing lands in the real user's trash.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/scripts/pycompat"

keep=0 robot=1 robot_images=60 fixture="" bin="$repo/target/debug/plantdb-auth"
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --keep) keep=1 ;;
        --no-robot) robot=0 ;;
        --robot-images) robot_images="$2"; shift ;;
        --fixture) fixture="$2"; shift ;;
        --bin) bin="$2"; shift ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run_write_differential.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift
done

t_start=$(date +%s.%N)
say() { echo "[write-differential] $*"; }
die() { echo "[write-differential] ERROR: $*" >&2; exit 2; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(date +%s.%N)"; }

PY="$(bash "$repo/scripts/python-env.sh" --with-server | tail -n 1)" || die "python-env.sh --with-server failed"
"$PY" -c 'import open3d' >/dev/null 2>&1 \
    || die "'import open3d' fails: the Python server cannot start (Debian: apt-get install -y libusb-1.0-0 libegl1 libgl1 libx11-6 libudev1)"

work="$(mktemp -d "${TMPDIR:-/tmp}/plantdb-write-differential.XXXXXX")"
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "$keep" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

if [ -n "$fixture" ]; then
    [ -f "$fixture/romidb" ] || die "$fixture is not an FSDB (no romidb)"
    cp -a "$fixture" "$work/fixture"
else
    t0=$(date +%s.%N)
    "$PY" "$here/generate_data_fixture.py" "$work/fixture" >/dev/null || die "fixture generation failed"
    say "fixture generated in $(elapsed "$t0") s"
fi
for d in py_db ours_db py_robot ours_robot; do cp -a "$work/fixture" "$work/$d"; done

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

# plantdb-server 0.17.0 cannot START on a database holding a timelapse container (see
# docs/api.md, "Data-API facts"): hide the containers at start-up, put them back, GET /refresh.
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
    mkdir -p "$work/xdg-$name"
    XDG_DATA_HOME="$work/xdg-$name" "$PY" "$here/run_python_server.py" --host 127.0.0.1 --port "$port" \
        --db-path "$db" --log-level WARNING >"$log" 2>&1 &
    pids+=($!)
    py_url="http://127.0.0.1:$port"
    wait_health "$py_url" "$!" "$log" || die "the Python server ($name) did not start: see above"
    if [ ${#hidden[@]} -gt 0 ]; then
        for tl in "${hidden[@]}"; do mv "$db/.startup-hidden-$tl" "$db/$tl"; done
        curl -sf -o /dev/null "$py_url/api/v1/refresh" || die "GET /api/v1/refresh on the Python server failed"
    fi
}

start_ours() { # db name -> sets ours_url
    local db="$1" name="$2" log="$work/$2.log" i
    if [ ! -x "$bin" ]; then
        say "building $bin (cargo build -p plantdb-auth)"
        (cd "$repo" && cargo build -q -p plantdb-auth) || die "cargo build failed"
    fi
    "$bin" serve --db "$db" --host 127.0.0.1 --port 0 --no-rate-limits >"$log" 2>"$work/$name.err" &
    pids+=($!)
    ours_url=""
    for i in $(seq 1 240); do
        ours_url="$(sed -n 's/^plantdb-auth listening on \(http:[^ ]*\) .*/\1/p' "$log" | head -n 1)"
        [ -n "$ours_url" ] && break
        kill -0 "$!" 2>/dev/null || { cat "$work/$name.err" >&2; die "our server exited"; }
        sleep 0.25
    done
    [ -n "$ours_url" ] || die "no 'plantdb-auth listening on' line from our server"
    wait_health "$ours_url" "$!" "$work/$name.err" || die "our server is not healthy"
}

t0=$(date +%s.%N)
start_python "$work/py_db" python
start_ours "$work/ours_db" ours
say "python: $py_url, ours: $ours_url ($(elapsed "$t0") s to start)"

t0=$(date +%s.%N)
set +e
"$PY" "$here/diff_write_routes.py" --python-url "$py_url" --python-db "$work/py_db" \
    --ours-url "$ours_url" --ours-db "$work/ours_db" --fixture "$work/fixture" \
    --report "$work/report.json" "${extra[@]}"
rc=$?
set -e
say "diff_write_routes.py exit code $rc after $(elapsed "$t0") s"

if [ "$robot" = 1 ]; then
    # Fresh servers on fresh copies (the fixture holds a timelapse: the commons work-around is exercised).
    start_python "$work/py_robot" python_robot
    start_ours "$work/ours_robot" ours_robot
    # Python's server rewrites files.json under a per-file lock only, so concurrent create_file
    # calls can tear it (docs/api.md): the reference runs the flow on one thread, so that its
    # run checks the flow itself; ours runs it on four, as the Plant Imager's uploader may.
    for pair in "python|$py_url|$work/py_robot|1" "ours|$ours_url|$work/ours_robot|4"; do
        IFS='|' read -r who url db threads <<<"$pair"
        say "robot flow against $who ($url, $threads upload thread(s))"
        set +e
        "$PY" "$here/robot_flow.py" --url "$url" --db "$db" --user admin --password admin \
            --images "$robot_images" --scan robot_scan --threads "$threads"
        rrc=$?
        set -e
        [ "$rrc" != 0 ] && { say "robot flow against $who: exit code $rrc"; rc=1; }
    done
fi
say "exit code $rc; total $(elapsed "$t_start") s"
[ "$keep" = 1 ] && say "report: $work/report.json"
exit "$rc"
