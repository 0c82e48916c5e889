#!/usr/bin/env python3
"""Run the REFERENCE Python server (`fsdb_rest_api` from plantdb-server 0.17.0) without Open3D.

Usage: python run_python_server.py [fsdb_rest_api options...]
    e.g. run_python_server.py --host 127.0.0.1 --port 5123 --db-path /tmp/db
         run_python_server.py --host 127.0.0.1 --port 5123 --test --empty
Needs the venv made by `scripts/python-env.sh --with-server`.

plantdb.server imports plantdb.server.webcache at start-up, which hard-requires `open3d`
(a ~400 MB wheel, and not even a declared dependency of plantdb-server). It is only used
to resample point clouds/meshes, never by the auth routes, so an empty stand-in module is
registered before the import. Everything else is the unmodified package.
`--db-path DIR` needs DIR to contain an empty `romidb` marker file; users.json/groups.json
are created there if missing, with admin/admin and guest/guest (plantdb 0.17 behaviour).
`--test --empty` builds a temporary empty database (no sample-data download).
"""
import sys
import types

if "open3d" not in sys.modules:
    try:
        import open3d  # noqa: F401  (use the real one if it is installed)
    except ModuleNotFoundError:
        sys.modules["open3d"] = types.ModuleType("open3d")

from plantdb.server.cli.fsdb_rest_api import main  # noqa: E402

if __name__ == "__main__":
    sys.argv[0] = "fsdb_rest_api"
    sys.exit(main())
