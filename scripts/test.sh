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
exec cargo test --workspace "$@"
