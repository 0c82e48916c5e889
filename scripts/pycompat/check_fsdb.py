#!/usr/bin/env python3
"""Check that an FSDB's users.json / groups.json are readable by the REAL Python PlantDB.

Usage: python check_fsdb.py DIR [--require-naive]

Loads DIR/users.json and DIR/groups.json with plantdb.commons (User.from_dict, then the
package's own UserManager/GroupManager loading code run on a temporary COPY, so DIR is
never modified), and checks:
  * users.json is a JSON array of user records accepted by User.from_dict, usernames unique;
  * every locked_until can be compared with datetime.now() (the Python server does
    `datetime.now() < user.locked_until`: an offset-aware value raises TypeError there);
  * groups.json is a JSON object loadable by GroupManager (datetime.fromisoformat);
  * if DIR/passwords.json ({username: password}) exists, every listed user exists and its
    password verifies with argon2-cffi's PasswordHasher().verify against password_hash.
  --require-naive: additionally require every timestamp to be naive (no UTC offset), i.e.
    exactly what the Python server itself writes.
A missing or empty users.json / groups.json means "none yet", as in the package.
Exit 0 with a one-line summary, 1 with one "FAIL: ..." line per problem, 2 on usage error.
"""
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path

logging.disable(logging.ERROR)  # the package logs a lot at INFO/WARNING

from argon2 import PasswordHasher  # noqa: E402
from argon2.exceptions import VerificationError, VerifyMismatchError, InvalidHashError  # noqa: E402
from plantdb.commons.auth.manager import GroupManager, UserManager  # noqa: E402
from plantdb.commons.auth.models import User  # noqa: E402

TIMESTAMPS = ("created_at", "last_login", "last_failed_attempt", "locked_until", "password_last_change")


