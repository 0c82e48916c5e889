#!/usr/bin/env bash
# Starts a throw-away PostgreSQL cluster for the PostgreSQL tests, on a
# loopback port, as an unprivileged user, and prints its URL on the last
# line of stdout:
#
#   export PLANTDB_TEST_POSTGRES="$(bash scripts/pg-test-cluster.sh start | tail -n 1)"
#   bash scripts/test.sh
#   bash scripts/pg-test-cluster.sh stop
#
# The server also accepts TLS (plaintext too), with a certificate for
# localhost and 127.0.0.1 from a throw-away CA made with openssl:
#
#   export PLANTDB_TEST_POSTGRES_CA="$(bash scripts/pg-test-cluster.sh ca)"
#
# prints that CA's PEM file (beside it, other-ca.crt: a CA that signed
# nothing, for the tests that must refuse the server's certificate).
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

# The CA, the server's key and certificate (EC P-256), made once.
make_tls() {
    local tls="$dir/tls"
    [ -f "$tls/server.crt" ] && return 0
    command -v openssl >/dev/null || { echo "pg-test-cluster.sh: openssl is needed for the TLS test certificates (Debian: apt-get install openssl)" >&2; exit 1; }
    mkdir -p "$tls"
    local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    for ca in ca other-ca; do
        openssl req -x509 "${ec[@]}" -days 3650 -subj "/CN=plantdb-auth test $ca" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -keyout "$tls/$ca.key" -out "$tls/$ca.crt" 2>/dev/null
    done
    openssl req "${ec[@]}" -subj "/CN=localhost" -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" > "$tls/server.ext"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
        -days 3650 -extfile "$tls/server.ext" -out "$tls/server.crt" 2>/dev/null
    if [ "$(id -u)" = 0 ]; then chown postgres: "$tls/server.key" "$tls/server.crt"; fi
    chmod 600 "$tls/server.key"
    chmod 644 "$tls/ca.crt" "$tls/other-ca.crt" "$tls/server.crt"
}

# TLS settings are reloadable: a cluster started before them gets them too.
enable_tls() {
    make_tls
    as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt \
        -c "ALTER SYSTEM SET ssl_cert_file = '$dir/tls/server.crt'" \
        -c "ALTER SYSTEM SET ssl_key_file = '$dir/tls/server.key'" \
        -c "ALTER SYSTEM SET ssl = on" -c "SELECT pg_reload_conf()" >/dev/null
}

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
        enable_tls
        echo "postgres://postgres@127.0.0.1:$port/postgres"
        ;;
    ca)
        make_tls
        echo "$dir/tls/ca.crt"
        ;;
    stop)
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >&2 || true
        ;;
    *)
        echo "usage: $0 start|stop|ca" >&2
        exit 2
        ;;
esac
