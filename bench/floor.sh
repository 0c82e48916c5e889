#!/usr/bin/env bash
# Token validation against the floor of its stack, in one run: builds the
# release binaries (plantdb-auth and bench/floor's validation-floor), then
# bench/floor.py runs wrk at c=32 on both, alternating.
# Usage: bench/floor.sh [--rounds N] [--seconds S] [--out FILE]
# Needs wrk (Debian: apt-get install wrk). Exit 0 when the target is met.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
command -v wrk >/dev/null || { echo "floor.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
cargo build --release -q -p plantdb-auth -p plantdb-auth-floor
exec python3 bench/floor.py --ours target/release/plantdb-auth \
    --floor target/release/validation-floor "$@"
