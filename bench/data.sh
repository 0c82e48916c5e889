#!/usr/bin/env bash
# Benchmark the data read side: plantdb-auth vs the Python plantdb-server 0.17.0 (and
# nginx for raw file throughput), on this machine, in one run.
#
# Installs what it needs (Debian: wrk, nginx-light, libusb-1.0-0, python3-venv; PyPI, in
# the project's venv: plantdb-server==0.17.0 and open3d-cpu via scripts/python-env.sh
# --with-server), builds our release binary, then runs bench/data/bench.py: a data
# fixture (scripts/pycompat/generate_data_fixture.py) scaled to 300 scans
# (bench/data/scale_db.py: + a 64 MiB file, + a 500 000-point cloud), one copy for each
# server; the Python server without its rate limits (bench/data/python_server.py);
# nginx (sendfile on) from a config in the temp directory, as a floor for file serving.
# Prints one table and the target checks; writes the raw results to
# bench/results/data-<time>.json (+ .txt with the table).
#
# Usage: bench/data.sh [bench.py options]   e.g. --rounds 5 --seconds 10, --no-python,
#        --fixture DIR, --scans 300, --cloud-points 500000, --keep, --out FILE.json
#   Environment: BENCH_SKIP_INSTALL=1 skips apt/pip (everything already there);
#                BENCH_SKIP_BUILD=1 uses target/release/plantdb-auth as it is.
# Exit status: 0 if every target is met, 1 if one is missed, 2+ on errors.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }
log() { echo "data.sh: $*" >&2; }

nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
if [ "${BENCH_SKIP_INSTALL:-0}" != 1 ]; then
    need=()
    command -v wrk >/dev/null || need+=(wrk)
    [ -x "$nginx_bin" ] || need+=(nginx-light)
    # open3d's wheel links libusb-1.0 (Open3D's RealSense support).
    ldconfig -p | grep -q 'libusb-1.0.so.0' || need+=(libusb-1.0-0)
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
    if [ ${#need[@]} -gt 0 ]; then
        log "installing ${need[*]} (Debian)"
        as_root apt-get update -qq
        # nginx-light's post-install may try to start the system nginx on :80; it is not used here.
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
    fi
    nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
fi

py="$(bash scripts/python-env.sh --with-server | tail -n 1)"
open3d=real
if ! "$py" -c 'import open3d' >/dev/null 2>&1; then
    # Without the real Open3D the Python server cannot make point-cloud previews.
    log "WARNING: 'import open3d' fails in the venv: the Python point-cloud rows will fail"
    open3d=stub
fi

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building the release binary (cargo build --release -p plantdb-auth)"
    cargo build --release -q -p plantdb-auth
fi

exec python3 bench/data/bench.py --python "$py" --open3d "$open3d" --nginx "$nginx_bin" \
    --ours "$repo/target/release/plantdb-auth" "$@"
