#!/usr/bin/env bash
# Compare plantdb-auth with the Python plantdb-server 0.17.0 on this machine, in one run.
#
# Installs what it needs (Debian: wrk, libusb-1.0-0, python3-venv; PyPI, in the
# project's venv: plantdb-server==0.17.0 and open3d-cpu), builds our release binary,
# measures one Argon2 verification with criterion, then runs bench/compare.py: both
# servers on their own 127.0.0.1 port with a fresh database, the same wrk workloads
# against both, alternating. Prints one table and the target checks; writes the raw
# results to bench/results/compare-<time>.json (+ .txt with the table).
#
# Usage: bench/compare.sh [compare.py options]   e.g. --rounds 5 --seconds 10
#   Environment: BENCH_SKIP_INSTALL=1 skips apt/pip (everything already there).
# Exit status: 0 if every target is met, 1 if one is missed, 2+ on errors.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }
log() { echo "compare.sh: $*" >&2; }

if [ "${BENCH_SKIP_INSTALL:-0}" != 1 ]; then
    need=()
    command -v wrk >/dev/null || need+=(wrk)
    # open3d's wheel links libusb-1.0 (Open3D's RealSense support).
    ldconfig -p | grep -q 'libusb-1.0.so.0' || need+=(libusb-1.0-0)
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
    if [ ${#need[@]} -gt 0 ]; then
        log "installing ${need[*]} (Debian)"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
    fi
fi

py="$(bash scripts/python-env.sh --with-server | tail -n 1)"
open3d=real
if ! "$py" -c 'import open3d' >/dev/null 2>&1; then
    if [ "${BENCH_SKIP_INSTALL:-0}" != 1 ]; then
        log "installing open3d-cpu into the venv (large download, once)"
        "$py" -m pip install -q --disable-pip-version-check open3d-cpu >&2 || true
    fi
    if ! "$py" -c 'import open3d' >/dev/null 2>&1; then
        # plantdb.server imports open3d at start-up but the auth routes never use it.
        log "open3d unavailable: the Python server runs with a stand-in open3d module"
        open3d=stub
    fi
fi

log "building the release binary"
cargo build --release -q -p plantdb-auth
log "measuring one Argon2 verification (criterion, default and legacy parameters)"
cargo bench -q -p plantdb-auth-core --bench password -- 'argon2/verify/' \
    --warm-up-time 1 --measurement-time 3 --noplot >&2

exec "$py" bench/compare.py --python "$py" --open3d "$open3d" \
    --ours "$repo/target/release/plantdb-auth" --criterion "$repo/target/criterion" "$@"
