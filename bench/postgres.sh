#!/usr/bin/env bash
# plantdb-auth on PostgreSQL vs on FSDB, and two instances on one PostgreSQL
# database, on this machine, in one run (issue 8, point 5).
#
# Builds the release binary, starts (or reuses) the throw-away PostgreSQL cluster
# of scripts/pg-test-cluster.sh unless PLANTDB_BENCH_POSTGRES gives a cluster URL,
# then runs bench/postgres.py: validation throughput at c=32 on FSDB, on
# PostgreSQL, and on two PostgreSQL instances sharing one database (two wrk
# processes, one per instance, summed), and sequential login latency on FSDB and
# PostgreSQL. Each PostgreSQL setup gets its own fresh database (CREATE DATABASE,
# dropped at the end). Prints one table; writes bench/results/postgres-<time>.json
# (+ .txt with the table).
#
# Usage: bench/postgres.sh [postgres.py options]   e.g. --rounds 5 --seconds 10 --logins 30
#   Environment: PLANTDB_BENCH_POSTGRES=postgres://user@host:port/db  (a role allowed to
#   CREATE DATABASE); BENCH_SKIP_BUILD=1 uses target/release/plantdb-auth as it is.
# Needs wrk and psql (Debian: wrk, postgresql-client; the test cluster needs postgresql).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
log() { echo "postgres.sh: $*" >&2; }

command -v wrk >/dev/null || { log "wrk is not installed (Debian: apt-get install -y wrk)"; exit 2; }
command -v psql >/dev/null || { log "psql is not installed (Debian: apt-get install -y postgresql-client)"; exit 2; }

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building the release binary"
    cargo build --release -q -p plantdb-auth
fi

url="${PLANTDB_BENCH_POSTGRES:-}"
if [ -z "$url" ]; then
    log "starting (or reusing) the test PostgreSQL cluster"
    url="$(bash scripts/pg-test-cluster.sh start | tail -n 1)"
fi
log "PostgreSQL: $url"

exec python3 bench/postgres.py --ours "$repo/target/release/plantdb-auth" --postgres "$url" "$@"
