#!/usr/bin/env bash
# Create (if missing) the Python venv used by the compatibility tooling and tests
# (scripts/pycompat/, crates/server/tests/python/) and install the pinned reference
# packages into it. Idempotent: re-running it when everything is in place does no
# network access. Prints the venv's python path on the last line of stdout.
#
# Usage: scripts/python-env.sh [--with-server]
#   --with-server   also install plantdb-server==0.17.0 (Flask, ...) and open3d-cpu
#                   (the real Open3D, CPU build, ~100 MB wheel + Dash/Jupyter widgets),
#                   needed to run the reference Python server with its data routes
#                   (scripts/pycompat/run_python_server.py, run_differential.sh).
#                   Open3D's shared library needs Debian's libusb-1.0-0 (and libgomp1):
#                   a hint is printed when `import open3d` fails.
# Environment:
#   PLANTDB_VENV    venv location (default: <repo>/target/pyenv/venv)
#   PYTHON          interpreter used to create the venv (default: first of
#                   python3.11, python3.12, python3.10, python3 that is >=3.10,<3.13)
set -euo pipefail

PLANTDB_VERSION=0.17.0
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PLANTDB_VENV:-$repo/target/pyenv/venv}"
constraints="$repo/scripts/pycompat/constraints.txt"

with_server=0
for arg in "$@"; do
    case "$arg" in
        --with-server) with_server=1 ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "python-env.sh: unknown argument '$arg'" >&2; exit 2 ;;
    esac
done

die() { echo "python-env.sh: $*" >&2; exit 1; }

# plantdb 0.17 declares Requires-Python >=3.10,<3.13.
py_ok() { "$1" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] < (3, 13) else 1)' 2>/dev/null; }

if [ ! -x "$venv/bin/python" ]; then
    if [ -n "${PYTHON:-}" ]; then
        py="$PYTHON"
        py_ok "$py" || die "\$PYTHON=$py is not a Python >=3.10,<3.13 (required by plantdb 0.17)"
    else
        py=""
        for cand in python3.11 python3.12 python3.10 python3; do
            if command -v "$cand" >/dev/null 2>&1 && py_ok "$cand"; then py="$cand"; break; fi
        done
        [ -n "$py" ] || die "no Python >=3.10,<3.13 found (Debian 12: apt-get install python3 python3-venv)"
    fi
    # Debian/Ubuntu split ensurepip out of the interpreter: without the python3-venv
    # package `python3 -m venv` fails ("ensurepip is not available").
    if ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        die "'$py -m venv' is unavailable: install Debian's python3-venv package (apt-get install -y python3-venv)"
    fi
    mkdir -p "$(dirname "$venv")"
    "$py" -m venv "$venv" || die "'$py -m venv $venv' failed (Debian: apt-get install -y python3-venv)"
fi

vpy="$venv/bin/python"
py_ok "$vpy" || die "$venv exists but its python is not >=3.10,<3.13; remove it or set PLANTDB_VENV"

# plantdb-client imports pybase64 without declaring it (plantdb-server
# brings it): install it explicitly. Dashed names: pip and importlib accept them.
pkgs=("plantdb-commons==$PLANTDB_VERSION" "plantdb-client==$PLANTDB_VERSION" "pybase64==1.5.1")
# open3d-cpu: plantdb.server imports open3d at start-up (webcache.py) without
# declaring it; the CPU wheel provides the same `open3d` module as the GPU one.
OPEN3D_VERSION=0.20.0
[ "$with_server" = 1 ] && pkgs+=("plantdb-server==$PLANTDB_VERSION" "open3d-cpu==$OPEN3D_VERSION")

# Skip pip entirely (no network) when the pinned distributions are already there.
if ! "$vpy" - "${pkgs[@]}" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version, PackageNotFoundError
for spec in sys.argv[1:]:
    name, want = spec.split("==")
    try:
        if version(name) != want:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
EOF
then
    "$vpy" -m pip --version >/dev/null 2>&1 \
        || die "$venv has no pip (half-created venv?): remove it and re-run (Debian: apt-get install -y python3-venv)"
    pip_args=(-q --disable-pip-version-check --no-input)
    [ -f "$constraints" ] && pip_args+=(-c "$constraints")
    # PyPI spells them plantdb-commons etc.; pip normalises '.' and '-'.
    PIP_NO_WARN_SCRIPT_LOCATION=1 "$vpy" -m pip install "${pip_args[@]}" "${pkgs[@]}" >&2 \
        || die "pip install ${pkgs[*]} into $venv failed"
fi

if [ "$with_server" = 1 ]; then
    # Open3D's pybind module links libusb-1.0 and libgomp (Debian: libusb-1.0-0, libgomp1).
    if ! err="$("$vpy" -c 'import open3d' 2>&1)"; then
        echo "python-env.sh: warning: 'import open3d' fails in $venv:" >&2
        echo "$err" | tail -n 3 >&2
        case "$err" in
            *libusb*|*libEGL*|*libGL*|*libX11*|*libudev*) echo "python-env.sh: hint: apt-get install -y libusb-1.0-0 libegl1 libgl1 libx11-6 libudev1" >&2 ;;
            *libgomp*) echo "python-env.sh: hint: apt-get install -y libgomp1" >&2 ;;
        esac
    fi
fi

echo "$vpy"
