#!/usr/bin/env python3
"""Differential test of the PlantDB WRITE routes: the reference Python server vs ours.

Usage:
  diff_write_routes.py --python-url URL --python-db DIR --ours-url URL --ours-db DIR --fixture DIR
                       [--report out.json] [--strict-spec]

Both servers run on their own copy of the same fixture (scripts/pycompat/generate_data_fixture.py:
users admin/admin (admin), alice (contributor), bob (reader, member of group `phenotyping`)).
The same sequence of write requests (spec /work/shared/spec/data-api.md §3, §8.2, §9) is sent to
both, in order:

  scans      create (with metadata, without body, by a contributor, inside a timelapse, `sharing` as a
             string), then the error cases: existing id, timelapse/`configs` names, invalid new ids,
             `%2F` in an id, no token, bad and forged tokens, reader's and guest's tokens, non-object
             metadata, unknown sharing group, bad biological metadata, unknown or invalid timelapse id;
             405 on POST /scans, DELETE /scans/<id>, GET /filesets/<s>/<fs>, DELETE /files/...
  filesets   create, read back (P7), the same error cases, a reader sharing the scan's group
  files      multipart create of jpg/png/json/txt/yaml/toml/ASCII ply, metadata as JSON and as a
             Python literal, read back bytes and metadata; errors: existing id, bad/missing ext,
             missing file part, non-multipart body, non-object and unparsable metadata, a Python call
             as metadata, bad id, a leading '.' in a path id, tokens; documented differences: binary
             PLY (D9), upper-case ext (§9.3), a contributor's failed Python upload (D8), a JSON body
             over --max-json-body (413, §9.1)
  metadata   POST at the 3 levels: merge, owner/sharing dropped, whole document posted back,
             replace (P8), owner change (P9), timelapse.id immutability (§9.5), non-boolean replace,
             non-object, missing metadata, tokens, unknown ids, bad biological metadata
  timelapses create (id / name), errors, a scan inside, delete non-empty (409), delete (P16),
             delete recursive, tokens
  archives   upload of a valid archive, of an archive whose metadata.json names another owner
             (P18), part type application/x-zip-compressed (§8.2), existing id (P5), not a zip,
             bad name/type, missing part, bad structure,
             CRC error (D8: Python leaves a partial scan), `..` member (Python writes outside the scan)

Then (unless --no-lock-test, 30 s) a Python-protocol lock (`.locks/w_scan2.lock`, flock LOCK_EX) is
held on both databases while the scan's metadata is posted: ours must answer 503 `busy` with
Retry-After after the 30 s of §1.7 (P21), Python 500.

For each request: `same` cases require equal statuses, equal JSON bodies on success (timestamps
masked; Python's absolute paths rewritten, D3) and ours' error body {error, message, code} (D3);
`differ` cases assert OUR documented behaviour (§11 D2 D3 D7 D8 D9, §12 P4-P9 P16 P18 P21, §9.x)
and check the spec's claim about Python (a wrong claim is a `SPEC-MISMATCH` line, not a FAIL).
Metadata POSTs are also checked against a model of each server's rules (Python: shallow merge,
`replace` ignored, owner/sharing dropped, `created` writable; ours: §9.5).

Finally the two database directories are compared: every non-hidden path (the root's users.json,
groups.json, passwords.json, `webcache/` and hidden entries excepted), files.json (content and
Python's byte format), metadata JSON (timestamps masked, documented differences applied, format),
timelapse.json, data bytes; plus ours-only invariants: no `"file": null` entry, no temporary files
left, deleted timelapses under `.trash/` (P16), nothing left by failed uploads (D8).

Output: `PASS name`, `FAIL name: reason`, `SPEC-MISMATCH spec:name: detail`, then a summary;
exit 1 on any FAIL (and with --strict-spec on any SPEC-MISMATCH), 2 on a set-up error.
Needs the venv of scripts/python-env.sh (Pillow, numpy, urllib3); run_write_differential.sh starts
the servers and calls this.
"""
import argparse
import base64
import copy
import hashlib
import hmac
import io
import json
import os
import re
import sys
import time
import zipfile
from pathlib import Path

from urllib3.filepost import encode_multipart_formdata

sys.path.insert(0, str(Path(__file__).resolve().parent))
from diff_read_routes import API, Fail, Server, Skip, first_diff  # noqa: E402

TS_KEYS = ("created", "last_modified", "created_at")
ISO_NAIVE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$")
TS = "<timestamp>"
PASSWORDS = {"admin": "admin", "alice": "Alice-pass-42", "bob": "Bob-pass-42", "guest": "guest"}
FULLNAME = {"admin": "PlantDB Admin", "alice": "Alice Liddell", "bob": "Bob Reader"}
DEFAULT_CODES = {400: ("invalid_input", "missing_field"), 401: ("not_authenticated", "invalid_token"),
                 403: ("forbidden",), 404: ("not_found",), 405: ("method_not_allowed",), 409: ("conflict",),
                 413: ("payload_too_large",),
                 503: ("busy",)}


# --------------------------------------------------------------------------- helpers

def mask(obj, bad=None, where="$"):
    """Replace naive ISO timestamps under TS_KEYS by TS (recursively); collect malformed ones in `bad`."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in TS_KEYS and isinstance(v, str) and ISO_NAIVE.match(v):
                out[k] = TS
            else:
                if k in TS_KEYS and bad is not None and isinstance(v, str) and v != "x":
                    bad.append(f"{where}.{k} = {v!r}")
                out[k] = mask(v, bad, f"{where}.{k}")
        return out
    if isinstance(obj, list):
        return [mask(v, bad, f"{where}[{i}]") for i, v in enumerate(obj)]
    return obj


def py_format(obj):
    """Python's files.json/metadata format (sort_keys, indent 4, ASCII escapes, no trailing newline)."""
    return json.dumps(obj, sort_keys=True, indent=4, separators=(",", ": "))


