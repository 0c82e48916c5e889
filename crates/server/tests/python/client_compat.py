#!/usr/bin/env python3
"""Drive the REAL `plantdb.client` 0.17 package against a running PlantDB auth server.

Usage: python client_compat.py BASE_URL [--prefix /deploy-prefix] [--trace]
    BASE_URL   origin of a running server, e.g. http://127.0.0.1:5000 (no path: the client
               builds <origin><prefix>/api/v1/... itself)
    --prefix   deployment prefix, passed to PlantDBClient(prefix=...) and to the
               rest_api helpers (default: none)
    --trace    print every HTTP exchange (method, path, body keys, status, response keys)
               on stderr
The server must be in test mode: account admin/admin must exist and must not be locked.
Each run creates one new reader account (compat_<random>); nothing else is modified.
Prints "ok <check>" per check; exits 1 with "FAIL <check>: <reason>" on the first failure,
2 on usage errors. Depends only on the packages of the venv made by scripts/python-env.sh.
"""
import json
import logging
import secrets
import sys

import requests

from plantdb.client.plantdb_client import PlantDBClient
from plantdb.client.rest_api import requests as rest
from plantdb.commons.auth.models import Permission

ADMIN, ADMIN_PW = "admin", "admin"
NEW_PW = "Correct-Horse-7-battery"


class CheckFailed(Exception):
    pass


def check(name, cond, detail=""):
    if not cond:
        raise CheckFailed(f"{name}: {detail}" if detail else name)
    print(f"ok {name}", flush=True)


def is_jwt(tok):
    return isinstance(tok, str) and tok.count(".") == 2 and all(tok.split("."))


def install_trace():
    """Log every request made through `requests` (PlantDBClient and the rest_api helpers)."""
    orig_send = requests.Session.send

    def keys_of(raw):
        if not raw:
            return "-"
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return f"<{len(raw)} bytes, not JSON>"
        return sorted(obj) if isinstance(obj, dict) else type(obj).__name__

    def send(self, req, **kw):
        resp = orig_send(self, req, **kw)
        auth = req.headers.get("Authorization", "")
        auth = auth.split(" ")[0] + " <jwt>" if auth else "-"
        print(f"trace: {req.method} {req.path_url} auth={auth} "
              f"ctype={req.headers.get('Content-Type', '-')} body={keys_of(req.body)} "
              f"-> {resp.status_code} {keys_of(resp.content)}", file=sys.stderr, flush=True)
        return resp

    requests.Session.send = send