def _load_json(path: Path, errors: list):
    """Return parsed JSON, or None when the file is missing/empty (package semantics)."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        errors.append(f"{path.name}: not valid UTF-8 JSON: {e}")
        return None


def check(root: Path, require_naive: bool = False):
    errors, notes = [], []
    now = datetime.now()

    # ---- users.json -----------------------------------------------------------------
    users_raw = _load_json(root / "users.json", errors)
    users, unparsed = {}, set()
    if users_raw is not None and not isinstance(users_raw, list):
        errors.append(f"users.json: top level must be a JSON array, got {type(users_raw).__name__}")
        users_raw = None
    for i, rec in enumerate(users_raw or []):
        where = f"users.json[{i}]"
        if not isinstance(rec, dict):
            errors.append(f"{where}: must be an object")
            continue
        where = f"users.json[{i}] ({rec.get('username')!r})"
        try:
            user = User.from_dict(rec)
        except Exception as e:  # KeyError / ValueError / TypeError from the package
            errors.append(f"{where}: User.from_dict failed: {type(e).__name__}: {e}")
            unparsed.add(rec.get("username"))
            continue
        if user.username in users:
            errors.append(f"{where}: duplicate username")
        users[user.username] = user
        if not isinstance(rec.get("password_hash"), str) or not rec["password_hash"].startswith("$argon2"):
            errors.append(f"{where}: password_hash is not an Argon2 PHC string")
        if not isinstance(user.is_active, bool):
            errors.append(f"{where}: is_active must be a bool, got {user.is_active!r}")
        if not isinstance(user.failed_attempts, int) or isinstance(user.failed_attempts, bool):
            errors.append(f"{where}: failed_attempts must be an int, got {user.failed_attempts!r}")
        if not isinstance(rec.get("roles"), list):
            errors.append(f"{where}: roles must be a list")
        elif len(user.roles) != len(set(rec["roles"])):
            notes.append(f"{user.username}: unknown roles skipped")
        for key in TIMESTAMPS:
            value = getattr(user, key)
            if rec.get(key) is not None and not isinstance(value, datetime):
                errors.append(f"{where}: {key} is not an ISO-8601 string: {rec.get(key)!r}")
            elif require_naive and value is not None and value.tzinfo is not None:
                errors.append(f"{where}: {key} has a UTC offset ({rec[key]!r}); the Python server writes naive times")
        if user.locked_until is not None:
            try:
                _ = now < user.locked_until  # exactly what User._is_locked_out() does
            except TypeError as e:
                errors.append(f"{where}: `datetime.now() < locked_until` raises TypeError ({e}): "
                              f"locked_until={rec['locked_until']!r} must be naive")

    # ---- groups.json ----------------------------------------------------------------
    groups_raw = _load_json(root / "groups.json", errors)
    if groups_raw is not None and not isinstance(groups_raw, dict):
        errors.append(f"groups.json: top level must be a JSON object, got {type(groups_raw).__name__}")
        groups_raw = None
    for name, g in (groups_raw or {}).items():
        where = f"groups.json[{name!r}]"
        if not isinstance(g, dict):
            errors.append(f"{where}: must be an object")
            continue
        for key in ("users", "created_at", "created_by"):
            if key not in g:
                errors.append(f"{where}: missing key {key!r}")
        if not isinstance(g.get("users", []), list):
            errors.append(f"{where}: users must be a list")
        if g.get("description") is not None and not isinstance(g["description"], str):
            errors.append(f"{where}: description must be a string or null")
        try:
            ts = datetime.fromisoformat(g.get("created_at"))
            if require_naive and ts.tzinfo is not None:
                errors.append(f"{where}: created_at has a UTC offset; the Python server writes naive times")
        except (TypeError, ValueError) as e:
            errors.append(f"{where}: created_at not ISO-8601: {e}")
        unknown = [u for u in g.get("users", []) if isinstance(u, str) and users and u not in users and u not in unparsed]
        if unknown:
            notes.append(f"group {name}: members not in users.json: {unknown}")

    # ---- the package's own loaders, on a copy (they may write guest/admin) -------------
    if not errors:
        with tempfile.TemporaryDirectory(prefix="plantdb-check-") as tmp, \
                open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            tmp = Path(tmp)
            for name in ("users.json", "groups.json"):
                if (root / name).exists():
                    shutil.copyfile(root / name, tmp / name)
                else:
                    (tmp / name).touch()
            try:
                um = UserManager(tmp / "users.json")
                for username in users:
                    um.is_locked_out(username)  # the server's lock check, on the real code path
            except Exception as e:
                errors.append(f"users.json: plantdb UserManager failed to load/use it: {type(e).__name__}: {e}")
            try:
                gm = GroupManager(tmp / "groups.json")
                if len(gm.groups) != len(groups_raw or {}):
                    errors.append("groups.json: GroupManager loaded a different number of groups")
            except Exception as e:
                errors.append(f"groups.json: plantdb GroupManager failed to load it: {type(e).__name__}: {e}")

    # ---- passwords.json (optional) --------------------------------------------------
    verified = 0
    pw_path = root / "passwords.json"
    if pw_path.exists():
        passwords = _load_json(pw_path, errors) or {}
        if not isinstance(passwords, dict):
            errors.append("passwords.json: must be an object {username: password}")
            passwords = {}
        ph = PasswordHasher()
        for username, password in passwords.items():
            user = users.get(username)
            if user is None:
                if username in unparsed:
                    continue  # already reported
                errors.append(f"passwords.json: user {username!r} is not in users.json")
                continue
            try:
                ph.verify(user.password_hash, password)
                verified += 1
            except VerifyMismatchError:
                errors.append(f"user {username!r}: password from passwords.json does not verify against its hash")
            except (VerificationError, InvalidHashError) as e:
                errors.append(f"user {username!r}: argon2 verification error: {type(e).__name__}: {e}")

    inactive = sum(1 for u in users.values() if not u.is_active)
    locked = 0
    for u in users.values():
        try:
            locked += bool(u.locked_until and now < u.locked_until)
        except TypeError:
            pass
    summary = (f"{len(users)} users ({inactive} inactive, {locked} locked), "
               f"{len(groups_raw or {})} groups, {verified} passwords verified")
    return errors, notes, summary


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    flags = [a for a in argv[1:] if a.startswith("--")]
    if len(args) != 1 or any(f != "--require-naive" for f in flags):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    root = Path(args[0])
    if not root.is_dir():
        print(f"FAIL: {root}: not a directory", file=sys.stderr)
        return 1
    errors, notes, summary = check(root, require_naive="--require-naive" in flags)
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    if errors:
        for e in errors:
            print(f"FAIL: {root}: {e}", file=sys.stderr)
        return 1
    print(f"ok: {root}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
