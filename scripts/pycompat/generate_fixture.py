#!/usr/bin/env python3
"""Generate a PlantDB FSDB user/group fixture with the REAL `plantdb.commons` package.

Usage: python generate_fixture.py [OUT_DIR]
    (OUT_DIR defaults to <repo>/crates/core/tests/fixtures/python_fsdb)
Run it with the venv made by scripts/python-env.sh.

Everything in users.json / groups.json is written by plantdb.commons itself
(FSDB -> RBACManager -> UserManager / GroupManager, argon2-cffi default hashing),
then copied byte for byte into OUT_DIR together with:
    romidb          the (empty) FSDB marker file
    passwords.json  {username: plaintext password} for every user in users.json
    README.md       provenance
The fixture is regenerated from scratch on every run (hashes, salts and timestamps change).
"""
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_OUT = REPO / "crates" / "core" / "tests" / "fixtures" / "python_fsdb"

# Quiet the package's INFO/WARNING console logging (it logs on every user creation).
logging.disable(logging.ERROR)

from plantdb.commons.auth.models import Permission, Role, User  # noqa: E402
from plantdb.commons.fsdb.core import FSDB  # noqa: E402
from plantdb.commons.fsdb.path_helpers import MARKER_FILE_NAME  # noqa: E402

# (username as given to create(), fullname, password, roles or None for the default)
# NB: UserManager.create() lower-cases the username; passwords.json uses the STORED name.
LONG_UNICODE_NAME = (
    "Zoë Åsa Ðorđević-Müller-Łukasiewicz de la Peña ∙ 植物表型研究者 ∙ "
    "Νικόλαος Παπαδόπουλος ∙ Ольга Сергеевна Иванова ∙ محمد بن سلمان ∙ 🌱🌿🌳 "
    "(a deliberately long full name, more than 150 characters, with combining e\u0301 and ZWJ 👩\u200d🔬)"
)
SPACES_PASSWORD = "  Grüße, naïve café ☕ 🌱 Ünïcødé  "  # leading/trailing spaces, non-ASCII, astral char
USERS = [
    ("rita.reader", "Rita Reader", "Reader-pass-42", {Role.READER}),
    ("carl_contrib", "Carl Contributor", "Contrib-pass-42", {Role.CONTRIBUTOR}),
    ("ada-admin", "Ada Admin", "Admin-pass-42!", {Role.ADMIN}),
    ("extra.perms", "Extra Permissions", "Extra-pass-42", None),  # default role (reader) + extras
    ("multi.role", "Multi Role", "Multi-pass-42", {Role.READER, Role.CONTRIBUTOR}),
    ("dora.disabled", "Dora Disabled", "Disabled-pass-42", {Role.CONTRIBUTOR}),
    ("MixedCase.User", "Mixed Case User", "Mixed-pass-42", {Role.READER}),
    ("unicode.name", LONG_UNICODE_NAME, "Unicode-pass-42", {Role.READER}),
    ("spaces.pw", "Spaces In Password", SPACES_PASSWORD, {Role.READER}),
    ("locked.out", "Locked Out (until ~2126)", "Locked-pass-42", {Role.READER}),
    ("was.locked", "Was Locked (lock expired)", "WasLocked-pass-42", {Role.READER}),
]
# Built like the package's own docstring examples (aware UTC created_at) and saved by the
# package: this is how an offset-form timestamp ("...+00:00") ends up in users.json.
UTC_USER = ("legacy.utc", "Legacy UTC Timestamps", "Legacy-pass-42")


