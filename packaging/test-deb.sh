#!/usr/bin/env bash
# The Debian package, end to end, on this machine (root needed): build it,
# install it with dpkg -i, check what it installed, start the installed
# binary as the service user with the packaged configuration (directly, not
# through systemd, which CI machines may not run), wait until it is ready,
# stop it, purge the package and check nothing of it is left but the data.
# Refuses to run where plantdb-auth is already installed or has data.
#   sudo bash packaging/test-deb.sh [--deb target/debian/plantdb-auth_..._amd64.deb]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail() { echo "packaging test: FAILED: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (dpkg -i)"
if dpkg -s plantdb-auth >/dev/null 2>&1 || [ -e /var/lib/plantdb-auth ]; then
    fail "plantdb-auth is already installed here, or /var/lib/plantdb-auth exists: run this on a clean machine"
fi

# --deb FILE: test that package (built beforehand by an unprivileged user).
if [ "${1:-}" = --deb ] && [ -n "${2:-}" ]; then
    deb="$2"
else
    deb="$(bash packaging/build-deb.sh --debug | tail -n 1)"
fi
cleanup() {
    [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
    dpkg --purge plantdb-auth >/dev/null 2>&1 || true
    rm -rf /var/lib/plantdb-auth
    getent passwd plantdb >/dev/null && deluser --system plantdb >/dev/null 2>&1 || true
    getent group plantdb >/dev/null && delgroup --system plantdb >/dev/null 2>&1 || true
}
trap cleanup EXIT

DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" >/dev/null || fail "dpkg -i $deb"
for f in /usr/bin/plantdb-auth /lib/systemd/system/plantdb-auth.service \
    /etc/plantdb-auth/config.toml /usr/share/man/man1/plantdb-auth.1.gz \
    /usr/share/bash-completion/completions/plantdb-auth /usr/share/doc/plantdb-auth/copyright; do
    [ -e "$f" ] || fail "$f is not installed"
done
getent passwd plantdb >/dev/null || fail "the service user plantdb was not created"
[ "$(stat -c %U:%a /var/lib/plantdb-auth)" = plantdb:700 ] || fail "/var/lib/plantdb-auth is not plantdb's, mode 700"
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify /lib/systemd/system/plantdb-auth.service || fail "systemd-analyze verify"
else
    echo "packaging test: systemd-analyze not installed: unit not verified"
fi
/usr/bin/plantdb-auth config check --config /etc/plantdb-auth/config.toml >/dev/null \
    || fail "the packaged configuration does not pass config check"

# A free port: the packaged 5000 may be taken here (the environment wins
# over the file).
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
log="$(mktemp)"
PLANTDB_PORT="$port" PLANTDB_ADMIN_PASSWORD="Packaged-admin-passphrase-1" \
    runuser -u plantdb -- /usr/bin/plantdb-auth serve --config /etc/plantdb-auth/config.toml \
    >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 60); do
    if /usr/bin/plantdb-auth healthcheck --port "$port" >/dev/null 2>&1; then ready=1; break; fi
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "the installed server exited"; }
    sleep 0.5
done
[ "${ready:-0}" = 1 ] || { cat "$log" >&2; fail "the installed server never became ready"; }
[ "$(stat -c %U /var/lib/plantdb-auth/state/jwt.key)" = plantdb ] || fail "the signing key is not the service user's"
[ "$(stat -c %a /var/lib/plantdb-auth/state)" = 700 ] || fail "the state directory is not private"
python3 - "$port" <<'PY' || fail "admin cannot log in to the installed server"
import json, sys, urllib.request
body = json.dumps({"username": "admin", "password": "Packaged-admin-passphrase-1"}).encode()
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/api/v1/auth/login", data=body, method="POST")
with urllib.request.urlopen(req, timeout=30) as answer:
    assert "access_token" in json.load(answer)
PY
# The admin CLI, as root with the packaged configuration (found in
# /etc/plantdb-auth), works on the running server through its admin socket.
[ "$(stat -c %U:%a /var/lib/plantdb-auth/state/admin.sock)" = plantdb:600 ] \
    || fail "the admin socket is not plantdb's, mode 600"
/usr/bin/plantdb-auth user list | grep -q '^admin ' \
    || fail "the admin CLI cannot reach the running server (user list)"
/usr/bin/plantdb-auth user deactivate guest >/dev/null \
    || fail "the admin CLI cannot change an account on the running server"
/usr/bin/plantdb-auth user show guest --json | python3 -c 'import json,sys; assert json.load(sys.stdin)["is_active"] is False' \
    || fail "the running server did not apply the CLI's change"
kill -TERM "$pid"; wait "$pid" || true; pid=
[ ! -e /var/lib/plantdb-auth/state/admin.sock ] || fail "the admin socket is left after the server stopped"

dpkg --purge plantdb-auth >/dev/null || fail "dpkg --purge"
for f in /usr/bin/plantdb-auth /lib/systemd/system/plantdb-auth.service /etc/plantdb-auth/config.toml; do
    [ ! -e "$f" ] || fail "$f is left after purge"
done
[ -d /var/lib/plantdb-auth/db ] || fail "purge removed the database (the lab's data must stay)"
echo "packaging test: PASS ($deb installed, served, purged; the data stayed)"
