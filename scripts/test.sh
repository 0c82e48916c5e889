#!/usr/bin/env bash
# The test command: the whole workspace (unit and integration tests), then,
# when no arguments are given, the compatibility suites that drive real
# programs against the server:
#   - the read and write differential tests against the real Python
#     plantdb-server 0.17 (scripts/pycompat/run_differential.sh,
#     run_write_differential.sh) and the Plant Imager's upload flow with
#     plantdb-client (scripts/pycompat/robot_flow.py, inside the latter);
#   - the ROMI web viewer in headless Chromium (scripts/viewer/run.sh).
# Each says "skipped" with what is missing and how to get it when it cannot run.
# Arguments are passed to `cargo test` (and then only cargo test runs).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -z "${PLANTDB_PYTHON:-}" ] && [ -x target/pyenv/venv/bin/python ]; then
    export PLANTDB_PYTHON="$PWD/target/pyenv/venv/bin/python"
fi
if [ -z "${PLANTDB_TEST_POSTGRES:-}" ]; then
    echo "PostgreSQL tests: skipped (set PLANTDB_TEST_POSTGRES=postgres://... to run them;" \
         "'bash scripts/pg-test-cluster.sh start' starts a throw-away server and prints its URL)" >&2
fi
if [ -n "${PLANTDB_TEST_POSTGRES:-}" ] && [ -z "${PLANTDB_TEST_POSTGRES_CA:-}" ]; then
    echo "PostgreSQL TLS tests: skipped (set PLANTDB_TEST_POSTGRES_CA=\"\$(bash scripts/pg-test-cluster.sh ca)\"" \
         "to verify the test cluster's certificate)" >&2
fi
status=0
cargo test --workspace --no-fail-fast "$@" || status=1
[ $# -gt 0 ] && exit $status

cargo build -q -p plantdb-auth || exit 1
py_server=0
if [ -x target/pyenv/venv/bin/python ] \
    && target/pyenv/venv/bin/python -c 'import plantdb.server, open3d' >/dev/null 2>&1; then
    py_server=1
fi
if [ "$py_server" = 1 ]; then
    bash scripts/pycompat/run_differential.sh --viewer --require-ours || status=1
    if [ -f scripts/pycompat/run_write_differential.sh ]; then
        bash scripts/pycompat/run_write_differential.sh || status=1
    fi
else
    echo "differential tests against the Python server: skipped (the Python server is not installed;" \
         "run 'bash scripts/python-env.sh --with-server' once; Debian needs libusb-1.0-0 for open3d)" >&2
fi
if [ -f scripts/viewer/run.sh ]; then
    PLANTDB_VIEWER_TEST_OPTIONAL="${PLANTDB_VIEWER_TEST_OPTIONAL:-1}" bash scripts/viewer/run.sh || status=1
else
    echo "viewer browser test: skipped (scripts/viewer/run.sh is missing)" >&2
fi
exit $status