def build(root: Path) -> dict:
    """Create the database in `root`; return {stored username: password}."""
    (root / MARKER_FILE_NAME).touch()
    passwords = {}
    # FSDB() creates users.json / groups.json (empty) and ensures guest/guest and
    # admin/admin (it prints the admin password on stdout: keep stdout clean).
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        db = FSDB(root)
    rbac = db.rbac_manager
    um = rbac.users
    passwords[um.GUEST_USERNAME] = um.GUEST_PASSWORD
    passwords[um.ADMIN_USERNAME] = "admin"  # hard-coded in UserManager._ensure_admin_user (0.17)
    admin = um.get_user("admin")

    for username, fullname, password, roles in USERS:
        user = rbac.create_user(admin, username, fullname, password, roles)
        assert user is None  # UserManager.create() returns None in 0.17
        passwords[username.lower()] = password

    # Extra permissions on top of the reader role.
    extra = um.get_user("extra.perms")
    extra.grant_permission(Permission.WRITE)
    extra.grant_permission(Permission.MANAGE_GROUPS)
    um._save_users()  # the package has no public "save" for permission edits

    # Deactivated account.
    assert rbac.deactivate(admin, "dora.disabled")

    # Logins: last_login set; failures: failed_attempts / last_failed_attempt.
    assert um.validate("admin", "admin")
    assert um.validate("rita.reader", "Reader-pass-42")
    assert not um.validate("carl_contrib", "wrong")  # 1 failure...
    assert um.validate("carl_contrib", "Contrib-pass-42")  # ...then success: counter reset, last_failed kept
    assert not um.validate("multi.role", "wrong")
    assert not um.validate("multi.role", "wrong")  # 2 failures, not locked (limit is 3)
    assert not um.validate("MixedCase.User", "Mixed-pass-42")  # look-up is case-sensitive in 0.17!
    assert um.validate("mixedcase.user", "Mixed-pass-42")
    assert um.validate("spaces.pw", SPACES_PASSWORD)
    assert not um.validate("spaces.pw", SPACES_PASSWORD.strip())

    # Default lockout (900 s): locked now, expired by the time tests read the fixture.
    for _ in range(3):
        assert not um.validate("was.locked", "wrong")
    # Long lockout (as if configured with lockout_duration=100 years): still locked when read.
    default_lockout = um.lockout_duration
    um.lockout_duration = timedelta(days=36500)
    for _ in range(3):
        assert not um.validate("locked.out", "wrong")
    um.lockout_duration = default_lockout
    assert not um.validate("locked.out", "Locked-pass-42")  # locked: refused even with the right password

    # Offset-form timestamps.
    username, fullname, password = UTC_USER
    now_utc = datetime.now(timezone.utc)
    um.users[username] = User(
        username=username, fullname=fullname, password_hash=um._hash_password(password),
        roles={Role.READER}, created_at=now_utc, password_last_change=now_utc,
    )
    um._save_users()
    passwords[username] = password

    # Groups (creator is always added as a member).
    assert rbac.create_group(admin, "researchers", {"rita.reader", "carl_contrib"}, "Plant research team")
    assert rbac.create_group(um.get_user("ada-admin"), "no-description", None, None)
    # Created by a reader that holds manage_groups only through its extra permissions.
    assert rbac.create_group(um.get_user("extra.perms"), "équipe-phéno", {"unicode.name", "spaces.pw"},
                             "Équipe de phénotypage 🌿 (unicode description)")
    assert set(passwords) == set(um.users), (sorted(passwords), sorted(um.users))
    return passwords


def main(argv):
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    with tempfile.TemporaryDirectory(prefix="plantdb-fixture-") as tmp:
        root = Path(tmp)
        passwords = build(root)
        out.mkdir(parents=True, exist_ok=True)
        for name in (MARKER_FILE_NAME, "users.json", "groups.json"):
            shutil.copyfile(root / name, out / name)  # byte for byte
    with open(out / "passwords.json", "w", encoding="utf-8") as f:
        json.dump(passwords, f, indent=2, ensure_ascii=False)
        f.write("\n")
    versions = ", ".join(f"{p}=={version(p)}" for p in ("plantdb.commons", "argon2-cffi"))
    (out / "README.md").write_text(
        f"Generated by `scripts/pycompat/generate_fixture.py` with the real {versions} "
        f"(Python {sys.version.split()[0]}) on {datetime.now().date().isoformat()}; "
        "`users.json`/`groups.json` are byte-for-byte what the package wrote, `passwords.json` maps every user to its password.\n"
        "Do not edit by hand: regenerate with `$(scripts/python-env.sh) scripts/pycompat/generate_fixture.py` "
        "(hashes, salts and timestamps change) and check with `scripts/pycompat/check_fsdb.py <dir>`.\n"
        "Notes: timestamps are naive local times except `legacy.utc` (`+00:00` offsets); "
        "`locked.out` is locked for ~100 years, `was.locked` was locked for 900 s (expired); "
        "`dora.disabled` is inactive; `MixedCase.User` is stored as `mixedcase.user`.\n",
        encoding="utf-8",
    )
    # Self-check with the same code the CI uses on Rust-written databases.
    sys.path.insert(0, str(HERE))
    import check_fsdb
    return check_fsdb.main(["check_fsdb.py", str(out)])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
