#!/usr/bin/env python3
"""The Python plantdb-server 0.17.0 WITHOUT its per-route rate limits, for bench/data.sh.

Usage: python_server.py [fsdb_rest_api options]   (same as scripts/pycompat/run_python_server.py)

plantdb.server 0.17 limits every data route per client IP (`@rate_limit(max_requests=120,
window_seconds=60)` on scans/info, 3000/min on images, 5/min on point clouds, ...): a
benchmark would measure 429s. The decorator is defined in plantdb.server.core.security and
copied by name into each api module at import (`from ... import rate_limit`), so it is
replaced by a pass-through HERE, before any api module is imported; then
scripts/pycompat/run_python_server.py runs as usual (real open3d if installed, else its
stand-in). Nothing else is changed. The pass-through also removes the limiter's own cost
(a lock and a list filter per request): it favours Python slightly.
"""
import runpy
import sys
from pathlib import Path

import plantdb.server.core.security as security


def _no_rate_limit(max_requests=5, window_seconds=60):  # noqa: ARG001 (same signature)
    return lambda f: f


security.rate_limit = _no_rate_limit
if any(name.startswith("plantdb.server.api") for name in sys.modules):
    sys.exit("python_server.py: plantdb.server.api was imported before the patch: rate limits stay on")

script = Path(__file__).resolve().parents[2] / "scripts" / "pycompat" / "run_python_server.py"
sys.argv[0] = str(script)
runpy.run_path(str(script), run_name="__main__")
