"""Databases for bench/compare.py: fresh ones, one with 10 000 users, and
filling our session store with 100 000 live sessions."""

import base64
import json
import os
import sqlite3
import time
from pathlib import Path

# argon2-cffi 25.1's PasswordHasher().hash("admin"): a real hash at the Python
# server's parameters. Every generated user shares it (load cost does not
# depend on the hash, and nobody logs in on that database).
PHC = "$argon2id$v=19$m=65536,t=3,p=4$Kv1Ml81SyU1JhO8Dv9gfsA$WEBFa5js2vcCgsgKt9AeIc44DxT750lKtu5N3dmTGqA"


def fresh_db(path):
    """An empty PlantDB database: a directory with the `romidb` marker."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=False)
    (path / "romidb").touch()
    return path


def user_record(name, role):
    stamp = "2026-11-26T17:31:31.376433"
    return {
        "username": name,
        "fullname": f"Bench User {name}",
        "password_hash": PHC,
        "roles": [role],
        "created_at": stamp,
        "_extra_permissions": [],
        "last_login": None,
        "is_active": True,
        "failed_attempts": 0,
        "last_failed_attempt": None,
        "locked_until": None,
        "password_last_change": stamp,
    }


def db_with_users(path, count):
    """A database whose users.json holds guest, admin and `count` readers,
    in plantdb-commons' format (json.dump, indent=2)."""
    path = fresh_db(path)
    records = [user_record("guest", "reader"), user_record("admin", "admin")]
    records += [user_record(f"user{i:05d}", "reader") for i in range(count)]
    (path / "users.json").write_text(json.dumps(records, indent=2))
    (path / "groups.json").write_text("{}")
    return path


def _token_id():
    return base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()


def add_sessions(sessions_db, count, per_user=10, users=("guest",)):
    """Inserts `count` live login sessions (an access and a refresh token
    each, as a login leaves them) into our SQLite session store, spread over
    made-up users, `per_user` each. The server must be stopped."""
    now = int(time.time())
    conn = sqlite3.connect(sessions_db)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(tokens)")}
    needed = {"jti", "kind", "username", "family", "started_at", "issued_at", "expires_at", "used", "datasets"}
    if not needed <= columns:
        raise RuntimeError(f"unexpected session schema in {sessions_db}: {sorted(columns)}")
    rows = []
    for i in range(count):
        user = f"sessionuser{i // per_user:06d}"
        family = _token_id()
        rows.append((_token_id(), "access", user, family, now, now, now + 86400, 0, None))
        rows.append((_token_id(), "refresh", user, family, now, now, now + 86400, 0, None))
    with conn:
        conn.executemany(
            "INSERT INTO tokens (jti, kind, username, family, started_at, issued_at, expires_at, used, datasets)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    conn.close()
    return len(rows)
