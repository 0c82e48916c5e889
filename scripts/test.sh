#!/usr/bin/env bash
# The test command: the whole workspace, unit and integration tests. Tests that
# need the Python reference packages run when scripts/python-env.sh has been
# run (or PLANTDB_PYTHON points at an interpreter with them) and say
# "skipped" otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -z "${PLANTDB_PYTHON:-}" ] && [ -x target/pyenv/venv/bin/python ]; then
    export PLANTDB_PYTHON="$PWD/target/pyenv/venv/bin/python"
fi
if [ -z "${PLANTDB_TEST_POSTGRES:-}" ]; then
    echo "PostgreSQL tests: skipped (set PLANTDB_TEST_POSTGRES=postgres://... to run them;" \
         "'bash scripts/pg-test-cluster.sh start' starts a throw-away server and prints its URL)" >&2
fi
exec cargo test --workspace --no-fail-fast "$@"