def run(base, prefix):
    health = f"{base}{prefix}/api/v1/health"
    try:
        requests.get(health, timeout=10)
    except requests.RequestException as e:
        raise CheckFailed(f"server reachable: GET {health} failed: {e}")
    # ---------------- PlantDBClient (what applications use) -------------------------
    admin = PlantDBClient(base, prefix=prefix)
    check("login admin returns True", admin.login(ADMIN, ADMIN_PW) is True)
    check("login stored access+refresh tokens",
          is_jwt(admin._access_token) and is_jwt(admin._refresh_token) and admin._username == ADMIN,
          f"access={admin._access_token!r} refresh={admin._refresh_token!r}")
    check("login set the bearer header",
          admin._session.headers.get("Authorization") == f"Bearer {admin._access_token}")

    check("validate_token(access) returns True", admin.validate_token(admin._access_token) is True)

    old_access, old_refresh = admin._access_token, admin._refresh_token
    check("refresh_token returns True", admin.refresh_token() is True)
    check("refresh_token rotated both tokens",
          is_jwt(admin._access_token) and is_jwt(admin._refresh_token)
          and admin._access_token != old_access and admin._refresh_token != old_refresh)
    check("validate_token(new access) returns True", admin.validate_token(admin._access_token) is True)
    # A client that is not logged in has no refresh token, so validate_token() is a plain
    # POST /auth/token/validation with no retry: a clean probe of what the server accepts.
    probe = PlantDBClient(base, prefix=prefix)
    check("old access token rejected after refresh", probe.validate_token(old_access) is False)

    # Python 3.11: create_api_token() raises TypeError for str permissions ('read' in Permission),
    # so applications pass Permission members, which the client sends as "Permission.READ".
    api_token = admin.create_api_token(3600, {"*": [Permission.READ]})
    check("create_api_token returns a token string", is_jwt(api_token), f"got {api_token!r}")
    try:
        PlantDBClient(base, prefix=prefix, api_token=api_token)  # validates it, raises if refused
        check("PlantDBClient(api_token=...) accepts the API token", True)
    except ValueError as e:
        check("PlantDBClient(api_token=...) accepts the API token", False, str(e))

    username = f"compat_{secrets.token_hex(4)}"
    # NB: argument order is (username, password, fullname).
    check("create_user returns True", admin.create_user(username, NEW_PW, "Compat Test User") is True)
    check("create_user again (duplicate) returns False",
          admin.create_user(username, NEW_PW, "Compat Test User") is False)

    user = PlantDBClient(base, prefix=prefix)
    check("login new user returns True", user.login(username, NEW_PW) is True)
    check("validate_token(new user) returns True", user.validate_token(user._access_token) is True)

    bad = PlantDBClient(base, prefix=prefix)
    check("login with wrong password returns False (no exception)", bad.login(username, "wrong-password") is False)
    check("failed login stores no token", bad._access_token is None and bad._refresh_token is None
          and "Authorization" not in bad._session.headers)
    check("login unknown user returns False", bad.login(f"nobody_{secrets.token_hex(4)}", NEW_PW) is False)

    user_access = user._access_token
    check("logout new user returns True", user.logout() is True)
    check("logout cleared the client's tokens", user._access_token is None and user._refresh_token is None
          and "Authorization" not in user._session.headers)
    check("access token rejected after logout", probe.validate_token(user_access) is False)

    # ---------------- plantdb.client.rest_api.requests helpers ----------------------
    kw = {"prefix": prefix} if prefix else {}
    check("rest_api request_check_username(admin) is True", rest.request_check_username(base, ADMIN, **kw) is True)
    check("rest_api request_check_username(unknown) is False",
          rest.request_check_username(base, f"nobody_{secrets.token_hex(4)}", **kw) is False)
    login = rest.request_login(base, username, NEW_PW, **kw)
    check("rest_api request_login returns the login body",
          is_jwt(login.get("access_token")) and is_jwt(login.get("refresh_token"))
          and login.get("user", {}).get("username") == username, f"got keys {sorted(login)}")
    val = rest.request_token_validation(base, session_token=login["access_token"], **kw)
    check("rest_api request_token_validation returns user",
          val.get("user", {}).get("username") == username, f"got {val}")
    ref = rest.request_token_refresh(base, refresh_token=login["refresh_token"], **kw)
    check("rest_api request_token_refresh returns a new pair",
          is_jwt(ref.get("access_token")) and is_jwt(ref.get("refresh_token")), f"got keys {sorted(ref)}")
    api = rest.request_api_token(base, 600, {"compat_*": ["Permission.READ"]},
                                 session_token=ref["access_token"], **kw)
    check("rest_api request_api_token returns api_token", is_jwt(api.get("api_token")), f"got keys {sorted(api)}")
    ok, msg = rest.request_logout(base, session_token=ref["access_token"], **kw)
    check("rest_api request_logout returns (True, message)", ok is True and isinstance(msg, str), f"got {ok!r}, {msg!r}")

    check("logout admin returns True", admin.logout() is True)


def main(argv):
    args, prefix, trace = [], None, False
    it = iter(argv[1:])
    for a in it:
        if a == "--trace":
            trace = True
        elif a == "--prefix":
            prefix = next(it, None)
        elif a.startswith("--prefix="):
            prefix = a.split("=", 1)[1]
        elif a.startswith("-"):
            args = None
            break
        else:
            args.append(a)
    if not args or len(args) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    base = args[0].rstrip("/")
    logging.disable(logging.CRITICAL)  # the client logs every expected failure at ERROR
    if trace:
        install_trace()
    try:
        run(base, prefix or "")
    except CheckFailed as e:
        print(f"FAIL {e}", file=sys.stderr)
        return 1
    except Exception as e:  # connection refused, unexpected exception from the client, ...
        print(f"FAIL unexpected {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print("ok all client compatibility checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