def forged_jwt(user="admin"):
    """A well-formed HS256 JWT signed with a key no server knows."""
    def b64(d):
        return base64.urlsafe_b64encode(json.dumps(d, separators=(",", ":")).encode()).rstrip(b"=").decode()
    now = int(time.time())
    head = b64({"alg": "HS256", "typ": "JWT"})
    body = b64({"sub": user, "username": user, "iat": now, "exp": now + 3600, "type": "access",
                "jti": "forged-0001"})
    sig = base64.urlsafe_b64encode(hmac.new(b"not-the-key", f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig.rstrip(b'=').decode()}"


def small_jpeg(seed, w=64, h=48):
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(seed)
    arr = (rng.random((h, w, 3)) * 255).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def small_png(seed, w=32, h=24):
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(seed)
    arr = (rng.random((h, w)) * 255).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(arr, "L").save(buf, format="PNG")
    return buf.getvalue()


ASCII_PLY = (b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
             b"end_header\n0 0 0\n1 0 0\n0 1 0\n")
BINARY_PLY = (b"ply\nformat binary_little_endian 1.0\nelement vertex 2\nproperty float x\nproperty float y\n"
              b"property float z\nend_header\n" + bytes(range(200, 224)))


def scan_zip(src: Path, top: str, md_override=None, explicit_dirs=True, extra=(), corrupt=None):
    """A stored zip of the scan directory `src` under `top/` (or at the root when top is '')."""
    buf = io.BytesIO()
    names = []
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        if explicit_dirs and top:
            z.writestr(zipfile.ZipInfo(f"{top}/"), b"")
        for p in sorted(src.rglob("*")):
            rel = p.relative_to(src).as_posix()
            if any(part.startswith(".") or part == "webcache" for part in rel.split("/")):
                continue
            name = f"{top}/{rel}" if top else rel
            if p.is_dir():
                if explicit_dirs:
                    z.writestr(zipfile.ZipInfo(name + "/"), b"")
                continue
            data = p.read_bytes()
            if rel == "metadata/metadata.json" and md_override is not None:
                data = json.dumps(md_override(json.loads(data)), indent=4, sort_keys=True).encode()
            z.writestr(name, data)
            names.append(name)
        for name, data in extra:
            z.writestr(name, data)
    raw = bytearray(buf.getvalue())
    if corrupt:
        # flip a byte inside the stored data of member `corrupt` (its CRC no longer matches)
        with zipfile.ZipFile(io.BytesIO(bytes(raw))) as z:
            info = z.getinfo(corrupt)
        off = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + info.file_size // 2
        raw[off] ^= 0xFF
    return bytes(raw)


# --------------------------------------------------------------------------- the runner

class Runner:
    def __init__(self, a):
        self.a = a
        self.py = Server(a.python_url, "python", rotate=not a.no_rotate)
        self.ours = Server(a.ours_url, "ours", rotate=not a.no_rotate)
        self.py_db = Path(a.python_db).resolve()
        self.ours_db = Path(a.ours_db).resolve()
        self.fixture = Path(a.fixture).resolve()
        self.results = []
        self.tokens = {}
        # tree comparison: documented divergences
        self.only_python = {}   # path prefix -> reason
        self.only_ours = {}     # path prefix -> reason
        self.ours_expect = {}   # metadata path -> (fn(python masked) -> expected ours masked, reason)
        self.fj_expect = {}     # files.json path -> (fn(python) -> expected ours, reason)
        self.models = {}        # metadata path -> {"python": masked dict, "ours": masked dict, "why": ref}
        self.trashed = []       # timelapse ids deleted (P16)

    # -- output
    def record(self, status, name, detail=""):
        self.results.append({"status": status, "name": name, "detail": detail})
        line = f"{status} {name}" + (f": {detail}" if detail and status != "PASS" else (f" ({detail})" if detail else ""))
        print(line, flush=True)

    def case(self, name, fn):
        try:
            note = fn()
        except Skip as e:
            self.record("SKIP", name, str(e))
        except Fail as e:
            self.record("FAIL", name, str(e))
        except Exception as e:  # noqa: BLE001  (a harness bug must not stop the run)
            import traceback
            traceback.print_exc()
            self.record("FAIL", name, f"harness error: {type(e).__name__}: {e}")
        else:
            self.record("PASS", name, note or "")

    def spec(self, name, ok, detail):
        if ok:
            self.record("PASS", f"spec:{name}")
        else:
            self.record("SPEC-MISMATCH", f"spec:{name}", detail)

    # -- requests
    def auth_header(self, srv, auth):
        if auth is None:
            return {}
        if auth == "bad":
            return {"Authorization": "Bearer abc.def.ghi"}
        if auth == "forged":
            return {"Authorization": f"Bearer {forged_jwt()}"}
        return {"Authorization": f"Bearer {self.tokens[(srv.label, auth)]}"}

    def send(self, srv, method, path, auth="admin", json_body=None, fields=None, raw=None, ctype=None):
        headers = self.auth_header(srv, auth)
        body = None
        if fields is not None:
            body, ct = encode_multipart_formdata(fields)
            headers["Content-Type"] = ct
        elif raw is not None:
            body = raw
            if ctype:
                headers["Content-Type"] = ctype
        if json_body is not None:
            return srv.request(method, API + path, headers=headers, json_body=json_body)
        return srv.request(method, API + path, headers=headers, body=body)

    def login_all(self):
        for srv in (self.py, self.ours):
            for user, pw in PASSWORDS.items():
                r = srv.request("POST", API + "/auth/login", json_body={"username": user, "password": pw})
                tok = r.json().get("access_token") if r.status == 200 else None
                if not tok:
                    raise SystemExit(f"set-up: login {user} on {srv.label} failed: {r.short()}")
                self.tokens[(srv.label, user)] = tok

    # -- checks on our error bodies (D3)
    def our_error(self, o, status, code=None):
        if o.status != status:
            raise Fail(f"ours: expected {status}, got {o.short()}")
        if "application/json" not in (o.header("content-type") or ""):
            raise Fail(f"ours: error without JSON content type: {o.header('content-type')}")
        b = o.json()
        if not (isinstance(b, dict) and all(isinstance(b.get(k), str) for k in ("error", "message", "code"))):
            raise Fail(f"ours: error body is not {{error, message, code}} (D3): {o.body[:160]!r}")
        codes = (code,) if isinstance(code, str) else (code or DEFAULT_CODES.get(status, ()))
        if codes and b["code"] not in codes:
            raise Fail(f"ours: code {b['code']!r}, expected {' or '.join(codes)}")
        for leak in (str(self.ours_db), str(self.fixture), "Traceback", "Errno", "/tmp/", "panicked", "os error",
                     "Invalid `boundary`", "multer", "serde", "std::", "hyper", "axum"):
            if leak in b["message"] or leak in b["error"]:
                raise Fail(f"ours: error message leaks {leak!r} (D3: no paths, library names or exception "
                           f"texts): {b['message']!r}")
        return b

    # ----------------------------------------------------------------- the step primitive
    def step(self, name, method, path, auth="admin", *, json_body=None, fields=None, raw=None, ctype=None,
             py=None, ours=None, code=None, ref=None, py_norm=None, ours_norm=None, ours_exp=None, ours_check=None,
             compare_body=True):
        """`same` (ours=None): equal statuses, equal masked JSON bodies on success.
        `differ` (ours=<status>): ours must answer `ours` (+ `code`, `ours_exp` body, `ours_check`);
        `py` is the spec's claim about Python (SPEC-MISMATCH when wrong)."""
        out = {}

        def fn():
            p = self.send(self.py, method, path, auth, json_body, fields, raw, ctype)
            o = self.send(self.ours, method, path, auth, json_body, fields, raw, ctype)
            out["p"], out["o"] = p, o
            notes = []
            if ours is None:
                if p.status != o.status:
                    raise Fail(f"status: python {p.short()} vs ours {o.short()}")
                if 200 <= o.status < 300:
                    if o.status == 204 or not compare_body:
                        if o.status == 204 and (p.body or o.body):
                            raise Fail(f"204 with a body: python {p.body[:80]!r} ours {o.body[:80]!r}")
                    else:
                        bad = []
                        exp = mask(py_norm(p.json()) if py_norm else p.json())
                        got = mask(ours_norm(o.json()) if ours_norm else o.json(), bad)
                        if bad:
                            raise Fail(f"ours: malformed timestamps {bad[:3]} (§1.6)")
                        d = first_diff(exp, got)
                        if d:
                            raise Fail(f"body differs (python normalised vs ours): {d}")
                else:
                    self.our_error(o, o.status, code)
                if ours_check:
                    n = ours_check(o)
                    if n:
                        notes.append(n)
                return "; ".join(notes) + (f" [{ref}]" if ref else "")
            # documented difference
            if py is not None:
                self.spec(f"{name} [python {py}]", p.status == py, f"python answered {p.short()} ({ref})")
            if o.status >= 400 or ours >= 400:
                self.our_error(o, ours, code)
            elif o.status != ours:
                raise Fail(f"ours: expected {ours} ({ref}), got {o.short()}")
            if ours_exp is not None:
                bad = []
                got = mask(o.json(), bad)
                d = first_diff(mask(ours_exp), got)
                if d or bad:
                    raise Fail(f"ours' body ({ref}): {d or bad}")
            if ours_check:
                n = ours_check(o)
                if n:
                    notes.append(n)
            return f"python {p.status}, ours {o.status} [{ref}]" + ("; " + "; ".join(notes) if notes else "")

        self.case(name, fn)
        return out.get("p"), out.get("o")

    def get_md(self, srv, path):
        r = self.send(srv, "GET", path, "admin")
        if r.status != 200:
            raise Fail(f"{srv.label}: GET {path}: {r.short()}")
        return r.json()["metadata"]


# --------------------------------------------------------------------------- metadata models

def md_path(scan, fs=None, file=None, tl=None):
    base = f"{tl}/{scan}" if tl else scan
    if fs is None:
        return f"{base}/metadata/metadata.json"
    if file is None:
        return f"{base}/metadata/{fs}.json"
    return f"{base}/metadata/{fs}/{file}.json"


def py_merge(level, stored, upd):
    """plantdb-commons 0.17 `_update_metadata`: owner/sharing scrubbed, timelapse.id immutable once
    set (scan), shallow merge, last_modified = now; `replace` is ignored by the server."""
    upd = copy.deepcopy({k: v for k, v in upd.items() if k not in ("owner", "sharing")})
    if level == "scan":
        tl = stored.get("timelapse")
        if isinstance(tl, dict) and tl.get("id") and "timelapse" in upd:
            if isinstance(upd["timelapse"], dict):
                upd["timelapse"]["id"] = tl["id"]
            else:
                upd.pop("timelapse")
    if not upd:
        return dict(stored)
    out = {**stored, **upd}
    out["last_modified"] = TS
    return out


def ours_merge(level, stored, upd, replace=False, owner_ok=False):
    """Ours (§9.5): created/created_by server-managed, owner/sharing dropped below the scan level,
    scan owner change allowed for manage_users (owner_ok), timelapse.id immutable, `replace` honoured."""
    upd = copy.deepcopy(upd)
    for k in ("created", "created_by", "last_modified"):
        upd.pop(k, None)
    if level != "scan":
        upd.pop("owner", None)
        upd.pop("sharing", None)
    elif not owner_ok and "owner" in upd and upd["owner"] == stored.get("owner"):
        upd.pop("owner")
    if level == "scan" and "timelapse" in upd:
        tl_id = (stored.get("timelapse") or {}).get("id") if isinstance(stored.get("timelapse"), dict) else None
        if isinstance(upd["timelapse"], dict):
            upd["timelapse"].pop("id", None)
            if tl_id:
                upd["timelapse"]["id"] = tl_id
    if replace:
        keep = {k: stored[k] for k in ("created", "created_by", "owner", "sharing") if k in stored and k not in upd}
        if level == "scan" and isinstance(stored.get("timelapse"), dict) and stored["timelapse"].get("id") \
                and "timelapse" not in upd:
            keep["timelapse"] = {"id": stored["timelapse"]["id"]}
        out = {**keep, **upd}
    else:
        out = {**stored, **upd}
    out["last_modified"] = TS
    return out


def meta_post(R, name, level, ids, update, *, replace=None, auth="admin", owner_ok=False, ref="§9.5", tl=None,
              differ_ok=False):
    """POST metadata at `level` on both; check each answer against its server's model (ours: FAIL;
    Python: SPEC-MISMATCH), equal answers when both models agree, and keep the models of paths that
    already diverge (fileset metadata, P7) for the tree comparison."""
    route = {"scan": "/scans/{}/metadata", "fileset": "/filesets/{}/{}/metadata",
             "file": "/files/{}/{}/{}/metadata"}[level].format(*ids)
    path = md_path(*ids, tl=tl)

    def fn():
        pb = mask(R.get_md(R.py, route))
        ob = mask(R.get_md(R.ours, route))
        body = {"metadata": update}
        if replace is not None:
            body["replace"] = replace
        p = R.send(R.py, "POST", route, auth, json_body=body)
        o = R.send(R.ours, "POST", route, auth, json_body=body)
        if p.status != 200:
            raise Fail(f"python: {p.short()}")
        if o.status != 200:
            raise Fail(f"ours: {o.short()}")
        pexp = py_merge(level, pb, update)
        oexp = ours_merge(level, ob, update, replace=bool(replace), owner_ok=owner_ok)
        bad = []
        pgot, ogot = mask(p.json()["metadata"]), mask(o.json()["metadata"], bad)
        d = first_diff(pexp, pgot)
        R.spec(f"{name} [python model: merge, replace ignored, owner/sharing dropped]", d is None, str(d))
        if bad:
            raise Fail(f"ours: malformed timestamps {bad}")
        d = first_diff(oexp, ogot)
        if d:
            raise Fail(f"ours vs §9.5 model ({ref}): {d}")
        if not differ_ok and pb == ob and pexp == oexp:
            d = first_diff(pgot, ogot)
            if d:
                raise Fail(f"python vs ours: {d}")
        # stored = answered
        for srv, got in ((R.py, pgot), (R.ours, ogot)):
            again = mask(R.get_md(srv, route))
            if again != got:
                raise Fail(f"{srv.label}: GET after POST differs from the POST answer: {first_diff(got, again)}")
        if path in R.models:
            R.models[path]["python"] = pgot
            R.models[path]["ours"] = ogot
        return f"[{ref}]" + (" python and ours agree" if pgot == ogot else " python and ours differ as documented")

    R.case(name, fn)


# --------------------------------------------------------------------------- the sequence

def run_sequence(R):
    fx = R.fixture
    jpg = {k: small_jpeg(k) for k in range(6)}
    png = small_png(7)

    def file_fields(data, ext, md=None, fname="upload.bin", ctype="application/octet-stream", file=True):
        f = []
        if file:
            f.append(("file", (fname, data, ctype)))
        if ext is not None:
            f.append(("ext", ext))
        if md is not None:
            f.append(("metadata", md))
        return f

    # ================================================================ scans
    miappe = {"biologicalMaterial": {"biologicalMaterialId": "w-1", "organism": {"genus": "Arabidopsis",
                                                                                  "species": "Arabidopsis thaliana"}},
              "study": {"identifier": "W", "title": "Write differential"}}
    s1_md = {"object": {"species": "Arabidopsis thaliana", "plant_id": "w-1"}, "acquisition_date": "2026-12-01 10:00:00",
             "sharing": ["phenotyping"], "nested": {"a": [1, 2, {"b": None}], "unicode": "épi 🌱"}, **miappe}
    R.step("POST /scans/w_scan1 {metadata} (admin)", "POST", "/scans/w_scan1", json_body={"metadata": s1_md})
    R.step("GET /scans/w_scan1/metadata after create (§1.6 keys)", "GET", "/scans/w_scan1/metadata",
           ours_check=lambda o: check_created_keys(o.json()["metadata"], "admin", s1_md))
    R.step("POST /scans/w_scan1 again: existing id", "POST", "/scans/w_scan1", json_body={}, code="conflict")
    R.step("POST /scans/w_scan2 without a body", "POST", "/scans/w_scan2")
    R.step("POST /scans/w_scan3 {metadata} by alice (contributor)", "POST", "/scans/w_scan3", "alice",
           json_body={"metadata": {"object": {"species": "Solanum"}}})
    R.step("POST /scans/w_scan4 (for the timelapse.id case)", "POST", "/scans/w_scan4", json_body={"metadata": {"k": 1}})
    R.step("POST /scans/w_div (documented-difference uploads)", "POST", "/scans/w_div", json_body={"metadata": {}})
    R.step("POST /scans/tl_plant: a timelapse container's name", "POST", "/scans/tl_plant", code="conflict")
    R.step("POST /scans/real_plant_analyzed: existing scan, metadata body", "POST", "/scans/real_plant_analyzed",
           json_body={"metadata": {"x": 1}}, code="conflict")
    R.step("POST /scans/bad.id: invalid new id", "POST", "/scans/bad.id", py=500, ours=400, code="invalid_input",
           ref="P6")
    R.step("POST /scans/-lead: NEW_ID needs a leading alphanumeric", "POST", "/scans/-lead", py=500, ours=400,
           code="invalid_input", ref="P6")
    R.step("POST /scans/<129 chars>: too long", "POST", "/scans/" + "a" * 129, py=500, ours=400,
           code="invalid_input", ref="P6")
    R.step("POST /scans/bad%20id: route id check", "POST", "/scans/bad%20id", code="invalid_input")
    R.step("POST /scans/w_x no token", "POST", "/scans/w_x", None, code="not_authenticated")
    R.step("POST /scans/w_x bad token", "POST", "/scans/w_x", "bad", py=500, ours=401, code="invalid_token", ref="D2")
    R.step("POST /scans/w_x forged token", "POST", "/scans/w_x", "forged", py=500, ours=401, code="invalid_token",
           ref="D2")
    R.step("POST /scans/w_x reader's token (bob)", "POST", "/scans/w_x", "bob", py=500, ours=403, code="forbidden",
           ref="P4")
    R.step("POST /scans/w_x guest's token", "POST", "/scans/w_x", "guest", py=500, ours=403, code="forbidden",
           ref="P4")
    R.step("POST /scans/w_x metadata not an object", "POST", "/scans/w_x", json_body={"metadata": [1, 2]},
           py=500, ours=400, code="invalid_input", ref="P6")
    R.step("POST /scans/w_x metadata a string", "POST", "/scans/w_x", json_body={"metadata": "text"},
           py=500, ours=400, code="invalid_input", ref="P6")
    R.step("POST /scans/w_x sharing names no group", "POST", "/scans/w_x",
           json_body={"metadata": {"sharing": ["no_such_group"]}}, py=500, ours=400, code="invalid_input", ref="P6")
    R.step("POST /scans/w_x bad biological metadata", "POST", "/scans/w_x",
           json_body={"metadata": {"study": {"title": 3}}}, py=500, ours=400, code="invalid_input", ref="P6 §9.4",
           ours_check=lambda o: need("study.title" in o.json()["message"],
                                     f"ours: the message does not name the bad key (§9.4): {o.json()['message']!r}"))
    R.step("POST /scans/w_x timelapse id unknown", "POST", "/scans/w_x",
           json_body={"metadata": {"timelapse": {"id": "tl_nope"}}}, code="not_found")
    R.step("POST /scans/w_x timelapse id invalid", "POST", "/scans/w_x",
           json_body={"metadata": {"timelapse": {"id": "bad.tl"}}}, py=500, ours=400, code="invalid_input", ref="P6")
    R.step("POST /scans/w_scan5 sharing as a string", "POST", "/scans/w_scan5",
           json_body={"metadata": {"sharing": "phenotyping"}})

    def sharing_string():
        p = R.get_md(R.py, "/scans/w_scan5/metadata")
        o = R.get_md(R.ours, "/scans/w_scan5/metadata")
        R.spec("§1.6 python wraps a string `sharing` in a list", p.get("sharing") == ["phenotyping"],
               f"python stores sharing = {p.get('sharing')!r} (it only wraps it to validate the group)")
        if o.get("sharing") != ["phenotyping"]:
            raise Fail(f"ours: sharing = {o.get('sharing')!r}, expected ['phenotyping'] (§9.2)")
        return f"ours ['phenotyping'] (§9.2); python {p.get('sharing')!r}"
    R.case("GET /scans/w_scan5/metadata: a string sharing is stored as a list (§9.2)", sharing_string)
    R.ours_expect[md_path("w_scan5")] = (lambda m: {**m, "sharing": ["phenotyping"]}, "§9.2 sharing string → list")
    R.step("POST /scans/configs: the reserved pipeline-configs directory", "POST", "/scans/configs",
           ours=409, code="conflict", ref="§1.1 configs reserved")
    for pth in ("configs/files.json", "configs/metadata"):
        R.only_python[pth] = "§1.1: Python creates a scan inside the pipeline-configs directory"
    R.step("POST /scans (no id)", "POST", "/scans", code="method_not_allowed")
    R.step("DELETE /scans/w_scan2", "DELETE", "/scans/w_scan2", code="method_not_allowed")
    R.step("POST /scans/..%2Fx: %2F in an id", "POST", "/scans/..%2Fx", ours=400, code="invalid_input",
           ref="§10.3 percent-decoding before id validation")
    R.step("POST /scans/w_tl_in {timelapse: tl_plant}", "POST", "/scans/w_tl_in",
           json_body={"metadata": {"timelapse": {"id": "tl_plant", "scheduled": "2026-09-04T10:00:00Z", "index": 2},
                                   **miappe}})
    R.step("GET /timelapses/tl_plant lists w_tl_in", "GET", "/timelapses/tl_plant")
    R.step("GET /timelapses/tl_plant/scans", "GET", "/timelapses/tl_plant/scans")

    # ================================================================ filesets
    s1_as_created = {}

    def remember_scan_md():
        s1_as_created["python"] = mask(R.get_md(R.py, "/scans/w_scan1/metadata"))
    R.case("(model) python scan metadata before create_fileset", remember_scan_md)
    fs_md = {"description": "rgb images", "workspace": {"x": [0, 1], "y": [0, 1], "z": [0, 1]}}
    R.step("POST /filesets/w_scan1/images {metadata}", "POST", "/filesets/w_scan1/images",
           json_body={"metadata": fs_md, "fileset_id": "images", "scan_id": "w_scan1"})

    def fs_meta_p7():
        p = R.get_md(R.py, "/filesets/w_scan1/images/metadata")
        o = R.get_md(R.ours, "/filesets/w_scan1/images/metadata")
        pe = {**{k: v for k, v in s1_as_created.get("python", {}).items()}, "created": TS, "last_modified": TS,
              "created_by": FULLNAME["admin"]}
        R.spec("P7 python fileset metadata = copy of the scan's", first_diff(pe, mask(p)) is None,
               str(first_diff(pe, mask(p))))
        oe = {**fs_md, "created": TS, "last_modified": TS, "created_by": FULLNAME["admin"]}
        bad = []
        d = first_diff(oe, mask(o, bad))
        if d or bad:
            raise Fail(f"ours: fileset metadata is not the request's + created/last_modified/created_by (P7): {d or bad}")
        R.models[md_path("w_scan1", "images")] = {"python": mask(p), "ours": mask(o), "why": "P7"}
        return "[P7] ours = request metadata"
    R.case("GET /filesets/w_scan1/images/metadata (P7)", fs_meta_p7)
    R.step("POST /filesets/w_scan1/images again: existing id", "POST", "/filesets/w_scan1/images", code="conflict")
    R.step("POST /filesets/w_scan1/bad.fs: invalid new id", "POST", "/filesets/w_scan1/bad.fs", py=500, ours=400,
           code="invalid_input", ref="P6")
    R.step("POST /filesets/nope/images: unknown scan", "POST", "/filesets/nope/images", code="not_found")
    R.step("POST /filesets/w_scan1/fs_x no token", "POST", "/filesets/w_scan1/fs_x", None, code="not_authenticated")
    R.step("POST /filesets/w_scan1/fs_x bad token", "POST", "/filesets/w_scan1/fs_x", "bad", py=500, ours=401,
           code="invalid_token", ref="D2")
    R.step("POST /filesets/real_plant_analyzed/fs_x reader's token", "POST", "/filesets/real_plant_analyzed/fs_x",
           "bob", py=500, ours=403, code="forbidden", ref="P4")
    R.step("POST /filesets/w_scan1/fs_bob by bob (reader, in the scan's sharing group)", "POST",
           "/filesets/w_scan1/fs_bob", "bob")
    R.models[md_path("w_scan1", "fs_bob")] = {"python": None, "ours": {"created": TS, "last_modified": TS,
                                                                       "created_by": FULLNAME["bob"]}, "why": "P7"}
    R.step("POST /filesets/w_scan1/fs_nonobj metadata not an object", "POST", "/filesets/w_scan1/fs_nonobj",
           json_body={"metadata": [1]}, py=201, ours=400, code="invalid_input", ref="§9.2 P7")
    R.only_python["w_scan1/fs_nonobj"] = "§9.2/P7: Python ignores the fileset request metadata and creates it"
    R.only_python["w_scan1/metadata/fs_nonobj.json"] = "§9.2/P7 (idem)"
    R.fj_expect["w_scan1/files.json"] = (
        lambda fj: {**fj, "filesets": [f for f in fj["filesets"] if f["id"] != "fs_nonobj"]},
        "§9.2/P7: python created fs_nonobj")
    R.step("POST /filesets/w_scan1/.hidden: LOOKUP_ID refuses a leading '.'", "POST", "/filesets/w_scan1/.hidden",
           py=500, ours=400, code="invalid_input", ref="§0 LOOKUP_ID / P6")
    R.step("GET /filesets/w_scan1/images (no such route)", "GET", "/filesets/w_scan1/images",
           code="method_not_allowed")
    R.step("POST /filesets/w_div/f (documented-difference uploads)", "POST", "/filesets/w_div/f")
    R.models[md_path("w_div", "f")] = {"python": None, "ours": {"created": TS, "last_modified": TS,
                                                                "created_by": FULLNAME["admin"]}, "why": "P7"}
    R.step("POST /filesets/w_scan3/images by alice", "POST", "/filesets/w_scan3/images", "alice",
           json_body={"metadata": {"by": "alice"}})
    R.models[md_path("w_scan3", "images")] = {"python": None, "ours": {"by": "alice", "created": TS, "last_modified": TS,
                                                                       "created_by": FULLNAME["alice"]}, "why": "P7"}
    R.step("POST /filesets/w_tl_in/images (timelapse member)", "POST", "/filesets/w_tl_in/images")
    R.models[md_path("w_tl_in", "images", tl="tl_plant")] = {
        "python": None, "ours": {"created": TS, "last_modified": TS, "created_by": FULLNAME["admin"]}, "why": "P7"}

    # ================================================================ files
    cam = {"camera_model": {"id": 1, "model": "OPENCV", "width": 64, "height": 48,
                            "params": [50.0, 50.0, 32.0, 24.0, 0.0, 0.0, 0.0, 0.0]}, "rotmat": [[1, 0, 0], [0, 1, 0],
                                                                                                [0, 0, 1]],
           "tvec": [0.5, -1.25, 3.0]}
    f0_md = {"channel": "rgb", "shot_id": "000000", "colmap_camera": cam, "pose": [1.5, 2, 3, 0, 0]}
    R.step("POST /files/w_scan1/images/00000_rgb jpg + JSON metadata", "POST", "/files/w_scan1/images/00000_rgb",
           fields=file_fields(jpg[0], "jpg", json.dumps(f0_md), "00000_rgb.jpg", "image/jpeg"))
    R.step("POST /files/w_scan1/images/00001_rgb ext '.jpg' + Python-literal metadata", "POST",
           "/files/w_scan1/images/00001_rgb",
           fields=file_fields(jpg[1], ".jpg", "{'channel': 'rgb', 'shot': (1, 2), 'ok': True, 'none': None, "
                                              "'q': \"it's\", 'f': 1.5e3}"))
    R.step("GET /files/w_scan1/images/00001_rgb/metadata (literal → JSON)", "GET", "/files/w_scan1/images/00001_rgb/metadata")
    R.step("POST /files/w_scan1/images/00002_rgb by bob (reader, shared group)", "POST",
           "/files/w_scan1/images/00002_rgb", "bob", fields=file_fields(jpg[2], "jpeg", json.dumps({"channel": "rgb"})))
    R.step("POST /files/w_scan1/images/mask_0 png, no metadata", "POST", "/files/w_scan1/images/mask_0",
           fields=file_fields(png, "png"))
    R.step("POST /files/w_scan1/images/cameras json", "POST", "/files/w_scan1/images/cameras",
           fields=file_fields(json.dumps({"1": cam}, indent=2).encode(), "json"))
    R.step("POST /files/w_scan1/images/notes txt (UTF-8)", "POST", "/files/w_scan1/images/notes",
           fields=file_fields("épi 🌱 notes\nline 2\n".encode(), "txt"))
    R.step("POST /files/w_scan1/images/conf yaml", "POST", "/files/w_scan1/images/conf",
           fields=file_fields(b"a: 1\nb: [1, 2]\n", "yaml"))
    R.step("POST /files/w_scan1/images/pipe toml", "POST", "/files/w_scan1/images/pipe",
           fields=file_fields(b"[Colmap]\nmatcher = \"exhaustive\"\n", "toml"))
    R.step("POST /files/w_scan1/images/cloud ASCII ply", "POST", "/files/w_scan1/images/cloud",
           fields=file_fields(ASCII_PLY, "ply"))
    R.step("POST /files/w_tl_in/images/00000_rgb (timelapse member)", "POST", "/files/w_tl_in/images/00000_rgb",
           fields=file_fields(jpg[3], "jpg", json.dumps({"channel": "rgb"})))
    R.step("POST /files/w_scan3/images/00000_rgb by alice", "POST", "/files/w_scan3/images/00000_rgb", "alice",
           fields=file_fields(jpg[4], "jpg", json.dumps({"channel": "rgb"})))
    for fid, name in (("00000_rgb", "00000_rgb.jpg"), ("00001_rgb", "00001_rgb.jpg"), ("notes", "notes.txt"),
                      ("cloud", "cloud.ply")):
        def get_bytes(fid=fid, name=name):
            p = R.send(R.py, "GET", f"/files/w_scan1/images/{fid}")
            o = R.send(R.ours, "GET", f"/files/w_scan1/images/{fid}")
            if p.status != 200 or o.status != 200:
                raise Fail(f"python {p.short()} ours {o.short()}")
            if p.body != o.body:
                raise Fail(f"bytes differ ({len(p.body)} vs {len(o.body)})")
            disk = (R.ours_db / "w_scan1" / "images" / name).read_bytes()
            if disk != o.body:
                raise Fail("ours: served bytes differ from the file on disk")
            return f"{len(o.body)} bytes"
        R.case(f"GET /files/w_scan1/images/{fid} (bytes back)", get_bytes)
    R.step("GET /filesets/w_scan1/images/files", "GET", "/filesets/w_scan1/images/files")
    R.step("POST /files/w_scan1/images/00000_rgb again: existing id", "POST", "/files/w_scan1/images/00000_rgb",
           fields=file_fields(jpg[5], "jpg"), py=500, ours=409, code="conflict", ref="P5")
    R.step("POST /files/w_scan1/images/f_x ext not allowed (exe)", "POST", "/files/w_scan1/images/f_x",
           fields=file_fields(b"MZ", "exe"), code="invalid_input")
    R.step("POST /files/w_scan1/images/f_x ext missing", "POST", "/files/w_scan1/images/f_x",
           fields=file_fields(jpg[5], None))
    R.step("POST /files/w_scan1/images/f_x ext empty", "POST", "/files/w_scan1/images/f_x",
           fields=file_fields(jpg[5], ""))
    R.step("POST /files/w_scan1/images/f_x file part missing", "POST", "/files/w_scan1/images/f_x",
           fields=file_fields(jpg[5], "jpg", file=False))
    R.step("POST /files/w_scan1/images/f_x urlencoded body (no multipart)", "POST", "/files/w_scan1/images/f_x",
           raw=b"ext=jpg", ctype="application/x-www-form-urlencoded")
    R.step("POST /files/w_scan1/images/f_x metadata a JSON array", "POST", "/files/w_scan1/images/f_x",
           fields=file_fields(jpg[5], "jpg", "[1, 2]"), py=500, ours=400, code="invalid_input", ref="P6 §9.3")
    R.step("POST /files/w_scan1/images/f_x metadata unparsable", "POST", "/files/w_scan1/images/f_x",
           fields=file_fields(jpg[5], "jpg", "{bad"), code="invalid_input")
    R.step("POST /files/w_scan1/images/f_x metadata a Python call (not a literal)", "POST", "/files/w_scan1/images/f_x",
           fields=file_fields(jpg[5], "jpg", "{'a': __import__('os').getpid()}"), code="invalid_input")
    R.step("POST /files/w_scan1/images/bad.file: invalid new id", "POST", "/files/w_scan1/images/bad.file",
           fields=file_fields(jpg[5], "jpg"), py=500, ours=400, code="invalid_input", ref="P6")
    R.step("POST /files/w_scan1/nope/f_x: unknown fileset", "POST", "/files/w_scan1/nope/f_x",
           fields=file_fields(jpg[5], "jpg"), code="not_found")
    R.step("POST /files/nope/images/f_x: unknown scan", "POST", "/files/nope/images/f_x",
           fields=file_fields(jpg[5], "jpg"), code="not_found")
    R.step("POST /files/w_scan1/images/f_x no token", "POST", "/files/w_scan1/images/f_x", None,
           fields=file_fields(jpg[5], "jpg"), code="not_authenticated")
    R.step("POST /files/w_scan1/images/f_x bad token", "POST", "/files/w_scan1/images/f_x", "bad",
           fields=file_fields(jpg[5], "jpg"), py=500, ours=401, code="invalid_token", ref="D2")
    R.step("POST /files/real_plant_analyzed/images/f_x reader's token", "POST",
           "/files/real_plant_analyzed/images/f_x", "bob", fields=file_fields(jpg[5], "jpg"), py=500, ours=403,
           code="forbidden", ref="P4")
    # documented differences, in the dedicated scan w_div (excluded from the python-vs-ours tree compare)
    R.step("POST /files/w_div/f/bin_cloud binary PLY", "POST", "/files/w_div/f/bin_cloud",
           fields=file_fields(BINARY_PLY, "ply"), py=500, ours=201, ref="D9 (Python decodes .ply as UTF-8)")
    R.step("POST /files/w_div/f/upper ext 'JPG'", "POST", "/files/w_div/f/upper",
           fields=file_fields(jpg[5], "JPG"), py=400, ours=201, ref="§9.3 ext case-insensitive")
    R.step("POST /files/w_div/f/alice_bin binary PLY by alice (contributor: Python cannot delete_file)", "POST",
           "/files/w_div/f/alice_bin", "alice", fields=file_fields(BINARY_PLY, "ply"), py=500, ours=201,
           ref="D8 D9")
    R.step("DELETE /files/w_scan1/images/00000_rgb", "DELETE", "/files/w_scan1/images/00000_rgb",
           code="method_not_allowed")
    R.step("POST /files/w_scan1/.hidden/f_x: LOOKUP_ID refuses a leading '.'", "POST", "/files/w_scan1/.hidden/f_x",
           fields=file_fields(jpg[5], "jpg"), py=404, ours=400, code="invalid_input", ref="§0 LOOKUP_ID")
    R.step("POST /scans/w_div/metadata JSON body over --max-json-body (9 MiB)", "POST", "/scans/w_div/metadata",
           json_body={"metadata": {"big": "x" * (9 << 20)}}, py=200, ours=413, code="payload_too_large",
           ref="§9.1 8 MiB default")
    R.only_python["w_div"] = R.only_ours["w_div"] = "documented differences (D8, D9, §9.3): checked by w_div cases"

    def w_div_tree():
        fj = json.loads((R.ours_db / "w_div" / "files.json").read_text())
        exp = {"filesets": [{"files": [{"file": "bin_cloud.ply", "id": "bin_cloud"}, {"file": "upper.jpg", "id": "upper"},
                                       {"file": "alice_bin.ply", "id": "alice_bin"}], "id": "f"}]}
        d = first_diff(exp, fj)
        if d:
            raise Fail(f"ours w_div/files.json: {d}")
        for name, data in (("bin_cloud.ply", BINARY_PLY), ("upper.jpg", jpg[5]), ("alice_bin.ply", BINARY_PLY)):
            if (R.ours_db / "w_div" / "f" / name).read_bytes() != data:
                raise Fail(f"ours w_div/f/{name}: bytes differ from the upload (D9: stored as-is)")
        pfj = json.loads((R.py_db / "w_div" / "files.json").read_text())
        py_entries = [f for s in pfj["filesets"] for f in s["files"]]
        R.spec("D8 python keeps a `\"file\": null` entry after a contributor's failed upload",
               {"id": "alice_bin", "file": None} in py_entries, f"python w_div files.json entries: {py_entries}")
        return "ours: 3 files stored as sent, upper-case ext stored lower-case"
    R.case("tree w_div (ours: D9 bytes as-is, §9.3 lower-case ext; python: D8 null entry)", w_div_tree)

    # ================================================================ metadata POSTs
    # scan level
    meta_post(R, "POST /scans/w_scan1/metadata merge", "scan", ("w_scan1",),
              {"new_key": 1, "object": {"species": "Arabidopsis thaliana", "plant_id": "w-1b"}, "nested": {"z": 0}})
    meta_post(R, "POST /scans/w_scan1/metadata owner/sharing unchanged + other keys", "scan", ("w_scan1",),
              {"owner": "admin", "sharing": ["phenotyping"], "k2": [1, 2]})

    def post_back():
        for srv in (R.py, R.ours):
            md = R.get_md(srv, "/scans/w_scan1/metadata")
            r = R.send(srv, "POST", "/scans/w_scan1/metadata", json_body={"metadata": md})
            if r.status != 200:
                raise (Fail if srv is R.ours else Skip)(f"{srv.label}: {r.short()}")
            if mask(r.json()["metadata"]) != mask(md):
                raise Fail(f"{srv.label}: posting back the GET document changed it: "
                           f"{first_diff(mask(md), mask(r.json()['metadata']))}")
        return "the whole document (owner, created, ...) posted back unchanged (§9.5)"
    R.case("POST /scans/w_scan1/metadata the whole GET document back", post_back)
    meta_post(R, "POST /scans/w_scan1/metadata created/created_by overwritten", "scan", ("w_scan1",),
              {"created": "x", "created_by": "someone", "k3": True}, differ_ok=True, ref="§9.5 created server-managed")
    R.ours_expect[md_path("w_scan1")] = (lambda m: {**m, "created": TS, "created_by": FULLNAME["admin"]},
                                         "§9.5: created/created_by are server-managed on ours")
    meta_post(R, "POST /scans/w_scan2/metadata replace=true", "scan", ("w_scan2",), {"only": 1}, replace=True,
              differ_ok=True, ref="P8")
    R.ours_expect[md_path("w_scan2")] = (
        lambda m: {k: v for k, v in m.items() if k in ("only", "owner", "created", "created_by", "last_modified")},
        "P8: replace honoured")
    meta_post(R, "POST /scans/w_scan3/metadata owner → bob (admin: manage_users)", "scan", ("w_scan3",),
              {"owner": "bob"}, owner_ok=True, differ_ok=True, ref="P9")
    R.ours_expect[md_path("w_scan3")] = (lambda m: {**m, "owner": "bob"}, "P9: owner change by manage_users")
    R.step("POST /scans/w_scan3/metadata owner → nobody (unknown user)", "POST", "/scans/w_scan3/metadata",
           json_body={"metadata": {"owner": "nobody"}}, py=200, ours=400, code="invalid_input", ref="P9 §9.5")
    R.step("POST /scans/real_plant_analyzed/metadata owner → alice by alice (no manage_users)", "POST",
           "/scans/real_plant_analyzed/metadata", "alice", json_body={"metadata": {"owner": "alice"}},
           py=200, ours=403, code="forbidden", ref="P9 §9.5")
    R.step("POST /scans/w_scan1/metadata sharing → unknown group", "POST", "/scans/w_scan1/metadata",
           json_body={"metadata": {"sharing": ["no_such_group"]}}, py=200, ours=400, code="invalid_input",
           ref="P9 §9.5")
    R.step("POST /scans/w_scan1/metadata replace not a boolean", "POST", "/scans/w_scan1/metadata",
           json_body={"metadata": {"k4": 1}, "replace": "yes"}, py=200, ours=400, code="invalid_input", ref="§9.5")
    R.ours_expect[md_path("w_scan1")] = (
        lambda m, f=R.ours_expect[md_path("w_scan1")][0]: {k: v for k, v in f(m).items() if k != "k4"},
        "§9.5 created server-managed; replace \"yes\" refused (400) on ours, Python merged k4")
    meta_post(R, "POST /scans/w_tl_in/metadata timelapse.id change ignored, index editable", "scan", ("w_tl_in",),
              {"timelapse": {"id": "other_tl", "scheduled": "2026-09-04T10:00:00Z", "index": 7}}, tl="tl_plant")
    R.step("POST /scans/w_scan1/metadata bad biological metadata", "POST", "/scans/w_scan1/metadata",
           json_body={"metadata": {"biologicalMaterial": {"ageDays": "ten"}}}, py=500, ours=400,
           code="invalid_input", ref="P6 §9.4")
    R.step("POST /scans/w_scan1/metadata metadata not an object", "POST", "/scans/w_scan1/metadata",
           json_body={"metadata": [1]}, code="invalid_input")
    R.step("POST /scans/w_scan1/metadata no 'metadata' key", "POST", "/scans/w_scan1/metadata",
           json_body={"replace": False})
    R.step("POST /scans/w_scan1/metadata body not JSON (text/plain)", "POST", "/scans/w_scan1/metadata",
           raw=b"metadata", ctype="text/plain", py=415, ours=400, code="invalid_input", ref="§9.1")
    R.step("POST /scans/w_scan1/metadata no token", "POST", "/scans/w_scan1/metadata", None,
           json_body={"metadata": {"k": 1}}, code="not_authenticated")
    R.step("POST /scans/w_scan1/metadata bad token", "POST", "/scans/w_scan1/metadata", "bad",
           json_body={"metadata": {"k": 1}}, code="invalid_token", ref="D2")
    R.step("POST /scans/real_plant_analyzed/metadata reader's token", "POST", "/scans/real_plant_analyzed/metadata",
           "bob", json_body={"metadata": {"k": 1}}, py=500, ours=403, code="forbidden", ref="P4")
    R.step("POST /scans/nope/metadata unknown scan", "POST", "/scans/nope/metadata", json_body={"metadata": {"k": 1}},
           code="not_found")
    # fileset level
    meta_post(R, "POST /filesets/w_scan1/images/metadata merge, owner/sharing dropped", "fileset",
              ("w_scan1", "images"), {"fs_new": 2, "owner": "bob", "sharing": ["x"], "description": "updated"})
    meta_post(R, "POST /filesets/w_scan3/images/metadata replace=true", "fileset", ("w_scan3", "images"),
              {"only": "fs"}, replace=True, differ_ok=True, ref="P8")
    R.step("POST /filesets/w_scan1/images/metadata metadata not an object", "POST",
           "/filesets/w_scan1/images/metadata", json_body={"metadata": "x"}, code="invalid_input")
    R.step("POST /filesets/w_scan1/images/metadata no 'metadata' key", "POST", "/filesets/w_scan1/images/metadata",
           json_body={})
    R.step("POST /filesets/w_scan1/images/metadata no token", "POST", "/filesets/w_scan1/images/metadata", None,
           json_body={"metadata": {"k": 1}}, code="not_authenticated")
    R.step("POST /filesets/w_scan1/images/metadata bad token", "POST", "/filesets/w_scan1/images/metadata", "bad",
           json_body={"metadata": {"k": 1}}, py=500, ours=401, code="invalid_token", ref="D2")
    R.step("POST /filesets/real_plant_analyzed/images/metadata reader's token", "POST",
           "/filesets/real_plant_analyzed/images/metadata", "bob", json_body={"metadata": {"k": 1}}, py=500,
           ours=403, code="forbidden", ref="P4")
    R.step("POST /filesets/w_scan1/nope/metadata unknown fileset", "POST", "/filesets/w_scan1/nope/metadata",
           json_body={"metadata": {"k": 1}}, code="not_found")
    # file level
    meta_post(R, "POST /files/w_scan1/images/00000_rgb/metadata merge, owner/sharing dropped", "file",
              ("w_scan1", "images", "00000_rgb"), {"channel": "rgb", "quality": 0.9, "owner": "x", "sharing": "y"})
    meta_post(R, "POST /files/w_scan1/images/00001_rgb/metadata replace=true", "file",
              ("w_scan1", "images", "00001_rgb"), {"channel": "segmented"}, replace=True, differ_ok=True, ref="P8")
    R.ours_expect[md_path("w_scan1", "images", "00001_rgb")] = (
        lambda m: {k: v for k, v in m.items() if k in ("channel", "created", "created_by", "last_modified")},
        "P8: replace honoured")
    R.step("POST /files/w_scan1/images/00000_rgb/metadata no 'metadata' key", "POST",
           "/files/w_scan1/images/00000_rgb/metadata", json_body={"x": 1})
    R.step("POST /files/w_scan1/images/00000_rgb/metadata metadata not an object", "POST",
           "/files/w_scan1/images/00000_rgb/metadata", json_body={"metadata": [1]}, code="invalid_input")
    R.step("POST /files/w_scan1/images/00000_rgb/metadata no token", "POST",
           "/files/w_scan1/images/00000_rgb/metadata", None, json_body={"metadata": {"k": 1}},
           code="not_authenticated")
    R.step("POST /files/w_scan1/images/00000_rgb/metadata bad token", "POST",
           "/files/w_scan1/images/00000_rgb/metadata", "bad", json_body={"metadata": {"k": 1}}, py=500, ours=401,
           code="invalid_token", ref="D2")
    R.step("POST /files/real_plant_analyzed/images/00000_rgb/metadata reader's token", "POST",
           "/files/real_plant_analyzed/images/00000_rgb/metadata", "bob", json_body={"metadata": {"k": 1}},
           py=500, ours=403, code="forbidden", ref="P4")
    R.step("POST /files/w_scan1/images/nope/metadata unknown file", "POST", "/files/w_scan1/images/nope/metadata",
           json_body={"metadata": {"k": 1}}, code="not_found")

    # ================================================================ timelapses
    R.step("POST /timelapses {id, metadata}", "POST", "/timelapses",
           json_body={"id": "w_tl", "metadata": {"description": "write differential", "interval": "P1D"}})
    R.step("POST /timelapses {name}", "POST", "/timelapses", json_body={"name": "w_tl2"})
    R.step("POST /timelapses metadata not an object", "POST", "/timelapses", json_body={"id": "w_tl4", "metadata": [1]},
           ours=400, code="invalid_input", ref="§9.2 metadata optional object")
    R.step("POST /timelapses by alice (contributor)", "POST", "/timelapses", "alice", json_body={"id": "w_tl3"})
    R.step("POST /timelapses existing id", "POST", "/timelapses", json_body={"id": "w_tl"}, code="conflict")
    R.step("POST /timelapses a scan's id", "POST", "/timelapses", json_body={"id": "w_scan1"}, code="conflict")
    R.step("POST /timelapses missing id", "POST", "/timelapses", json_body={"metadata": {}})
    R.step("POST /timelapses body not an object", "POST", "/timelapses", json_body=[1], code="invalid_input")
    R.step("POST /timelapses invalid id", "POST", "/timelapses", json_body={"id": "bad.tl"}, code="invalid_input")
    R.step("POST /timelapses no token", "POST", "/timelapses", None, json_body={"id": "w_tl_x"}, py=403, ours=401,
           code="not_authenticated", ref="§2.1/§2.2 guest-default in Python")
    R.step("POST /timelapses bad token", "POST", "/timelapses", "bad", json_body={"id": "w_tl_x"}, py=500, ours=401,
           code="invalid_token", ref="D2")
    R.step("POST /timelapses reader's token", "POST", "/timelapses", "bob", json_body={"id": "w_tl_x"},
           code="forbidden")
    R.step("POST /scans/w_tl_s1 into w_tl", "POST", "/scans/w_tl_s1",
           json_body={"metadata": {"timelapse": {"id": "w_tl", "scheduled": "2026-12-01T08:00:00Z", "index": 0}}})
    R.step("GET /timelapses/w_tl", "GET", "/timelapses/w_tl")
    R.step("GET /timelapses", "GET", "/timelapses")
    R.step("DELETE /timelapses/w_tl not empty", "DELETE", "/timelapses/w_tl", code="conflict")
    R.step("DELETE /timelapses/w_tl2 no token", "DELETE", "/timelapses/w_tl2", None, py=403, ours=401,
           code="not_authenticated", ref="§2.1/§2.2")
    R.step("DELETE /timelapses/w_tl2 bad token", "DELETE", "/timelapses/w_tl2", "bad", py=500, ours=401,
           code="invalid_token", ref="D2")
    R.step("DELETE /timelapses/w_tl2 by alice (no delete)", "DELETE", "/timelapses/w_tl2", "alice", code="forbidden")
    R.step("DELETE /timelapses/w_tl2", "DELETE", "/timelapses/w_tl2", ref="P16 ours: moved to .trash/")
    R.step("DELETE /timelapses/w_tl?recursive=true", "DELETE", "/timelapses/w_tl?recursive=true", ref="P16")
    R.trashed += ["w_tl2", "w_tl"]
    R.step("GET /timelapses/w_tl after delete", "GET", "/timelapses/w_tl", code="not_found")
    R.step("GET /scans/w_tl_s1/metadata after recursive delete", "GET", "/scans/w_tl_s1/metadata", code="not_found")
    R.step("DELETE /timelapses/nope", "DELETE", "/timelapses/nope", code="not_found")
    R.step("GET /timelapses after deletes", "GET", "/timelapses")

    # ================================================================ archives
    src = fx / "shared_scan"   # owner alice, sharing [phenotyping]
    good = scan_zip(src, "w_arc1")

    def arc_files(pj, scan):
        """D3: Python lists absolute server paths; ours lists scan-relative ones."""
        pre = f"{R.py_db}/{scan}/"
        return {**pj, "files": sorted(f[len(pre):] if f.startswith(pre) else f for f in pj["files"])}

    R.step("POST /assets/archive/w_arc1 valid archive (admin)", "POST", "/assets/archive/w_arc1",
           fields=[("zip_file", ("w_arc1.zip", good, "application/zip"))],
           py_norm=lambda pj: arc_files(pj, "w_arc1"), ours_norm=lambda oj: {**oj, "files": sorted(oj["files"])},
           ref="D3: python's absolute paths made scan-relative; lists compared sorted")
    R.step("GET /scans/w_arc1/metadata after upload", "GET", "/scans/w_arc1/metadata", py_norm=p10,
           ref="P10 python injects object/hardware {} after its reload")
    R.step("GET /filesets/w_arc1/images/files after upload", "GET", "/filesets/w_arc1/images/files")
    R.step("POST /assets/archive/w_arc1 again: existing id", "POST", "/assets/archive/w_arc1",
           fields=[("zip_file", ("w_arc1.zip", good, "application/zip"))], py=400, ours=409, code="conflict", ref="P5")
    spoof = scan_zip(src, "w_arc2", md_override=lambda m: {**m, "owner": "bob", "sharing": ["phenotyping", "no_such_group"]})
    R.step("POST /assets/archive/w_arc2 by alice, archive says owner bob", "POST", "/assets/archive/w_arc2", "alice",
           fields=[("zip_file", ("w_arc2.zip", spoof, "application/zip"))], py=200, ours=200, ref="P18")

    def arc2_owner():
        p = R.get_md(R.py, "/scans/w_arc2/metadata")
        o = R.get_md(R.ours, "/scans/w_arc2/metadata")
        R.spec("P18 python keeps the archive's owner", p.get("owner") == "bob", f"python owner {p.get('owner')!r}")
        if o.get("owner") != "alice" or o.get("sharing") != ["phenotyping"]:
            raise Fail(f"ours: owner {o.get('owner')!r} sharing {o.get('sharing')!r}, expected alice (the uploader, "
                       "no manage_users) and ['phenotyping'] (existing groups only) (§8.2 step 6, P18)")
        return "owner alice, sharing [phenotyping]"
    R.case("GET /scans/w_arc2/metadata owner (P18)", arc2_owner)
    R.ours_expect[md_path("w_arc2")] = (lambda m: {**m, "owner": "alice", "sharing": ["phenotyping"]},
                                        "P18 / §8.2 step 6")
    R.step("POST /assets/archive/w_arc4 part type application/x-zip-compressed", "POST", "/assets/archive/w_arc4",
           fields=[("zip_file", ("w_arc4.zip", scan_zip(src, "w_arc4"), "application/x-zip-compressed"))],
           py=400, ours=200, ref="§8.2 step 2")
    R.only_ours["w_arc4"] = "§8.2 step 2: application/x-zip-compressed accepted by ours"
    R.step("POST /assets/archive/w_arc3 not a zip", "POST", "/assets/archive/w_arc3",
           fields=[("zip_file", ("w_arc3.zip", b"not a zip at all", "application/zip"))], code="invalid_input")
    R.step("POST /assets/archive/w_arc3 name not .zip", "POST", "/assets/archive/w_arc3",
           fields=[("zip_file", ("w_arc3.tar", good, "application/zip"))], code="invalid_input")
    R.step("POST /assets/archive/w_arc3 part type text/plain", "POST", "/assets/archive/w_arc3",
           fields=[("zip_file", ("w_arc3.zip", good, "text/plain"))], code="invalid_input")
    R.step("POST /assets/archive/w_arc3 no zip_file part", "POST", "/assets/archive/w_arc3",
           fields=[("file", ("w_arc3.zip", good, "application/zip"))], code="invalid_input")
    nostruct = scan_zip(src / "images", "w_arc3")
    R.step("POST /assets/archive/w_arc3 bad structure (no metadata/, no files.json)", "POST", "/assets/archive/w_arc3",
           fields=[("zip_file", ("w_arc3.zip", nostruct, "application/zip"))], code="invalid_input")
    R.step("POST /assets/archive/w_arc3 no token", "POST", "/assets/archive/w_arc3", None,
           fields=[("zip_file", ("w_arc3.zip", good, "application/zip"))], code="not_authenticated")
    R.step("POST /assets/archive/w_arc3 bad token", "POST", "/assets/archive/w_arc3", "bad",
           fields=[("zip_file", ("w_arc3.zip", good, "application/zip"))], py=500, ours=401, code="invalid_token",
           ref="D2")
    R.step("POST /assets/archive/w_arc3 reader's token", "POST", "/assets/archive/w_arc3", "bob",
           fields=[("zip_file", ("w_arc3.zip", good, "application/zip"))], py=500, ours=403, code="forbidden",
           ref="P4")
    R.step("POST /assets/archive/bad.arc invalid new id", "POST", "/assets/archive/bad.arc",
           fields=[("zip_file", ("bad.arc.zip", good, "application/zip"))], py=500, ours=400, code="invalid_input",
           ref="P6")
    crc = scan_zip(src, "w_arc_crc", corrupt="w_arc_crc/images/00000_rgb.jpg")
    R.step("POST /assets/archive/w_arc_crc CRC error in a member", "POST", "/assets/archive/w_arc_crc",
           fields=[("zip_file", ("w_arc_crc.zip", crc, "application/zip"))], py=400, ours=400, code="invalid_input",
           ref="D8 §8.2 step 5")

    def crc_left():
        R.spec("D8 python leaves the partial scan of a failed upload", (R.py_db / "w_arc_crc").is_dir(),
               "no w_arc_crc directory in the Python database")
        if (R.ours_db / "w_arc_crc").exists():
            raise Fail("ours left w_arc_crc behind after a failed upload (D8)")
        return "nothing left on ours"
    R.case("tree after the CRC failure (D8)", crc_left)
    R.only_python["w_arc_crc"] = "D8: Python leaves the partial scan of a failed archive upload"
    trav = scan_zip(src, "", explicit_dirs=True, extra=[("../w_arc_travX/evil.txt", b"outside")])
    R.step("POST /assets/archive/w_arc_trav member '../w_arc_travX/evil.txt'", "POST", "/assets/archive/w_arc_trav",
           fields=[("zip_file", ("w_arc_trav.zip", trav, "application/zip"))], py=200, ours=400, code="invalid_input",
           ref="§8.2 step 3 (Python's startswith check lets it write into a sibling)")

    def trav_left():
        R.spec("§8.2 python writes <root>/w_arc_travX/evil.txt", (R.py_db / "w_arc_travX" / "evil.txt").is_file(),
               "no w_arc_travX/evil.txt in the Python database")
        for n in ("w_arc_trav", "w_arc_travX"):
            if (R.ours_db / n).exists():
                raise Fail(f"ours created {n}")
        return "nothing written on ours"
    R.case("tree after the '..' archive", trav_left)
    R.only_python["w_arc_trav"] = "§8.2: the '..' archive is accepted by Python"
    R.only_python["w_arc_travX"] = "§8.2: Python wrote outside the scan"

    # ================================================================ reads after the writes
    def scans_list():
        p = R.send(R.py, "GET", "/scans")
        o = R.send(R.ours, "GET", "/scans")
        pl = sorted(set(p.json()) - {"w_arc_crc", "w_arc_trav", "configs"})
        ol = [x for x in o.json() if x != "w_arc4"]
        if ol != sorted(ol):
            raise Fail(f"ours: not in ascending order (P2): {ol}")
        d = first_diff(pl, ol)
        if d:
            raise Fail(f"python (minus its D8 leftovers and the `configs` scan) vs ours: {d}")
        return f"{len(ol)} scans"
    R.case("GET /scans after the writes", scans_list)
    R.step("GET /scans/w_scan1/filesets", "GET", "/scans/w_scan1/filesets",
           py_norm=lambda pj: {"filesets": sorted(set(pj["filesets"]) - {"fs_nonobj"})},
           ours_norm=lambda oj: {"filesets": sorted(oj["filesets"])}, ref="python also has fs_nonobj (§9.2); sorted")
    R.step("GET /filesets/w_scan1/images/files after the writes", "GET", "/filesets/w_scan1/images/files")

    # ================================================================ last: it breaks the Python database
    # A flat scan gaining timelapse.id: Python resolves the scan's directory from it and writes the
    # metadata to <root>/tl_plant/w_scan4/metadata/metadata.json, a directory without files.json that
    # makes `_is_fsdb` false, after which every Python delete fails ("Cannot delete files or
    # directories outside of a local DB."). Hence at the very end.
    meta_post(R, "POST /scans/w_scan4/metadata timelapse.id added to a flat scan", "scan", ("w_scan4",),
              {"timelapse": {"id": "tl_plant", "index": 1}}, differ_ok=True, ref="§9.5 timelapse.id cannot be added")
    R.ours_expect[md_path("w_scan4")] = (lambda m: {**m, "timelapse": {"index": 1}, "last_modified": TS},
                                         "§9.5: a flat scan cannot gain timelapse.id (Python wrote elsewhere)")

    def w_scan4_where():
        R.spec("§9.5 python writes the metadata of a flat scan that gained timelapse.id under the container",
               (R.py_db / "tl_plant" / "w_scan4" / "metadata" / "metadata.json").is_file(),
               "no tl_plant/w_scan4/metadata/metadata.json in the Python database")
        if (R.ours_db / "tl_plant" / "w_scan4").exists():
            raise Fail("ours created tl_plant/w_scan4")
        md = json.loads((R.ours_db / "w_scan4" / "metadata" / "metadata.json").read_text())
        if (md.get("timelapse") or {}).get("id"):
            raise Fail(f"ours stored timelapse.id on a flat scan: {md['timelapse']}")
        return f"ours: w_scan4 stays flat, timelapse = {md.get('timelapse')!r}"
    R.case("tree w_scan4 after the timelapse.id POST", w_scan4_where)
    R.only_python["tl_plant/w_scan4"] = "§9.5: Python writes a flat scan's metadata under the timelapse it names"


def lock_case(R):
    """P21/§1.9: a Python-protocol lock held by another process makes ours answer 503 `busy` after 30 s."""
    import fcntl
    import threading

    def fn():
        held = []
        for db in (R.py_db, R.ours_db):
            (db / ".locks").mkdir(exist_ok=True)
            path = db / ".locks" / "w_scan2.lock"
            fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append((fd, path))
        res = {}

        def send(srv):
            t0 = time.monotonic()
            res[srv.label] = (R.send(srv, "POST", "/scans/w_scan2/metadata", json_body={"metadata": {"locked": 1}}),
                              time.monotonic() - t0)
        try:
            ts = [threading.Thread(target=send, args=(srv,)) for srv in (R.py, R.ours)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        finally:
            for fd, path in held:  # release like plantdb-commons: unlock, close, unlink
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
                path.unlink(missing_ok=True)
        (p, pt), (o, ot) = res["python"], res["ours"]
        R.spec("P21 python answers 500 on a lock timeout", p.status == 500, f"python {p.short()} after {pt:.1f} s")
        R.our_error(o, 503, "busy")
        if not o.header("retry-after"):
            raise Fail("ours: 503 without Retry-After (§0)")
        if not 25 <= ot <= 60:
            raise Fail(f"ours answered after {ot:.1f} s, expected the 30 s timeout of §1.7")
        o2 = R.send(R.ours, "POST", "/scans/w_scan2/metadata", json_body={"metadata": {}})
        if o2.status != 200:
            raise Fail(f"ours after the lock was released: {o2.short()}")
        return f"ours 503 busy after {ot:.1f} s (python {p.status} after {pt:.1f} s); 200 once released"
    R.case("POST /scans/w_scan2/metadata while another process holds .locks/w_scan2.lock (P21, §1.7)", fn)


def p10(pj):
    """P10: Python injects `object`, `hardware`, `acquisition_date` = {} when metadata/images/ exists."""
    md = {k: v for k, v in pj["metadata"].items()
          if not (k in ("object", "hardware", "acquisition_date") and v == {})}
    return {**pj, "metadata": md}


def need(cond, msg):
    if not cond:
        raise Fail(msg)


def check_created_keys(md, user, sent):
    miss = [k for k, v in sent.items() if md.get(k) != v]
    if miss:
        raise Fail(f"ours: keys sent not stored: {miss}")
    if md.get("owner") != user or md.get("created_by") != FULLNAME[user]:
        raise Fail(f"ours: owner {md.get('owner')!r} created_by {md.get('created_by')!r} (§1.6)")
    for k in ("created", "last_modified"):
        if not ISO_NAIVE.match(md.get(k) or ""):
            raise Fail(f"ours: {k} = {md.get(k)!r} (§1.6: naive ISO with microseconds)")
    return "owner, created, created_by, last_modified as §1.6"


# --------------------------------------------------------------------------- tree comparison

def tree(root: Path):
    """Non-hidden files and directories under root (root files other than romidb ignored)."""
    files, dirs = {}, set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "webcache")
        for d in dirnames:
            dirs.add((rel / d).as_posix())
        for f in filenames:
            if f.startswith("."):
                continue
            if rel == Path(".") and f != "romidb":
                continue
            files[(rel / f).as_posix()] = Path(dirpath) / f
    return files, dirs


def under(path, prefixes):
    for pre in prefixes:
        if path == pre or path.startswith(pre + "/"):
            return prefixes[pre]
    return None


def compare_trees(R):
    pf, pd = tree(R.py_db)
    of, od = tree(R.ours_db)

    def existence():
        bad = []
        for p in sorted(set(pf) | set(pd) | set(of) | set(od)):
            inp, ino = p in pf or p in pd, p in of or p in od
            if inp and not ino and not under(p, R.only_python):
                bad.append(f"only in python: {p}")
            if ino and not inp and not under(p, R.only_ours):
                bad.append(f"only in ours: {p}")
        if bad:
            raise Fail(f"{len(bad)} paths: {bad[:8]}")
        return f"{len(of)} files, {len(od)} directories on ours"
    R.case("tree: same paths (hidden entries, webcache and root auth files excepted)", existence)

    common = sorted(p for p in set(pf) & set(of) if not (under(p, R.only_python) and under(p, R.only_ours)))
    data_bad, fj_bad, md_bad, fmt_bad, ts_bad = [], [], [], [], []
    n_md = n_data = n_fj = 0
    for p in common:
        praw, oraw = pf[p].read_bytes(), of[p].read_bytes()
        name = p.rsplit("/", 1)[-1]
        is_md = "/metadata/" in f"/{p}" and name.endswith(".json")
        if name == "files.json":
            n_fj += 1
            pj, oj = json.loads(praw), json.loads(oraw)
            if oraw.decode() != py_format(oj) and oraw.decode() != py_format(oj) + "\n":
                fmt_bad.append(f"{p} (files.json not in Python's format)")
            why = ""
            if p in R.fj_expect:
                fn, why = R.fj_expect[p]
                pj = fn(pj)
            d = first_diff(pj, oj)
            if d:
                fj_bad.append(f"{p}{' (' + why + ')' if why else ''}: {d}")
            if any(f.get("file") is None for s in oj.get("filesets", []) for f in s.get("files", [])):
                fj_bad.append(f"{p}: ours holds a null entry (D8)")
        elif is_md or name == "timelapse.json":
            n_md += 1
            pj, oj = json.loads(praw), json.loads(oraw)
            bad = []
            pm, om = mask(pj), mask(oj, bad)
            if bad:
                ts_bad.append(f"{p}: {bad[:2]}")
            if is_md and oraw.decode() != py_format(oj):
                fmt_bad.append(f"{p} (metadata not sorted/indent 4)")
            if p in R.models:
                m = R.models[p]
                d = first_diff(m["ours"], om)
                if d:
                    md_bad.append(f"{p}: ours vs its model ({m['why']}): {d}")
                if m["python"] is not None and first_diff(m["python"], pm):
                    R.spec(f"tree {p} python model", False, str(first_diff(m["python"], pm)))
                continue
            if p in R.ours_expect:
                fn, why = R.ours_expect[p]
                exp = fn(pm)
            else:
                exp, why = pm, "equal"
            d = first_diff(exp, om)
            if d:
                md_bad.append(f"{p} ({why}): {d}")
        else:
            n_data += 1
            if praw != oraw:
                data_bad.append(f"{p} ({len(praw)} vs {len(oraw)} bytes)")

    def res(lst, what, n):
        def fn():
            if lst:
                raise Fail(f"{len(lst)}/{n} {what}: {lst[:6]}")
            return f"{n} compared"
        return fn
    R.case("tree: files.json equal (parsed)", res(fj_bad, "files.json differ", n_fj))
    R.case("tree: metadata / timelapse.json equal (timestamps masked, documented differences applied)",
           res(md_bad, "metadata files differ", n_md))
    R.case("tree: ours' JSON in Python's format (sort_keys, indent 4)", res(fmt_bad, "files", n_fj + n_md))
    R.case("tree: ours' timestamps naive ISO (§1.6)", res(ts_bad, "files", n_md))
    R.case("tree: data files byte-equal", res(data_bad, "data files differ", n_data))

    def ours_invariants():
        problems = []
        for dirpath, dirnames, filenames in os.walk(R.ours_db):
            rel = Path(dirpath).relative_to(R.ours_db).as_posix()
            if rel.startswith(".trash") or rel.startswith(".plantdb-auth") or rel.startswith(".locks"):
                continue
            for f in filenames:
                if f.endswith(".tmp") or (f.startswith(".") and rel != "."):
                    problems.append(f"leftover {rel}/{f}")
            if rel.startswith(".plantdb-tmp") and (dirnames or filenames):
                problems.append(f"leftover upload staging {rel}: {dirnames + filenames}")
        trash = R.ours_db / ".trash"
        names = sorted(p.name for p in trash.iterdir()) if trash.is_dir() else []
        for tl in R.trashed:
            if not any(re.fullmatch(rf"\d{{8}}T\d{{6}}Z_{re.escape(tl)}", n) for n in names):
                problems.append(f"deleted timelapse {tl} not under .trash/<UTC>_{tl} (P16): {names}")
        if problems:
            raise Fail("; ".join(problems[:8]))
        return f".trash: {names}"
    R.case("tree: ours leaves no temporaries; deleted timelapses in .trash/ (§1.9, P16, D8)", ours_invariants)


# --------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description="PlantDB write-route differential test (see the module docstring)")
    ap.add_argument("--python-url", required=True)
    ap.add_argument("--python-db", required=True)
    ap.add_argument("--ours-url", required=True)
    ap.add_argument("--ours-db", required=True)
    ap.add_argument("--fixture", required=True, help="the pristine fixture both databases were copied from")
    ap.add_argument("--report", help="write the results as JSON")
    ap.add_argument("--no-rotate", action="store_true", help="do not rotate the loopback source address")
    ap.add_argument("--strict-spec", action="store_true", help="SPEC-MISMATCH lines also fail the run")
    ap.add_argument("--no-lock-test", action="store_true", help="skip the 30 s lock-timeout case (P21)")
    a = ap.parse_args(argv)
    t0 = time.monotonic()
    R = Runner(a)
    R.login_all()
    run_sequence(R)
    if not a.no_lock_test:
        lock_case(R)
    compare_trees(R)
    counts = {}
    for r in R.results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    elapsed = time.monotonic() - t0
    print(f"# summary: {counts.get('PASS', 0)} passed, {counts.get('FAIL', 0)} failed, {counts.get('SKIP', 0)} skipped, "
          f"{counts.get('SPEC-MISMATCH', 0)} spec mismatches ({R.py.requests + R.ours.requests} requests, {elapsed:.1f} s)")
    if a.report:
        Path(a.report).write_text(json.dumps({"python": a.python_url, "ours": a.ours_url, "counts": counts,
                                              "elapsed_s": round(elapsed, 2), "results": R.results}, indent=2))
    failed = counts.get("FAIL", 0) or (a.strict_spec and counts.get("SPEC-MISMATCH", 0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
