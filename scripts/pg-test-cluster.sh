#!/usr/bin/env bash
# Starts a throw-away PostgreSQL cluster for the PostgreSQL tests, on a
# loopback port, as an unprivileged user, and prints its URL on the last
# line of stdout:
#
#   export PLANTDB_TEST_POSTGRES="$(bash scripts/pg-test-cluster.sh start | tail -n 1)"
#   bash scripts/test.sh
#   bash scripts/pg-test-cluster.sh stop
#
# Needs Debian's postgresql package (initdb, pg_ctl). Run as root, the
# cluster belongs to the `postgres` user the package creates; run as anyone
# else, it belongs to you.
# Environment: PLANTDB_PG_PORT (default 54329), PLANTDB_PG_DIR (default
# /tmp/plantdb-auth-pg).
set -euo pipefail

port="${PLANTDB_PG_PORT:-54329}"
dir="${PLANTDB_PG_DIR:-/tmp/plantdb-auth-pg}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -x "$bin/initdb" ] || { echo "pg-test-cluster.sh: no PostgreSQL server found (Debian: apt-get install postgresql)" >&2; exit 1; }

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    else
        "$@"
    fi
}

case "${1:-start}" in
    start)
        if [ ! -f "$dir/data/PG_VERSION" ]; then
            mkdir -p "$dir"
            if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
            as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >&2
        fi
        if as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
            port="$(sed -n 's/^port = \([0-9]*\).*/\1/p' "$dir/data/postgresql.auto.conf" 2>/dev/null | tail -n 1)"
            port="${port:-${PLANTDB_PG_PORT:-54329}}"
        else
            # The first free port from $port on: another cluster may hold it.
            started=0
            for try in 0 1 2 3 4 5 6 7 8 9; do
                p=$((port + try))
                if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
                    -o "-p $p -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >&2; then
                    port=$p; started=1; break
                fi
            done
            [ "$started" = 1 ] || { echo "pg-test-cluster.sh: the server did not start; see $dir/log" >&2; exit 1; }
            as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt \
                -c "ALTER SYSTEM SET port = $port" >/dev/null
        fi
        echo "postgres://postgres@127.0.0.1:$port/postgres"
        ;;
    stop)
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >&2 || true
        ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
