#!/usr/bin/env bash
# Benchmark the data WRITE side (uploads): plantdb-auth (release) vs the Python plantdb-server
# 0.17.0, on this machine, in one run (bench/upload/bench.py does the work):
#   (a) 100 JPEGs of ~1.5 MB uploaded into one fileset with plantdb-client 0.17 `create_file`
#       from 4 threads sharing one client (the Plant Imager's way), ours vs Python: wall time
#       (median of 3 rounds) and ratio; target ours >= 5x faster. Also, as information, the
#       same uploads pre-encoded and sent with http.client (no client-side encoding cost).
#   (b) one 1 GiB `.ply` uploaded with curl multipart (-F file=@big.ply -F ext=ply) to ours:
#       time, throughput, our server's peak RSS (VmHWM reset before, read after); target:
#       growth <= 64 MiB.
# Prints one table with PASS/FAIL per target; writes the raw results to
# bench/results/upload-<time>.json (+ .txt with the table), or to --out FILE.json.
#
# Usage: bench/upload.sh [bench.py options]   e.g. --rounds 5, --images 100, --threads 4,
#        --big-size 1073741824, --skip-big, --no-python, --no-raw, --keep, --out FILE.json
#   Environment: BENCH_SKIP_BUILD=1 uses target/release/plantdb-auth as it is (otherwise it is
#                rebuilt only when a source, Cargo.toml or Cargo.lock is newer than it);
#                BENCH_SKIP_INSTALL=1 skips apt (curl) and the venv check.
# Needs: curl; the venv of scripts/python-env.sh --with-server (plantdb-server, plantdb-client,
# open3d-cpu; Debian libusb-1.0-0 for open3d); ~3 GiB free under $TMPDIR for (b).
# Exit status: 0 if every target is met, 1 if one is missed, 2+ on errors.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
log() { echo "upload.sh: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

if [ "${BENCH_SKIP_INSTALL:-0}" != 1 ] && ! command -v curl >/dev/null; then
    log "installing curl (Debian)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >&2
fi
py="$(bash scripts/python-env.sh --with-server | tail -n 1)"
"$py" -c 'import open3d' >/dev/null 2>&1 \
    || log "WARNING: 'import open3d' fails in the venv: the Python server runs with its stand-in (uploads do not use it)"

bin="$repo/target/release/plantdb-auth"
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    stale=0
    if [ ! -x "$bin" ]; then
        stale=1
    elif [ -n "$(find crates -path '*/src/*' -newer "$bin" -print -quit)" ] \
        || [ -n "$(find Cargo.toml Cargo.lock crates -maxdepth 2 -name 'Cargo.*' -newer "$bin" -print -quit)" ]; then
        stale=1
    fi
    if [ "$stale" = 1 ]; then
        log "building the release binary (cargo build --release -p plantdb-auth): sources are newer"
        cargo build --release -q -p plantdb-auth
    else
        log "reusing $bin (newer than every source)"
    fi
fi
[ -x "$bin" ] || { log "no $bin"; exit 2; }

exec "$py" bench/upload/bench.py --ours "$bin" --python "$py" "$@"
