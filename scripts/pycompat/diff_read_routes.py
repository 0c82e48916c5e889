#!/usr/bin/env python3
"""Differential test of the PlantDB READ routes: the reference Python server vs ours.

Usage:
  diff_read_routes.py --python-url URL --ours-url URL [--db DIR] [--report out.json]
  diff_read_routes.py --ours-url URL --ours-only --db DIR [--viewer]
  diff_read_routes.py --python-url URL [--db DIR]           (harness/spec self-check)

Calls every read route of /work/shared/spec/data-api.md §3 (current generation,
/api/v1) for every scan of the fixture (scripts/pycompat/generate_data_fixture.py)
and compares, case by case:
  * status codes, JSON bodies (exact, or ours against the documented behaviour where
    the spec decides a difference: D1-D9, P1-P21 are named in the failure messages),
  * raw bytes of files, image dimensions of previews (Pillow), point counts and bounds
    of point clouds (plyfile), zip member names and CRCs of archives.

Expectations for OUR server come from, in order: the Python response rewritten by the
documented differences ("normalised"), else an oracle computed from the fixture on
disk (--db) with the spec's rules. When both exist they are also compared with each
other ("[oracle]" cases), which validates this harness against the real Python server.
Documented-difference checks apply only when the "ours" server is not the Python one
(detected from the `Server: Werkzeug` header, or --ours-kind): pointing --ours-url at a
second Python server is the harness self-test and must PASS everything.

SPEC lines check claims the spec makes about the PYTHON server; a mismatch is printed
as `SPEC-MISMATCH` and counted separately (it means the spec is wrong, not ours);
they make the exit code non-zero only with --strict-spec.

--ours-only: no Python server; ours is checked against the oracle (needs --db).
--viewer: also check the 0.14 viewer routes (§4) on ours (Python 0.17 has none).
Output: one line per case `PASS name`, `FAIL name: reason`, `SKIP name: reason`,
then a summary; exit 1 on any FAIL. Needs Pillow, numpy and plyfile (the venv of
scripts/python-env.sh has them); no Open3D.

Python 0.17 rate-limits reads per client IP (5/min on point clouds, meshes, skeletons,
archives): requests are sent from rotating loopback source addresses (127.0.x.y) so
that the unmodified Python server can be driven at full speed (--no-rotate to disable).
"""
import argparse
import base64
import hashlib
import http.client
import io
import json
import re
import sys
import time
import urllib.parse
import zipfile
import zlib
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

try:
    from plyfile import PlyData
except ImportError:  # pragma: no cover
    PlyData = None

API = "/api/v1"
TASK_URI_KEYS = {"PointCloud": "pointCloud", "TriangleMesh": "mesh", "CurveSkeleton": "skeleton", "TreeGraph": "tree"}
HAS_KEYS = [("hasColmap", "Colmap", "cameras"), ("hasPointCloud", "PointCloud", "PointCloud"),
            ("hasTriangleMesh", "TriangleMesh", "TriangleMesh"), ("hasCurveSkeleton", "CurveSkeleton", "CurveSkeleton"),
            ("hasTreeGraph", "TreeGraph", "TreeGraph"),
            ("hasAnglesAndInternodes", "AnglesAndInternodes", "AnglesAndInternodes"),
            ("hasAutomatedMeasures", "AnglesAndInternodes", "AnglesAndInternodes"),
            ("hasSegmentation2D", "Segmentation2D", ""),
            ("hasPcdGroundTruth", "PointCloudGroundTruth", "PointCloudGroundTruth"),
            ("hasPointCloudEvaluation", "PointCloudEvaluation", "PointCloudEvaluation"),
            ("hasSegmentedPointCloud", "SegmentedPointCloud", "SegmentedPointCloud"),
            ("hasSegmentedPcdEvaluation", "SegmentedPointCloudEvaluation", "SegmentedPointCloudEvaluation")]
# §10.1: our content types by extension.
OUR_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".tif": "image/tiff",
             ".tiff": "image/tiff", ".json": "application/json", ".txt": "text/plain; charset=utf-8",
             ".ply": "application/octet-stream", ".toml": "application/toml", ".yaml": "application/yaml",
             ".yml": "application/yaml", ".zip": "application/zip"}
IMAGE_EXT = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}


class Fail(Exception):
    pass


class Skip(Exception):
    pass


# --------------------------------------------------------------------------- HTTP

class Resp:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed
        self._json = None

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def json(self):
        if self._json is None:
            try:
                self._json = ("ok", json.loads(self.body.decode("utf-8")))
            except Exception as e:  # noqa: BLE001
                self._json = ("err", e)
        if self._json[0] == "err":
            raise Fail(f"body is not JSON ({self._json[1]}): {self.body[:120]!r}")
        return self._json[1]

    def short(self):
        return f"{self.status} {self.body[:160]!r}"


class Server:
    """A tiny HTTP client (http.client): GET with a JSON body, raw paths, rotating source IPs."""
    _ip_counter = 0

    def __init__(self, url, label, rotate=True, timeout=120):
        u = urllib.parse.urlsplit(url.rstrip("/"))
        self.url = url.rstrip("/")
        self.host, self.port = u.hostname, u.port or 80
        self.prefix = u.path.rstrip("/")
        self.label = label
        self.rotate = rotate and self.host.startswith("127.")
        self.timeout = timeout
        self.kind = None
        self.requests = 0

    def _source(self):
        if not self.rotate:
            return None
        Server._ip_counter += 1
        n = Server._ip_counter % 60000
        return (f"127.{1 + n // 250 % 250}.{n % 250 + 1}.{1 + n // 62500}", 0)

    def request(self, method, path, headers=None, body=None, json_body=None):
        hdrs = {"Accept-Encoding": "identity"}
        hdrs.update(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        last = None
        for attempt in range(3):
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout,
                                              source_address=self._source())
            try:
                t0 = time.monotonic()
                conn.request(method, self.prefix + path, body=body, headers=hdrs)
                r = conn.getresponse()
                data = r.read()
                self.requests += 1
                return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data, time.monotonic() - t0)
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                last = e
                time.sleep(0.2 * (attempt + 1))
            finally:
                conn.close()
        raise Fail(f"{self.label}: {method} {path}: connection failed: {last}")

    def get(self, path, **kw):
        return self.request("GET", path, **kw)


def detect_kind(server):
    r = server.get(API + "/health")
    return "python" if "werkzeug" in (r.header("server") or "").lower() else "rust"


# --------------------------------------------------------------------------- comparison helpers

class Approx:
    """Expected value matching a ctime-derived date within `tol` seconds (§5.1 metadata.date)."""

    def __init__(self, value, tol=600, why="directory ctime"):
        self.value, self.tol, self.why = value, tol, why

    def match(self, got):
        if not isinstance(got, str):
            return False
        if self.value is None:
            return bool(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", got))
        try:
            a = datetime.strptime(self.value, "%Y-%m-%d %H:%M:%S")
            b = datetime.strptime(got, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return False
        return abs((a - b).total_seconds()) <= self.tol

    def __repr__(self):
        return f"<{self.why} ~{self.value}>"


class Pattern:
    """Expected string matching a regular expression (fullmatch)."""

    def __init__(self, rx):
        self.rx = rx

    def match(self, got):
        return isinstance(got, str) and re.fullmatch(self.rx, got) is not None

    def __repr__(self):
        return f"<re {self.rx}>"


class AnyScanDoc:
    """Any scan-info object for that id (a scan whose metadata.json is unreadable: §1.9/§5.4)."""

    def __init__(self, sid):
        self.sid = sid

    def match(self, got):
        return isinstance(got, dict) and got.get("id") == self.sid

    def __repr__(self):
        return f"<any scan document of {self.sid}>"


class Prefixed:
    """Expected string = prefix + '.' + extension (filesUri without --db, D6)."""

    def __init__(self, prefix):
        self.prefix = prefix

    def match(self, got):
        return isinstance(got, str) and got.startswith(self.prefix + ".") and "/" not in got[len(self.prefix):]

    def __repr__(self):
        return f"<{self.prefix}.EXT>"


def first_diff(exp, got, path="$"):
    """None when equal, else a short description of the first difference."""
    if isinstance(got, (Approx, Prefixed, Pattern, AnyScanDoc)):  # oracle vs normalised Python: both may be loose
        exp, got = got, exp
        if isinstance(got, (Approx, Prefixed, Pattern, AnyScanDoc)):
            return None
    if isinstance(exp, (Approx, Prefixed, Pattern, AnyScanDoc)):
        return None if exp.match(got) else f"{path}: expected {exp!r}, got {got!r}"
    if isinstance(exp, dict) and isinstance(got, dict):
        for k in exp:
            if k not in got:
                return f"{path}: missing key {k!r}"
        for k in got:
            if k not in exp:
                return f"{path}: unexpected key {k!r} = {json.dumps(got[k])[:80]}"
        for k in exp:
            d = first_diff(exp[k], got[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(exp, list) and isinstance(got, list):
        if len(exp) != len(got):
            return f"{path}: expected {len(exp)} items, got {len(got)}: {json.dumps(got)[:160]} vs {json.dumps(exp, default=repr)[:160]}"
        for i, (a, b) in enumerate(zip(exp, got)):
            d = first_diff(a, b, f"{path}[{i}]")
            if d:
                return d
        return None
    if type(exp) is bool or type(got) is bool:
        same = exp is got
    elif isinstance(exp, (int, float)) and isinstance(got, (int, float)):
        same = exp == got and not (isinstance(exp, float) != isinstance(got, float) and exp != int(exp))
    else:
        same = exp == got and type(exp) is type(got)
    return None if same else f"{path}: expected {json.dumps(exp, default=repr)[:160]}, got {json.dumps(got)[:160]}"


# --------------------------------------------------------------------------- the fixture on disk (oracle)

class DiskScan:
    def __init__(self, sid, path, tl):
        self.id, self.path, self.tl = sid, path, tl
        self.metadata_raw = None
        self.metadata_ok = True
        p = path / "metadata" / "metadata.json"
        if p.is_file():
            try:
                self.metadata_raw = json.loads(p.read_text())
            except ValueError:
                self.metadata_ok = False
        self.metadata = self.metadata_raw if isinstance(self.metadata_raw, dict) else {}
        self.filesets = []  # [(fs_id, [(file_id, file_name)])] as Python loads them (§1.3)
        fj = json.loads((path / "files.json").read_text())
        for fs in fj.get("filesets", []):
            fsdir = path / fs["id"]
            if not fsdir.is_dir():
                continue
            files = []
            for f in fs.get("files", []):
                name = f.get("file")
                if not f.get("id") or not isinstance(name, str) or "/" in name or name.startswith("."):
                    continue
                if (fsdir / name).is_file():
                    files.append((f["id"], name))
            self.filesets.append((fs["id"], files))

    def fs_ids(self):
        return [fs for fs, _ in self.filesets]

    def files(self, fs_id):
        for fs, files in self.filesets:
            if fs == fs_id:
                return files
        return None

    def file_name(self, fs_id, file_id):
        for fid, name in self.files(fs_id) or []:
            if fid == file_id:
                return name
        return None

    def file_path(self, fs_id, file_id):
        return self.path / fs_id / self.file_name(fs_id, file_id)

    def fs_metadata(self, fs_id):
        return read_json_or(self.path / "metadata" / f"{fs_id}.json", {})

    def file_metadata(self, fs_id, file_id):
        return read_json_or(self.path / "metadata" / fs_id / f"{file_id}.json", {})

    def tasks(self):
        t = {}
        for fs in self.fs_ids():
            t[fs.split("_")[0]] = fs
        return t

    def has(self, task, file_id):
        t = self.tasks()
        return task in t and any(fid == file_id for fid, _ in self.files(t[task]))

    def task_file(self, task):
        fs = self.tasks().get(task)
        if fs is None or not self.has(task, task):
            return None
        return fs, task, self.file_name(fs, task)


def read_json_or(path, default):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return default


class Disk:
    def __init__(self, root):
        self.root = Path(root)
        self.scans = {}
        self.timelapses = {}
        for d in sorted(self.root.iterdir()):
            if not d.is_dir() or d.name.startswith(".") or d.name == "configs":
                continue
            if (d / "timelapse.json").is_file():
                self.timelapses[d.name] = d
                for c in sorted(d.iterdir()):
                    if c.is_dir() and not c.name.startswith(".") and self._is_scan(c):
                        self.scans[c.name] = DiskScan(c.name, c, d.name)
            elif self._is_scan(d):
                self.scans[d.name] = DiskScan(d.name, d, None)

    @staticmethod
    def _is_scan(d):
        try:
            return (d / "metadata").is_dir() and "filesets" in json.loads((d / "files.json").read_text())
        except (OSError, ValueError):
            return False


def thumb_size(w, h, n):
    """Pillow Image.thumbnail((n, n)) output size, computed by Pillow itself."""
    im = Image.new("L", (w, h))
    im.thumbnail((n, n))
    return im.size


def voxel_count(pts, v):
    """open3d voxel_down_sample: origin = min - v/2, index = floor((p - origin) / v)."""
    origin = pts.min(axis=0) - v * 0.5
    idx = np.floor((pts - origin) / v).astype(np.int64)
    return len(np.unique(idx, axis=0))


def parse_ply(data):
    """-> dict(format, props [(name, type)], n, points (n,3) float64, faces list or None, header text)."""
    end = data.find(b"end_header")
    if end < 0:
        raise Fail("not a PLY (no end_header)")
    header = data[:end].decode("ascii", "replace")
    fmt = re.search(r"^format (\S+)", header, re.M)
    props, elem = [], None
    for line in header.splitlines():
        parts = line.split()
        if parts[:1] == ["element"]:
            elem = parts[1]
        elif parts[:1] == ["property"] and elem == "vertex":
            props.append((parts[-1], parts[1]))
    if PlyData is None:
        raise Skip("plyfile is not installed")
    ply = PlyData.read(io.BytesIO(data))
    v = ply["vertex"]
    pts = np.stack([np.asarray(v["x"], dtype=np.float64), np.asarray(v["y"], dtype=np.float64),
                    np.asarray(v["z"], dtype=np.float64)], axis=1)
    faces = None
    if "face" in [e.name for e in ply.elements]:
        f = ply["face"]
        key = "vertex_indices" if "vertex_indices" in f.data.dtype.names else "vertex_index"
        faces = [list(map(int, x)) for x in f.data[key]]
    return {"format": fmt.group(1) if fmt else None, "props": props, "n": len(pts), "points": pts,
            "faces": faces, "header": header}


def fan(faces):
    out = []
    for f in faces:
        for i in range(1, len(f) - 1):
            out.append([f[0], f[i], f[i + 1]])
    return out


def zip_members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {i.filename: i.CRC for i in z.infolist()}  # directory entries would show up as "x/"


def image_info(data):
    im = Image.open(io.BytesIO(data))
    return im.format, im.size


# --------------------------------------------------------------------------- the runner

class Runner:
    def __init__(self, args):
        self.args = args
        self.py = Server(args.python_url, "python", rotate=not args.no_rotate) if args.python_url else None
        self.ours = Server(args.ours_url, "ours", rotate=not args.no_rotate) if args.ours_url else None
        self.disk = Disk(args.db) if args.db else None
        self.results = []
        self.cache = {}
        if self.py:
            self.py.kind = detect_kind(self.py)
        if self.ours:
            self.ours.kind = args.ours_kind if args.ours_kind != "auto" else detect_kind(self.ours)
        # Documented differences apply only when "ours" really is ours.
        self.rust = bool(self.ours) and self.ours.kind == "rust"
        self.only = [re.compile(p) for p in (args.only or [])]
        self.previews = []  # (DiskScan, kind, fileset, file, size query value) requested

    # -- output
    def record(self, status, name, detail=""):
        self.results.append({"status": status, "name": name, "detail": detail})
        line = f"{status} {name}" + (f": {detail}" if detail and status != "PASS" else (f" ({detail})" if detail else ""))
        print(line, flush=True)

    def case(self, name, fn):
        if self.only and not any(p.search(name) for p in self.only):
            return
        try:
            note = fn()
        except Skip as e:
            self.record("SKIP", name, str(e))
        except Fail as e:
            self.record("FAIL", name, str(e))
        except Exception as e:  # noqa: BLE001  (a harness bug must not stop the run)
            self.record("FAIL", name, f"harness error: {type(e).__name__}: {e}")
        else:
            self.record("PASS", name, note or "")

    def spec(self, name, ok, detail):
        """A claim the spec makes about the Python server."""
        if ok:
            self.record("PASS", f"spec:{name}")
        else:
            self.record("SPEC-MISMATCH", f"spec:{name}", detail)

    # -- requests
    def both(self, path, **kw):
        p = self.py.request(kw.pop("method", "GET"), path, **kw) if self.py else None
        o = self.ours.request("GET", path, **kw) if self.ours else None
        return p, o

    def py_get(self, path, **kw):
        key = ("py", path, json.dumps(kw, sort_keys=True))
        if key not in self.cache:
            self.cache[key] = self.py.get(path, **kw)
        return self.cache[key]

    # -- checks on our responses
    def our_error(self, o, status, code=None):
        """Ours answered `status` with the contract.md error body (D3)."""
        if o.status != status:
            raise Fail(f"ours: expected {status}, got {o.short()}")
        if not self.rust:
            return
        if "application/json" not in (o.header("content-type") or ""):
            raise Fail(f"ours: error without JSON content type: {o.header('content-type')}")
        b = o.json()
        if not (isinstance(b, dict) and isinstance(b.get("error"), str) and isinstance(b.get("message"), str)
                and isinstance(b.get("code"), str)):
            raise Fail(f"ours: error body is not {{error, message, code}} (D3): {o.body[:160]!r}")
        if code and b["code"] != code:
            raise Fail(f"ours: code {b['code']!r}, expected {code!r}")
        for leak in (self.args.ours_db, self.args.db, "Traceback", "Errno", "/tmp/"):
            if leak and str(leak) in b["message"]:
                raise Fail(f"ours: error message leaks {leak!r} (D3): {b['message']!r}")

    def compare_json(self, p, o, normalise, oracle, what, sort_py=False):
        """The common JSON case: status 200 on both, ours == normalise(python) (or == oracle)."""
        exp = None
        notes = []
        if p is not None:
            if p.status != 200:
                raise Fail(f"python: {p.short()}")
            pj = p.json()
            if sort_py and isinstance(pj, list):
                pj = sorted(pj, key=lambda x: x["id"] if isinstance(x, dict) else x)
            exp = normalise(pj) if (self.rust or o is None) else pj
            if oracle is not None and self.disk is not None:
                ex_or = oracle()
                if ex_or is not None:
                    d = first_diff(ex_or, normalise(pj))
                    if d:
                        raise Fail(f"[oracle] harness oracle disagrees with normalised Python: {d}")
        elif oracle is not None and self.disk is not None:
            exp = oracle()
        if o is None:
            return "python only"
        if o.status != 200:
            raise Fail(f"ours: {o.short()}")
        oj = o.json()
        if exp is None:
            raise Skip(f"no expectation for {what} (no Python server and no oracle)")
        if not self.rust and p is not None:
            exp = p.json()
            if sort_py and isinstance(exp, list):
                exp = sorted(exp, key=lambda x: x["id"] if isinstance(x, dict) else x)
                oj = sorted(oj, key=lambda x: x["id"] if isinstance(x, dict) else x)
        d = first_diff(self.loosen_ctime(exp), oj)
        if d:
            raise Fail(d)
        return "; ".join(notes)

    def loosen_ctime(self, exp):
        """metadata.date from the directory ctime differs between two copies of the fixture."""
        def one(doc):
            if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict) and isinstance(doc["metadata"].get("date"), str):
                ds = self.disk.scans.get(doc.get("id")) if self.disk else None
                acq = ds.metadata.get("acquisition_date") if ds else None
                if ds is not None and not (isinstance(acq, str) and acq.count(" ") == 1):
                    doc = dict(doc, metadata=dict(doc["metadata"], date=Approx(doc["metadata"]["date"])))
            return doc
        return [one(x) for x in exp] if isinstance(exp, list) else one(exp)

    # ----------------------------------------------------------------- scan lists
    def scan_ids(self):
        if self.disk:
            return sorted(self.disk.scans)
        src = self.py or self.ours
        return sorted(src.get(API + "/scans").json())

    def dscan(self, sid):
        return self.disk.scans.get(sid) if self.disk else None


# --------------------------------------------------------------------------- normalisation (python -> ours)

def norm_metadata(dscan):
    """P10: Python injects `object`, `hardware`, `acquisition_date` = {} when metadata/images/ exists."""
    def f(body):
        md = dict(body.get("metadata", {})) if isinstance(body.get("metadata"), dict) else body.get("metadata")
        if isinstance(md, dict):
            for k in ("object", "hardware", "acquisition_date"):
                if md.get(k) == {} and (dscan is None or k not in dscan.metadata):
                    md.pop(k)
        return {"metadata": md}
    return f


def union_meta(md):
    """P11: 0.17 MIAPPE key first, then the 0.14 `object.*` key, then N/A."""
    def obj(x):
        return x if isinstance(x, dict) else {}
    bio = obj(md.get("biologicalMaterial"))
    org = obj(bio.get("organism"))
    gf = obj(obj(md.get("study")).get("growthFacility"))
    o = obj(md.get("object"))
    return {"species": org.get("species", o.get("species", "N/A")),
            "plant": bio.get("biologicalMaterialId", o.get("plant_id", "N/A")),
            "environment": gf.get("name", o.get("environment", "N/A"))}


def norm_scan_info(info, dscan, metadata, prefix=API):
    """Python 0.17 scan-info -> what ours must answer (current generation)."""
    e = json.loads(json.dumps(info))
    sid = e["id"]
    md = metadata if metadata is not None else (dscan.metadata if dscan else {})
    # metadata.date: ctime rule when acquisition_date is not a one-space string (copies differ).
    acq = (dscan.metadata if dscan else md).get("acquisition_date")
    if not (isinstance(acq, str) and acq.count(" ") == 1):
        e["metadata"]["date"] = Approx(e["metadata"]["date"])
    # P11 union.
    e["metadata"].update(union_meta(md))
    # D6: filesUri with the file NAME; §13.2: pcdGroundTruth when hasPcdGroundTruth.
    fu = {}
    for task, key in TASK_URI_KEYS.items():
        if key in e.get("filesUri", {}):
            fs = e["tasks_fileset"][task]
            if dscan:
                fu[key] = f"{prefix}/assets/files/{sid}/{fs}/{dscan.file_name(fs, task)}"
            else:
                fu[key] = Prefixed(e["filesUri"][key])
    if e.get("hasPcdGroundTruth"):
        fs = e["tasks_fileset"]["PointCloudGroundTruth"]
        if dscan:
            fu["pcdGroundTruth"] = f"{prefix}/assets/files/{sid}/{fs}/{dscan.file_name(fs, 'PointCloudGroundTruth')}"
        else:
            fu["pcdGroundTruth"] = Prefixed(f"{prefix}/assets/files/{sid}/{fs}/PointCloudGroundTruth")
    e["filesUri"] = fu
    # P14 workspace null when unknown, P13 camera.poses always present.
    if e.get("workspace") == {}:
        e["workspace"] = None
    if e.get("camera") == {}:
        e["camera"] = {"poses": []}
    return e


def oracle_scan_info(ds, prefix=API):
    """Our scan-info document computed from the fixture on disk (spec §5)."""
    M = ds.metadata
    sid = ds.id
    if not ds.metadata_ok:
        return AnyScanDoc(sid)
    T = ds.tasks()
    imgs = ds.files("images") or []
    if not imgs:
        return None  # degraded document; not modelled here
    rgb = [(fid, name) for fid, name in imgs if ds.file_metadata("images", fid).get("channel") == "rgb"]
    i0 = next(((fid, n) for fid, n in imgs if Path(n).suffix.lower() in IMAGE_EXT), imgs[0])
    acq = M.get("acquisition_date")
    if isinstance(acq, str) and acq.count(" ") == 1:
        date = acq
    elif isinstance(acq, str) and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", acq):
        date = acq[:10] + " " + acq[11:19]
    else:
        date = Approx(None, why="ctime")
    u = union_meta(M)
    info = {"id": sid,
            "metadata": {"date": date, **u, "nbPhotos": len(rgb),
                         "files": {"metadata": f"{prefix}/assets/files/{sid}/metadata/metadata.json"
                                   if (ds.path / "metadata" / "metadata.json").is_file() else None,
                                   "archive": f"{prefix}/assets/archive/{sid}"}},
            "thumbnailUri": f"{prefix}/assets/image/{sid}/images/{i0[0]}?size=thumb",
            "images": [n for _, n in rgb],
            "tasks_fileset": T,
            "filesUri": {},
            "isVirtual": "VirtualPlant" in T}
    for key, task, fid in HAS_KEYS:
        info[key] = ds.has(task, fid)
    info["hasManualMeasures"] = (ds.path / "measures.json").exists()
    for task, key in TASK_URI_KEYS.items():
        tf = ds.task_file(task)
        if tf:
            info["filesUri"][key] = f"{prefix}/assets/files/{sid}/{tf[0]}/{tf[2]}"
    if info["hasPcdGroundTruth"]:
        tf = ds.task_file("PointCloudGroundTruth")
        info["filesUri"]["pcdGroundTruth"] = f"{prefix}/assets/files/{sid}/{tf[0]}/{tf[2]}"
    info["error"] = False
    if isinstance(M.get("ScanPath"), dict):
        kw = M["ScanPath"].get("kwargs") if isinstance(M["ScanPath"].get("kwargs"), dict) else {}
        if "center_x" in kw and "center_y" in kw:
            x, y = kw["center_x"], kw["center_y"]
        else:
            x, y = 375, 375
        z = -500
        toml_path = ds.path / "pipeline.toml"
        try:
            import tomllib
            z = min(tomllib.loads(toml_path.read_text())["Voxels"]["bounding_box"]["z"])
        except Exception:  # noqa: BLE001
            pass
        info["workspace"] = {"x": [x - 150, x + 150], "y": [y - 150, y + 150], "z": [z - 150, z + 150]}
    elif "workspace" in M:
        info["workspace"] = M["workspace"]
    else:
        info["workspace"] = ds.fs_metadata("images").get("workspace")
    cam = ds.file_metadata("images", imgs[0][0]).get("colmap_camera")
    camera = {"poses": []}
    if cam:
        camera["model"] = cam.get("camera_model")
        for fid, _ in rgb:
            c = ds.file_metadata("images", fid).get("colmap_camera") or {}
            if "tvec" in c and "rotmat" in c:
                camera["poses"].append({"id": fid, "tvec": c["tvec"], "rotmat": c["rotmat"],
                                        "photoUri": f"{prefix}/assets/image/{sid}/images/{fid}?size=orig",
                                        "thumbnailUri": f"{prefix}/assets/image/{sid}/images/{fid}?size=thumb"})
    info["camera"] = camera
    return info


def all_uris(doc):
    """Every URI string of a scan document (§5.2 last paragraph)."""
    out = []
    md = doc.get("metadata") or {}
    for k in ("metadata", "archive"):
        v = (md.get("files") or {}).get(k)
        if isinstance(v, str):
            out.append((f"metadata.files.{k}", v))
    if doc.get("thumbnailUri"):
        out.append(("thumbnailUri", doc["thumbnailUri"]))
    for k, v in (doc.get("filesUri") or {}).items():
        if isinstance(v, str):
            out.append((f"filesUri.{k}", v))
    for k in ("skeleton", "angles"):
        if isinstance(doc.get(k), str):
            out.append((k, doc[k]))
    cam = doc.get("camera") or {}
    for p in cam.get("poses") or []:
        for k in ("photoUri", "thumbnailUri"):
            if isinstance(p.get(k), str):
                out.append((f"camera.poses.{k}", p[k]))
    return out


# --------------------------------------------------------------------------- the cases

def run_all(R):
    a = R.args
    scans = R.scan_ids()
    d = R.disk
    print(f"# python: {R.py.url + ' (' + R.py.kind + ')' if R.py else 'none'}; "
          f"ours: {R.ours.url + ' (' + R.ours.kind + ')' if R.ours else 'none'}; "
          f"documented differences {'APPLIED' if R.rust else 'not applied (ours is the Python server: self-test)' if R.ours else 'n/a'}; "
          f"fixture: {a.db or 'none'}; scans: {len(scans)}", flush=True)
    if not R.py:
        print("# SKIP all Python comparisons: no --python-url (ours is checked against the on-disk oracle)")
    if not R.ours:
        print("# SKIP all checks of ours: no --ours-url (harness validation and spec claims only)")

    general_cases(R, scans)
    listing_cases(R, scans)
    for sid in scans:
        scan_cases(R, sid)
    timelapse_cases(R)
    error_cases(R, scans)
    uri_walk_cases(R, scans)
    if a.viewer:
        viewer_cases(R, scans)
    webcache_cases(R)
    refresh_cases(R, scans)
    poison_case(R)


def general_cases(R, scans):
    def root_redirect():
        p, o = R.both("/")
        if p:
            R.spec("root-redirect", p.status == 302 and p.header("location", "").endswith("/api/v1/"),
                   f"python GET / -> {p.status} Location={p.header('location')}")
        if o:
            if o.status != 302 or not o.header("location", "").endswith("/api/v1/"):
                raise Fail(f"ours: {o.status} Location={o.header('location')}")
    R.case("GET /", root_redirect)

    def home():
        p, o = R.both(API + "/")
        ref = p.json() if p else None
        if p and p.status != 200:
            raise Fail(f"python: {p.short()}")
        if o is None:
            return
        if o.status != 200:
            raise Fail(f"ours: {o.short()}")
        oj = o.json()
        if "PlantDB" not in oj.get("name", ""):
            raise Fail(f"ours: name {oj.get('name')!r}")
        if ref:
            if set(oj) != set(ref):
                raise Fail(f"top-level keys differ: ours {sorted(oj)} vs python {sorted(ref)}")
            for g, v in ref.items():
                if isinstance(v, dict) and set(v) != set(oj[g]):
                    raise Fail(f"{g!r} keys differ: only python {sorted(set(v) - set(oj[g]))}, only ours {sorted(set(oj[g]) - set(v))}")
        return "keys compared; descriptions and versions are ours"
    R.case("GET /api/v1/ (home)", home)

    def home_noslash():
        p, o = R.both(API)
        if p:
            R.spec("home-308", p.status == 308, f"python GET /api/v1 -> {p.status}")
        if o:
            want = 200 if R.rust else (p.status if p else 200)
            if o.status != want:
                raise Fail(f"ours: expected {want} (§3.1 #2), got {o.status}")
    R.case("GET /api/v1 (no slash)", home_noslash)

    def health():
        p, o = R.both(API + "/health")
        if o is None:
            return
        if o.status != 200:
            raise Fail(f"ours: {o.short()}")
        oj = o.json()
        if oj.get("status") != "healthy":
            raise Fail(f"ours: {oj}")
        want = p.json()["database"]["scan_count"] if p else len(scans)
        got = (oj.get("database") or {}).get("scan_count")
        if got != want:
            raise Fail(f"scan_count: ours {got}, expected {want}")
    R.case("GET /api/v1/health", health)

    if R.disk:
        bad = [c.name for c in sorted(R.disk.root.iterdir()) if c.is_dir() and not c.name.startswith(".")
               and c.name != "configs" and not (c / "timelapse.json").is_file() and c.name not in R.disk.scans]
        if bad:
            def p1():
                if R.py is not None:
                    raise Skip("the Python server refuses to start on this database (P1)")
                r = R.ours.get(API + "/scans")
                if r.status != 200 or not isinstance(r.json(), list):
                    raise Fail(f"ours: {r.short()}")
                got = r.json()
                if any(b in got for b in bad):
                    raise Fail(f"ours lists bad candidates {bad}: {got}")
                return f"skipped {bad}"
            R.case("P1: ours started and skips bad candidates", p1)


def listing_cases(R, scans):
    d = R.disk

    def ids_oracle(pred=None):
        return sorted(s for s in scans if pred is None or pred(d.scans[s]))

    def sorted_list(p_list):
        return sorted(p_list)

    def scans_case(name, query="", body=None, oracle=None, py_norm=sorted_list, py_claim=None, ours_expect=None):
        def fn():
            p, o = R.both(API + "/scans" + query, json_body=body)
            if p is not None and py_claim:
                ok, detail = py_claim(p)
                R.spec(f"{name}", ok, detail)
            if ours_expect is not None:
                if o is None:
                    return "python only"
                if R.rust:
                    return ours_expect(o)
                if p is not None and o.status != p.status:
                    raise Fail(f"self-test status {o.status} vs {p.status}")
                return
            note = R.compare_json(p, o, py_norm, oracle, name)
            if o is not None and R.rust and o.json() != sorted(o.json()):
                raise Fail(f"ours: not in ascending id order (P2): {o.json()}")
            return note
        R.case(f"scans {name}", fn)

    def md_get(s, *keys):
        v = d.scans[s].metadata
        for k in keys:
            v = v.get(k, {}) if isinstance(v, dict) else {}
        return v

    scans_case("all", oracle=lambda: ids_oracle())
    q1 = {"filterQuery": {"biologicalMaterial": {"biologicalMaterialId": "plant-1"}}}
    scans_case("filterQuery body exact", body=q1,
               oracle=lambda: ids_oracle(lambda s: s.metadata.get("biologicalMaterial", {}).get("biologicalMaterialId") == "plant-1"))
    plant1_fuzzy = lambda: ids_oracle(lambda s: str(s.metadata.get("biologicalMaterial", {}).get("biologicalMaterialId", "")).startswith("plant-1"))  # noqa: E731
    scans_case("filterQuery body fuzzy=true", query="?fuzzy=true", body=q1, oracle=plant1_fuzzy,
               py_claim=lambda p: (len(p.json()) == 4, f"spec §6.2 live: fuzzy plant-1 -> 4 scans; python gave {p.json()}"))

    # D5: fuzzy=false is true in Python, false for us.
    def fuzzy_false_norm(pj):
        return sorted(R.py_get(API + "/scans", json_body=q1).json())
    scans_case("filterQuery body fuzzy=false (D5)", query="?fuzzy=false", body=q1,
               py_norm=fuzzy_false_norm,
               oracle=lambda: ids_oracle(lambda s: s.metadata.get("biologicalMaterial", {}).get("biologicalMaterialId") == "plant-1"),
               py_claim=lambda p: (sorted(p.json()) == sorted(R.py_get(API + "/scans?fuzzy=true", json_body=q1).json()),
                                   f"spec D5: python fuzzy=false behaves as true; got {p.json()}"))
    # D4: filterQuery in the URL: ignored by Python, honoured by us.
    qs = "?filterQuery=" + urllib.parse.quote(json.dumps({"owner": "alice"}))
    scans_case("filterQuery in URL (D4)", query=qs,
               py_norm=lambda pj: sorted(R.py_get(API + "/scans", json_body={"filterQuery": {"owner": "alice"}}).json()),
               oracle=lambda: ids_oracle(lambda s: s.metadata.get("owner") == "alice"),
               py_claim=lambda p: (len(p.json()) == len(scans), f"spec §6.1 live: URL filterQuery ignored; python gave {p.json()}"))
    qs = "?query=" + urllib.parse.quote(json.dumps({"owner": "alice"}))
    scans_case("query alias in URL (§6.1)", query=qs,
               py_norm=lambda pj: sorted(R.py_get(API + "/scans", json_body={"filterQuery": {"owner": "alice"}}).json()),
               oracle=lambda: ids_oracle(lambda s: s.metadata.get("owner") == "alice"))
    scans_case("filterQuery owner", body={"filterQuery": {"owner": "alice"}},
               oracle=lambda: ids_oracle(lambda s: s.metadata.get("owner") == "alice"))
    scans_case("filterQuery list subset", body={"filterQuery": {"sharing": ["phenotyping"]}},
               oracle=lambda: ids_oracle(lambda s: "phenotyping" in (s.metadata.get("sharing") or [])))
    scans_case("filterQuery number by value", body={"filterQuery": {"timelapse": {"index": 1.0}}},
               oracle=lambda: ids_oracle(lambda s: isinstance(s.metadata.get("timelapse"), dict) and s.metadata["timelapse"].get("index") == 1))
    scans_case("filterQuery missing key matches {}", body={"filterQuery": {"no_such_key": {}}},
               oracle=lambda: ids_oracle())
    scans_case("filterQuery fuzzy regex anchored", query="?fuzzy=true",
               body={"filterQuery": {"study": {"growthFacility": {"name": "Lyon|virtual"}}}},
               oracle=lambda: ids_oracle(lambda s: bool(re.match("Lyon|virtual", str(md_get(s.id, "study", "growthFacility").get("name", "")) if isinstance(md_get(s.id, "study", "growthFacility"), dict) else ""))))
    scans_case("timelapse_id", query="?timelapse_id=tl_plant",
               oracle=lambda: ids_oracle(lambda s: s.tl == "tl_plant"))

    def sorted_tl():
        return [s for s in sorted((s for s in scans if d.scans[s].tl == "tl_plant"),
                                  key=lambda s: (str(d.scans[s].metadata["timelapse"].get("scheduled", "")),
                                                 int(d.scans[s].metadata["timelapse"].get("index", 0))))]
    scans_case("timelapse_id + sort=timelapse.scheduled", query="?timelapse_id=tl_plant&sort=timelapse.scheduled",
               py_norm=lambda pj: pj, oracle=sorted_tl)

    def bad_filter(o):
        R.our_error(o, 400, "invalid_input")
        return "400 invalid_input (python: 500)"
    scans_case("filterQuery not an object (§3.2 #5)", body={"filterQuery": "abc"},
               py_claim=lambda p: (p.status == 500, f"python: {p.short()}"), ours_expect=bad_filter)

    # scans/info
    def info_case(name, query="", body=None, pred=None):
        def fn():
            p, o = R.both(API + "/scans/info" + query, json_body=body)

            def norm(pj):
                return [norm_scan_info(x, d.scans.get(x["id"]) if d else None, None) for x in pj]

            def oracle():
                return [oracle_scan_info(d.scans[s]) for s in scans if pred is None or pred(d.scans[s])]
            note = R.compare_json(p, o, norm, oracle if d else None, name, sort_py=True)
            if o is not None and R.rust:
                ids = [x["id"] for x in o.json()]
                if ids != sorted(ids):
                    raise Fail(f"ours: not in ascending id order (P2): {ids}")
            return note
        R.case(f"scans/info {name}", fn)
    info_case("all")
    info_case("filterQuery body fuzzy", query="?fuzzy=true", body=q1,
              pred=lambda s: str(s.metadata.get("biologicalMaterial", {}).get("biologicalMaterialId", "")).startswith("plant-1"))
    info_case("timelapse_id", query="?timelapse_id=tl_plant", pred=lambda s: s.tl == "tl_plant")


def scan_cases(R, sid):
    d = R.disk
    ds = R.dscan(sid)
    tl = ds.tl if ds else None

    if ds and not ds.metadata_ok:
        def broken_md():
            if R.py is not None:
                raise Skip("broken fixture: for --ours-only runs")
            o = R.ours.get(f"{API}/scans/{sid}")
            if o.status != 200 or o.json().get("id") != sid:
                raise Fail(f"ours: {o.short()}")
            m = R.ours.get(f"{API}/scans/{sid}/metadata")
            if m.status == 200 and m.json() == {"metadata": {}}:
                return f"scan document error={o.json().get('error')}; metadata {{}} (as Python)"
            if m.status == 500:
                R.our_error(m, 500)
                return f"scan document error={o.json().get('error')}; metadata 500 (§1.9: no good copy)"
            raise Fail(f"ours metadata: {m.short()}")
        R.case(f"scans/{sid} with an unreadable metadata.json (§1.4, §1.9, §5.4)", broken_md)
        for fs_id, files in ds.filesets:
            fs_cases(R, ds, fs_id, files)
        return

    def scan_doc():
        p, o = R.both(f"{API}/scans/{sid}")
        md = R.py_get(f"{API}/scans/{sid}/metadata").json()["metadata"] if R.py else None
        return R.compare_json(p, o, lambda pj: norm_scan_info(pj, ds, md),
                              (lambda: oracle_scan_info(ds)) if ds else None, "scan")
    R.case(f"scans/{sid}", scan_doc)

    def metadata(key=None):
        def fn():
            q = f"?key={key}" if key else ""
            p, o = R.both(f"{API}/scans/{sid}/metadata{q}")
            if key:
                norm = lambda pj: {"metadata": pj["metadata"]} if not (key in ("object", "hardware", "acquisition_date") and pj["metadata"] == {} and ds and key not in ds.metadata) else {"metadata": {}}  # noqa: E731
                oracle = (lambda: {"metadata": ds.metadata.get(key, {})}) if ds else None
            else:
                norm = norm_metadata(ds)
                oracle = (lambda: {"metadata": ds.metadata}) if ds else None
            return R.compare_json(p, o, norm, oracle, "metadata")
        return fn
    R.case(f"scans/{sid}/metadata", metadata())
    for key in ("owner", "biologicalMaterial", "no_such_key"):
        R.case(f"scans/{sid}/metadata?key={key}", metadata(key))

    def filesets(query="", body=None, pred=None):
        def fn():
            p, o = R.both(f"{API}/scans/{sid}/filesets{query}", json_body=body)
            oracle = (lambda: {"filesets": [f for f in ds.fs_ids() if pred is None or pred(f)]}) if ds else None
            return R.compare_json(p, o, lambda pj: pj, oracle, "filesets")
        return fn
    R.case(f"scans/{sid}/filesets", filesets())
    R.case(f"scans/{sid}/filesets filterQuery body", filesets(
        body={"filterQuery": {"owner": "admin"}}, pred=lambda f: ds.fs_metadata(f).get("owner") == "admin"))

    if not ds:
        return
    for fs_id, files in ds.filesets:
        fs_cases(R, ds, fs_id, files)
    asset_cases(R, ds)


def fs_cases(R, ds, fs_id, files):
    sid = ds.id
    base = f"{API}/filesets/{sid}/{fs_id}"

    def fs_md(key=None):
        def fn():
            q = f"?key={key}" if key else ""
            p, o = R.both(base + "/metadata" + q)
            md = ds.fs_metadata(fs_id)
            return R.compare_json(p, o, lambda pj: pj, lambda: {"metadata": md.get(key, {}) if key else md}, "fs metadata")
        return fn
    R.case(f"filesets/{sid}/{fs_id}/metadata", fs_md())
    R.case(f"filesets/{sid}/{fs_id}/metadata?key=created_by", fs_md("created_by"))

    def fs_files():
        p, o = R.both(base + "/files")
        return R.compare_json(p, o, lambda pj: pj, lambda: {"files": [f for f, _ in files]}, "files")
    R.case(f"filesets/{sid}/{fs_id}/files", fs_files)

    if fs_id == "images":
        def fs_files_query(fuzzy):
            def fn():
                q = "?query=" + urllib.parse.quote(json.dumps({"channel": "rgb"})) + ("&fuzzy=true" if fuzzy else "")
                p, o = R.both(base + "/files" + q)
                if p is not None:
                    R.spec(f"files-query-500:{sid}{':fuzzy' if fuzzy else ''}", p.status == 500,
                           f"spec §3.2 #20 live: any query -> 500; python: {p.short()}")
                want = {"files": [f for f, _ in files if ds.file_metadata(fs_id, f).get("channel") == "rgb"]}
                if o is None:
                    return
                if not R.rust:
                    if o.status != p.status:
                        raise Fail(f"self-test: status {o.status} vs {p.status}")
                    return
                if o.status != 200:
                    raise Fail(f"ours: {o.short()}")
                diff = first_diff(want, o.json())
                if diff:
                    raise Fail(diff)
                return "python: 500 (documented §3.2 #20)" if p is not None else ""
            return fn
        R.case(f"filesets/{sid}/images/files?query=channel:rgb", fs_files_query(False))
        R.case(f"filesets/{sid}/images/files?query=channel:rgb&fuzzy", fs_files_query(True))

    for fid, name in files:
        file_cases(R, ds, fs_id, fid, name)


def file_cases(R, ds, fs_id, fid, name):
    sid = ds.id
    path = ds.path / fs_id / name
    raw = path.read_bytes()
    ext = Path(name).suffix.lower()

    def data():
        p, o = R.both(f"{API}/files/{sid}/{fs_id}/{fid}")
        if p is not None:
            if p.status != 200:
                raise Fail(f"python: {p.short()}")
            if p.body != raw:
                raise Fail("[oracle] python bytes differ from the fixture file")
        if o is None:
            return
        if o.status != 200:
            raise Fail(f"ours: {o.short()}")
        if o.body != raw:
            raise Fail(f"ours: bytes differ ({len(o.body)} vs {len(raw)} bytes)")
        ct_o = o.header("content-type")
        ct_p = p.header("content-type") if p else None
        if R.rust:
            want = OUR_TYPES.get(ext, "application/octet-stream")
            if ct_o != want:
                raise Fail(f"ours: Content-Type {ct_o!r}, §10.1 says {want!r} (python: {ct_p!r})")
            return f"type {ct_o}" + (f" (python {ct_p}, §10.1)" if ct_p and ct_p != ct_o else "")
        if ct_p and ct_o != ct_p:
            raise Fail(f"Content-Type {ct_o!r} vs python {ct_p!r}")
    R.case(f"files/{sid}/{fs_id}/{fid}", data)

    def fmd():
        p, o = R.both(f"{API}/files/{sid}/{fs_id}/{fid}/metadata")
        return R.compare_json(p, o, lambda pj: pj, lambda: {"metadata": ds.file_metadata(fs_id, fid)}, "file metadata")
    R.case(f"files/{sid}/{fs_id}/{fid}/metadata", fmd)

    if fs_id == "images":
        def fmd_key():
            p, o = R.both(f"{API}/files/{sid}/{fs_id}/{fid}/metadata?key=channel")
            return R.compare_json(p, o, lambda pj: pj,
                                  lambda: {"metadata": ds.file_metadata(fs_id, fid).get("channel", {})}, "file md key")
        R.case(f"files/{sid}/{fs_id}/{fid}/metadata?key=channel", fmd_key)

    # /assets/files/<scan>/<fs>/<file name>: D1/§3.3 (timelapse scans resolve on ours only).
    def asset_file():
        p, o = R.both(f"{API}/assets/files/{sid}/{fs_id}/{name}")
        notes = []
        if p is not None:
            if ds.tl:
                R.spec(f"assets-files-tl-404:{sid}/{fs_id}/{fid}", p.status == 404,
                       f"spec §5.2: timelapse scan paths 404 on Python; got {p.status}")
            elif p.status != 200 or p.body != raw:
                raise Fail(f"python: {p.short()}")
        if o is None:
            return
        if ds.tl and not R.rust:
            if o.status != p.status:
                raise Fail(f"self-test status {o.status} vs {p.status}")
            return
        if o.status != 200 or o.body != raw:
            raise Fail(f"ours: {o.short()}")
        if ds.tl and p is not None:
            notes.append(f"python {p.status} (timelapse scan, §3.3)")
        return "; ".join(notes)
    R.case(f"assets/files/{sid}/{fs_id}/{name}", asset_file)

    if fs_id == "images" and ext in IMAGE_EXT:
        image_cases(R, ds, fid, name, raw)


def image_cases(R, ds, fid, name, raw):
    sid = ds.id
    w, h = Image.open(io.BytesIO(raw)).size
    is_first = ds.files("images")[0][0] == fid
    sizes = [("", 150), ("?size=thumb", 150), ("?size=large", 1500), ("?size=orig", None)]
    if is_first:
        sizes += [("?size=64", 64), ("?size=0150", 150), ("?size=64&as_base64=true", 64),
                  ("?size=orig&as_base64=true", None)]

    for q, n in sizes:
        def fn(q=q, n=n):
            p, o = R.both(f"{API}/assets/image/{sid}/images/{fid}{q}")
            if n is not None:
                m = re.search(r"size=([^&]+)", q)
                R.previews.append((ds, "image", "images", fid, m.group(1) if m else "thumb"))
            b64 = "as_base64" in q
            want = (w, h) if n is None else thumb_size(w, h, n)
            notes = []

            def decode(r, who):
                if b64:
                    j = r.json()
                    if set(j) != {"image", "content-type"}:
                        raise Fail(f"{who}: base64 body keys {sorted(j)}")
                    if r.header("x-content-encoding") != "base64":
                        raise Fail(f"{who}: X-Content-Encoding {r.header('x-content-encoding')!r}")
                    body, ctype = base64.b64decode(j["image"], validate=True), j["content-type"]
                else:
                    body, ctype = r.body, r.header("content-type")
                    if r.header("x-content-encoding") != "binary":
                        raise Fail(f"{who}: X-Content-Encoding {r.header('x-content-encoding')!r}")
                fmt, size = image_info(body)
                return body, ctype, fmt, size

            if p is not None:
                if ds.tl:
                    R.spec(f"image-tl-500:{sid}/{fid}{q}", p.status == 500,
                           f"spec §7.1: webcache mkdir fails for timelapse scans; got {p.short()}")
                else:
                    if p.status != 200:
                        raise Fail(f"python: {p.short()}")
                    body, ctype, fmt, size = decode(p, "python")
                    if size != want:
                        raise Fail(f"[oracle] python size {size}, Pillow thumbnail rule says {want}")
                    if n is None and body != raw:
                        raise Fail("[oracle] python orig bytes differ from the file")
            if o is None:
                return
            if ds.tl and p is not None and not R.rust:
                if o.status != p.status:
                    raise Fail(f"self-test status {o.status} vs {p.status}")
                return
            if o.status != 200:
                raise Fail(f"ours: {o.short()}")
            body, ctype, fmt, size = decode(o, "ours")
            if size != want:
                raise Fail(f"ours: size {size}, expected {want} (source {w}x{h})")
            if n is None:
                if body != raw:
                    raise Fail("ours: orig bytes differ from the file")
                want_ct = OUR_TYPES[Path(name).suffix.lower()]
                if R.rust and ctype != want_ct:
                    raise Fail(f"ours: content type {ctype!r}, expected {want_ct!r}")
            else:
                if fmt != "JPEG" or ctype != "image/jpeg":
                    raise Fail(f"ours: preview is {fmt} / {ctype!r}, expected JPEG image/jpeg")
            if ds.tl and p is not None:
                notes.append(f"python {p.status} (§7.1 timelapse webcache)")
            return "; ".join(notes) or f"{size[0]}x{size[1]}"
        R.case(f"assets/image/{sid}/images/{fid}{q or ' (default thumb)'}", fn)

    if is_first:
        def bad_size():
            p, o = R.both(f"{API}/assets/image/{sid}/images/{fid}?size=bogus")
            if p is not None:
                R.spec(f"image-bad-size-500:{sid}", p.status == 500, f"python: {p.short()}")
            if o is None:
                return
            if R.rust:
                R.our_error(o, 400, "invalid_input")
                return "python 500, ours 400 (§3.2 #25)"
            if o.status != p.status:
                raise Fail(f"self-test status {o.status} vs {p.status}")
        R.case(f"assets/image/{sid}/images/{fid}?size=bogus", bad_size)


def asset_cases(R, ds):
    sid = ds.id

    # /assets/files on scan-level files (D1/§3.3)
    for rel in ["files.json", "metadata/metadata.json", "measures.json", "pipeline.toml"]:
        if not (ds.path / rel).is_file():
            continue

        def fn(rel=rel):
            raw = (ds.path / rel).read_bytes()
            p, o = R.both(f"{API}/assets/files/{sid}/{rel}")
            if p is not None and not ds.tl and (p.status != 200 or p.body != raw):
                raise Fail(f"python: {p.short()}")
            if o is None:
                return
            if ds.tl and not R.rust:
                return
            if o.status != 200 or o.body != raw:
                raise Fail(f"ours: {o.short()}")
            if ds.tl and p is not None:
                return f"python {p.status} (timelapse scan, §3.3)"
        R.case(f"assets/files/{sid}/{rel}", fn)
    if ds.tl:
        def nested():
            rel = "metadata/metadata.json"
            raw = (ds.path / rel).read_bytes()
            p, o = R.both(f"{API}/assets/files/{ds.tl}/{sid}/{rel}")
            if p is not None and (p.status != 200 or p.body != raw):
                raise Fail(f"python: {p.short()}")
            if o is not None and (o.status != 200 or o.body != raw):
                raise Fail(f"ours: {o.short()}")
        R.case(f"assets/files/{ds.tl}/{sid}/metadata/metadata.json", nested)

    # point clouds
    tf = ds.task_file("PointCloud")
    pcd_variants = [("", "preview"), ("?size=preview", "preview"), ("?size=orig", "orig"), ("?size=2", 2.0),
                    ("?coords=true", "preview-coords"), ("?size=orig&coords=true", "orig-coords"),
                    ("?size=nonsense", "preview")]
    if tf:
        src_raw = (ds.path / tf[0] / tf[2]).read_bytes()
        src = None
        for q, kind in pcd_variants:
            def fn(q=q, kind=kind):
                nonlocal src
                if src is None:
                    src = parse_ply(src_raw)
                p, o = R.both(f"{API}/assets/pointcloud/{sid}{q}")
                if kind not in ("orig", "orig-coords"):
                    m = re.search(r"size=([^&]+)", q)
                    R.previews.append((ds, "pointcloud", tf[0], "PointCloud", m.group(1) if m else "preview"))
                return check_pointcloud(R, ds, p, o, kind, src, src_raw)
            R.case(f"assets/pointcloud/{sid}{q or ' (default preview)'}", fn)
    gt = ds.task_file("PointCloudGroundTruth")

    def gt_case():
        p, o = R.both(f"{API}/assets/pointcloud/{sid}?type=gt&size=orig")
        if gt is None:
            if p is not None and p.status != 404:
                raise Fail(f"python: {p.short()}")
            if o is not None:
                R.our_error(o, 404) if R.rust else None
            return "no ground truth: 404"
        raw = (ds.path / gt[0] / gt[2]).read_bytes()
        if p is not None and not ds.tl and (p.status != 200 or p.body != raw):
            raise Fail(f"python: {p.short()}")
        if o is not None and (o.status != 200 or o.body != raw):
            raise Fail(f"ours: {o.short()}")
    R.case(f"assets/pointcloud/{sid}?type=gt&size=orig", gt_case)
    if not tf:
        def no_pcd():
            p, o = R.both(f"{API}/assets/pointcloud/{sid}")
            if p is not None and p.status != 404:
                raise Fail(f"python: {p.short()}")
            if o is not None:
                R.our_error(o, 404, "not_found") if R.rust else None
        R.case(f"assets/pointcloud/{sid} (no PointCloud task: 404)", no_pcd)

    # mesh
    mf = ds.task_file("TriangleMesh")
    for q in ("", "?size=preview", "?coords=true"):
        def mesh(q=q):
            p, o = R.both(f"{API}/assets/mesh/{sid}{q}")
            if mf is None:
                if p is not None and p.status != 404:
                    raise Fail(f"python: {p.short()}")
                if o is not None and R.rust:
                    R.our_error(o, 404, "not_found")
                return "no mesh: 404"
            raw = (ds.path / mf[0] / mf[2]).read_bytes()
            if "coords" not in q:
                if p is not None and (p.status != 200 or p.body != raw):
                    raise Fail(f"python: {p.short()}")
                if o is not None:
                    if o.status != 200 or o.body != raw:
                        raise Fail(f"ours: {o.short()}")
                    if R.rust and o.header("content-type") != "application/octet-stream":
                        raise Fail(f"ours: content type {o.header('content-type')}")
                return
            src = parse_ply(raw)
            exp = {"vertices": src["points"], "triangles": fan(src["faces"])}

            def check(r, who):
                if r.status != 200:
                    raise Fail(f"{who}: {r.short()}")
                j = r.json()
                if set(j) != {"vertices", "triangles"}:
                    raise Fail(f"{who}: keys {sorted(j)}")
                v = np.asarray(j["vertices"], dtype=np.float64)
                if v.shape != exp["vertices"].shape or not np.allclose(v, exp["vertices"], rtol=1e-6, atol=1e-6):
                    raise Fail(f"{who}: vertices differ ({v.shape} vs {exp['vertices'].shape})")
                if j["triangles"] != exp["triangles"]:
                    raise Fail(f"{who}: triangles differ from fan triangulation ({len(j['triangles'])} vs {len(exp['triangles'])})")
            if p is not None:
                try:
                    check(p, "python")
                except Fail as e:
                    raise Fail(f"[oracle] {e}")
            if o is not None:
                check(o, "ours")
            return f"{len(exp['vertices'])} vertices, {len(exp['triangles'])} triangles"
        R.case(f"assets/mesh/{sid}{q or ' (default)'}", mesh)

    # skeleton
    sf = ds.task_file("CurveSkeleton")

    def skeleton():
        p, o = R.both(f"{API}/assets/skeleton/{sid}")
        if sf is None:
            if p is not None and p.status != 404:
                raise Fail(f"python: {p.short()}")
            if o is not None and R.rust:
                R.our_error(o, 404, "not_found")
            return "no skeleton: 404"
        exp = json.loads((ds.path / sf[0] / sf[2]).read_text())
        return R.compare_json(p, o, lambda pj: pj, lambda: exp, "skeleton")
    R.case(f"assets/skeleton/{sid}", skeleton)

    # sequence
    af = ds.task_file("AnglesAndInternodes")
    measures = read_json_or(ds.path / "measures.json", None)
    for t in (None, "all", "angles", "internodes", "fruit_points", "manual_angles", "manual_internodes", "bogus"):
        def seq(t=t):
            q = f"?type={t}" if t else ""
            p, o = R.both(f"{API}/assets/sequence/{sid}{q}")
            if af is None:
                if p is not None and p.status != 404:
                    raise Fail(f"python: {p.short()}")
                if o is not None and R.rust:
                    R.our_error(o, 404, "not_found")
                return "no AnglesAndInternodes: 404"
            full = json.loads((ds.path / af[0] / af[2]).read_text())
            if isinstance(measures, dict):
                if "angles" in measures:
                    full["manual_angles"] = measures["angles"]
                if "internodes" in measures:
                    full["manual_internodes"] = measures["internodes"]
            known = ("angles", "internodes", "fruit_points", "manual_angles", "manual_internodes")
            if t in known and t not in full:
                # Python: KeyError -> 500; ours: 404 (§7.5)
                if p is not None:
                    R.spec(f"sequence-missing-key-500:{sid}:{t}", p.status == 500, f"python: {p.short()}")
                if o is not None:
                    if R.rust:
                        R.our_error(o, 404, "not_found")
                        return "python 500, ours 404 (§7.5)"
                    if o.status != p.status:
                        raise Fail(f"self-test {o.status} vs {p.status}")
                return
            exp = full[t] if t in known else full
            return R.compare_json(p, o, lambda pj: pj, lambda: exp, "sequence")
        R.case(f"assets/sequence/{sid}{'?type=' + t if t else ' (default all)'}", seq)

    # archive
    def archive():
        p, o = R.both(f"{API}/assets/archive/{sid}")
        exp = {}
        for f in sorted(ds.path.rglob("*")):
            rel = f.relative_to(ds.path)
            if not f.is_file() or any(part.startswith(".") for part in rel.parts) or rel.parts[0] == "webcache":
                continue
            exp[str(rel)] = zlib.crc32(f.read_bytes())
        if p is not None:
            if p.status != 200:
                raise Fail(f"python: {p.short()}")
            pm = zip_members(p.body)
            if pm != exp:
                raise Fail(f"[oracle] python members differ: only python {sorted(set(pm) - set(exp))[:5]}, "
                           f"only disk {sorted(set(exp) - set(pm))[:5]}")
        if o is None:
            return
        if o.status != 200:
            raise Fail(f"ours: {o.short()}")
        if o.header("content-type") != "application/zip":
            raise Fail(f"ours: content type {o.header('content-type')}")
        om = zip_members(o.body)
        if om != exp:
            diff = [k for k in set(om) | set(exp) if om.get(k) != exp.get(k)]
            raise Fail(f"ours: members/CRCs differ: {sorted(diff)[:6]}")
        with zipfile.ZipFile(io.BytesIO(o.body)) as z:
            bad = z.testzip()
            if bad:
                raise Fail(f"ours: CRC error in {bad}")
        return f"{len(om)} members"
    R.case(f"assets/archive/{sid}", archive)


def check_pointcloud(R, ds, p, o, kind, src, src_raw):
    coords = isinstance(kind, str) and kind.endswith("-coords")
    base = kind.replace("-coords", "") if isinstance(kind, str) else kind
    v = 1.8 if base == "preview" else (base if isinstance(base, float) else None)
    exp_n = src["n"] if v is None else voxel_count(src["points"], v)
    notes = []
    if p is not None:
        if ds.tl:
            # Python builds the paths as <root>/<scan>/... (§7.1): previews 500 (webcache mkdir),
            # orig 404 or, with coords=true, 200 with 0 points (open3d reads a missing file).
            if base != "orig":
                R.spec(f"pointcloud-tl-500:{ds.id}:{kind}", p.status == 500,
                       f"spec §7.1: webcache mkdir fails for timelapse scans; python: {p.short()}")
            notes.append(f"python {p.status}{' ' + str(len(p.json().get('coordinates', []))) + ' points' if coords and p.status == 200 else ''} (timelapse scan)")
            p = None
    py_n = None
    if p is not None:
        if p.status != 200:
            raise Fail(f"python: {p.short()}")
        if coords:
            pts = np.asarray(p.json()["coordinates"], dtype=np.float64)
            py_n = len(pts)
        elif base == "orig":
            if p.body != src_raw:
                raise Fail("[oracle] python orig bytes differ from the file")
            py_n = src["n"]
        else:
            pp = parse_ply(p.body)
            py_n = pp["n"]
            if pp["format"] != "binary_little_endian":
                R.spec(f"pointcloud-format:{ds.id}", False, f"python preview format {pp['format']}")
        if py_n != exp_n:
            raise Fail(f"[oracle] python {py_n} points, numpy voxel oracle {exp_n}")
    if o is None:
        return f"{exp_n} points"
    if ds.tl and not R.rust:
        return "; ".join(notes)
    if o.status != 200:
        raise Fail(f"ours: {o.short()}")
    if coords:
        j = o.json()
        if list(j) != ["coordinates"]:
            raise Fail(f"ours: keys {list(j)}")
        pts = np.asarray(j["coordinates"], dtype=np.float64)
        got_n = len(pts)
        if base == "orig" and (pts.shape != src["points"].shape or not np.allclose(pts, src["points"], rtol=1e-6, atol=1e-5)):
            raise Fail("ours: orig coordinates differ from the file")
    elif base == "orig":
        if o.body != src_raw:
            raise Fail("ours: orig bytes differ from the file")
        got_n = src["n"]
    else:
        op = parse_ply(o.body)
        got_n = op["n"]
        if R.rust:
            if op["format"] != "binary_little_endian":
                raise Fail(f"ours: preview format {op['format']} (§7.3: binary_little_endian)")
            names = [n for n, _ in op["props"]]
            types = dict(op["props"])
            if names[:3] != ["x", "y", "z"] or any(types[c] not in ("double", "float64") for c in "xyz"):
                raise Fail(f"ours: preview vertex properties {op['props']} (§7.3: double x y z first)")
            src_names = [n for n, _ in src["props"]]
            if "red" in src_names and not all(types.get(c) in ("uchar", "uint8") for c in ("red", "green", "blue")):
                raise Fail(f"ours: colours missing or not uchar: {op['props']}")
            if "nx" in src_names and not all(types.get(c) in ("double", "float64") for c in ("nx", "ny", "nz")):
                raise Fail(f"ours: normals missing or not double: {op['props']}")
            if v is not None and got_n:
                lo, hi = op["points"].min(0), op["points"].max(0)
                slo, shi = src["points"].min(0), src["points"].max(0)
                tol = 1e-3  # an ASCII source is read as f32 by plyfile, as f64 by open3d and ours
                if np.any(lo < slo - tol) or np.any(hi > shi + tol) or np.any(lo > slo + v) or np.any(hi < shi - v):
                    raise Fail(f"ours: bounds {lo.round(3)}..{hi.round(3)} vs source {slo.round(3)}..{shi.round(3)} (voxel {v})")
    ref_n = py_n if py_n is not None else exp_n
    if v is None:
        if got_n != ref_n:
            raise Fail(f"ours: {got_n} points, expected {ref_n}")
        return f"{got_n} points"
    dev = abs(got_n - ref_n) / max(ref_n, 1)
    if dev > 0.01:
        raise Fail(f"ours: {got_n} points vs {ref_n} from open3d voxel_down_sample({v}) ({dev:.2%} > 1%)")
    return f"{got_n} points vs {ref_n} ({'exact' if got_n == ref_n else f'{dev:.2%}'})"


def timelapse_cases(R):
    d = R.disk
    tls = sorted(d.timelapses) if d else None

    def tl_list():
        p, o = R.both(API + "/timelapses")
        return R.compare_json(p, o, lambda pj: pj, (lambda: tls) if d else None, "timelapses")
    R.case("timelapses", tl_list)
    for tl in (tls or []):
        marker = json.loads((d.timelapses[tl] / "timelapse.json").read_text())
        members = [s for s in d.scans.values() if s.tl == tl]

        def tl_get(tl=tl, marker=marker, members=members):
            p, o = R.both(f"{API}/timelapses/{tl}")
            exp = {"id": tl, "created_at": marker.get("created_at"), "owner": marker.get("owner"),
                   "scans": marker.get("scans", []), "metadata": marker.get("metadata", {}),
                   "counts": {"scans": len(members)}}
            return R.compare_json(p, o, lambda pj: pj, lambda: exp, "timelapse")
        R.case(f"timelapses/{tl}", tl_get)

        def tl_scans(tl=tl, members=members, q=""):
            p, o = R.both(f"{API}/timelapses/{tl}/scans{q}")
            exp = [s.id for s in sorted(members, key=lambda s: (str(s.metadata["timelapse"].get("scheduled") or ""),
                                                                 int(s.metadata["timelapse"].get("index") or 0)))]
            return R.compare_json(p, o, lambda pj: pj, lambda: exp, "timelapse scans")
        R.case(f"timelapses/{tl}/scans", tl_scans)
        R.case(f"timelapses/{tl}/scans?fuzzy=true", lambda tl=tl, members=members: tl_scans(tl, members, "?fuzzy=true"))

    def tl_unknown_scans():
        p, o = R.both(f"{API}/timelapses/no_such_tl/scans")
        return R.compare_json(p, o, lambda pj: pj, lambda: [], "unknown tl scans")
    R.case("timelapses/no_such_tl/scans -> []", tl_unknown_scans)


def error_cases(R, scans):
    """D7 (404 on unknown ids everywhere), §0 ids, D2 bad token, D1 root files."""
    d = R.disk
    s0 = "real_plant_analyzed" if "real_plant_analyzed" in scans else scans[0]
    pcd_fs = d.scans[s0].tasks().get("PointCloud") if d else "PointCloud_1_0_1_0_False_4ce2e46446"
    unknown = [
        (f"/scans/nope", 404, "spec"), (f"/scans/nope/metadata", 404, None), (f"/scans/nope/filesets", 404, None),
        (f"/filesets/nope/images/metadata", 404, None), (f"/filesets/{s0}/nope/metadata", 404, None),
        (f"/filesets/{s0}/nope/files", 404, None), (f"/files/{s0}/images/nope", 404, None),
        (f"/files/nope/images/00000_rgb", 404, None),
        (f"/files/{s0}/images/nope/metadata", 404, None), (f"/files/{s0}/nope/x/metadata", 404, None),
        (f"/assets/image/{s0}/images/nope", 404, None), (f"/assets/image/{s0}/nope/00000_rgb", 404, None),
        (f"/assets/image/nope/images/00000_rgb", 500, "D7: python 500 with the webcache path"),
        (f"/assets/pointcloud/nope", 400, "D7"), (f"/assets/mesh/nope", 400, "D7"),
        (f"/assets/skeleton/nope", 400, "D7"), (f"/assets/sequence/nope", 400, "D7"),
        (f"/assets/archive/nope", 404, None), (f"/timelapses/nope", 404, None),
        (f"/assets/files/{s0}/nope.json", 404, None), (f"/assets/files/{s0}/images", 404, None),
        (f"/assets/files/nope/files.json", 404, None),
        (f"/files/{s0}/{pcd_fs}/PointCloud.ply", 404, "file ids have no extension"),
    ]
    for path, py_status, why in unknown:
        def fn(path=path, py_status=py_status, why=why):
            p, o = R.both(API + path)
            if p is not None:
                R.spec(f"status:{path}", p.status == py_status, f"spec says python {py_status}; got {p.short()}")
            if o is None:
                return
            if R.rust:
                R.our_error(o, 404, "not_found")
                return f"python {p.status}" if p is not None and p.status != 404 else ""
            if p is not None and o.status != p.status:
                raise Fail(f"self-test {o.status} vs {p.status}")
        R.case(f"unknown id GET {path} -> 404 (D7)", fn)

    # Ids (§0, §1.8): bad characters -> 400 on both; a leading dot -> 400 ours, 404 python.
    for path, py_status in ((f"/scans/bad$id", 400), (f"/scans/a%20b/metadata", 400), (f"/scans/%20{s0}%20", 200),
                            (f"/scans/.hidden", 404), (f"/scans/..", None), (f"/assets/archive/bad$id", 400),
                            (f"/files/{s0}/images/%2E%2E", None)):
        def fn(path=path, py_status=py_status):
            p, o = R.both(API + path)
            if p is not None and py_status is not None:
                R.spec(f"id-status:{path}", p.status == py_status, f"python: {p.short()}")
            if o is None:
                return
            if R.rust:
                if o.status not in (400, 404):
                    raise Fail(f"ours: {o.short()}")
                R.our_error(o, 400 if o.status == 400 else 404)
                want = 400 if path != "/scans/.." else (400, 404)
                if (o.status not in want) if isinstance(want, tuple) else o.status != want:
                    raise Fail(f"ours: expected {want} (LOOKUP_ID, §0), got {o.status}")
                return f"python {p.status}" if p is not None else ""
            if p is not None and o.status != p.status:
                raise Fail(f"self-test {o.status} vs {p.status}")
        R.case(f"invalid id GET {path}", fn)

    # D1: root files are never served by ours.
    for rel in ("users.json", "groups.json", "romidb", ".locks/lock_manager.log", "passwords.json",
                "configs/geom_pipe_real.toml", f"{s0}/../users.json", f"{s0}/%2E%2E/users.json",
                "%2Fetc%2Fpasswd"):
        if d and not (d.root / urllib.parse.unquote(rel).replace(f"{s0}/../", "")).exists() and "etc" not in rel and ".." not in rel and "%2E" not in rel:
            continue

        def fn(rel=rel):
            p, o = R.both(f"{API}/assets/files/{rel}")
            if p is not None and rel in ("users.json", "groups.json", "romidb", ".locks/lock_manager.log"):
                R.spec(f"D1-python-serves:{rel}", p.status == 200, f"python: {p.status}")
            if o is None:
                return
            if R.rust:
                if o.status != 404:
                    raise Fail(f"ours: {o.status} (D1: only files inside a scan directory)")
                R.our_error(o, 404)
                return f"python {p.status}" if p is not None else ""
            if p is not None and o.status != p.status:
                raise Fail(f"self-test {o.status} vs {p.status}")
        R.case(f"D1 GET /api/v1/assets/files/{rel}", fn)

    # D3: our 404 message names no path (checked by our_error); the python one does (spec claim).
    def py_path_leak():
        if R.py is None:
            raise Skip("no python server")
        p = R.py.get(API + "/scans/nope")
        R.spec("python-404-leaks-db-path", "database '" in p.body.decode(errors="replace"), f"python: {p.short()}")
    R.case("python error texts embed the DB path (D3 claim)", py_path_leak)

    # D2: a bad token -> 401 invalid_token everywhere on ours.
    bad = {"Authorization": "Bearer abc.def.ghi"}
    claims = {"/scans": 200, "/timelapses": 200, "/timelapses/tl_plant/scans": 200, f"/assets/files/{s0}/files.json": 200,
              "/scans/info": 404, f"/scans/{s0}": 404, f"/scans/{s0}/metadata": 500,
              f"/scans/{s0}/filesets": 500, f"/filesets/{s0}/images/files": 500, f"/files/{s0}/images/00000_rgb": 500,
              f"/assets/archive/{s0}": 500, f"/assets/skeleton/{s0}": 500, f"/assets/sequence/{s0}": 500,
              f"/assets/pointcloud/{s0}": 500, f"/assets/mesh/{s0}": 500, f"/timelapses/tl_plant": 500}
    for path, py_status in claims.items():
        def fn(path=path, py_status=py_status):
            p = R.py.get(API + path, headers=bad) if R.py else None
            o = R.ours.get(API + path, headers=bad) if R.ours else None
            if p is not None:
                R.spec(f"bad-token:{path}", p.status == py_status, f"spec §2.1 says {py_status}; python: {p.short()}")
            if o is None:
                return
            if R.rust:
                R.our_error(o, 401, "invalid_token")
                return f"python {p.status}" if p is not None else ""
            if p is not None and o.status != p.status:
                raise Fail(f"self-test {o.status} vs {p.status}")
        R.case(f"bad token GET {path} -> 401 (D2)", fn)

    # §10.1 HTTP details on one file.
    if d:
        ds = d.scans[s0]
        fid, name = ds.files("images")[0]
        raw = ds.file_path("images", fid).read_bytes()
        path = f"{API}/files/{s0}/images/{fid}"

        def headers():
            p, o = R.both(path)
            for r, who in ((p, "python"), (o, "ours")):
                if r is None:
                    continue
                cd = r.header("content-disposition") or ""
                if not cd.startswith("inline") or name not in cd:
                    raise Fail(f"{who}: Content-Disposition {cd!r}")
                if r.header("accept-ranges") != "bytes":
                    raise Fail(f"{who}: Accept-Ranges {r.header('accept-ranges')!r}")
                if "no-cache" not in (r.header("cache-control") or ""):
                    raise Fail(f"{who}: Cache-Control {r.header('cache-control')!r}")
                if not r.header("etag") or not r.header("last-modified"):
                    raise Fail(f"{who}: no ETag/Last-Modified")
        R.case(f"§10.1 headers GET {path}", headers)

        def ranged():
            p, o = R.both(path, headers={"Range": "bytes=0-9"})
            for r, who in ((p, "python"), (o, "ours")):
                if r is not None and (r.status != 206 or r.body != raw[:10]):
                    raise Fail(f"{who}: {r.status} {len(r.body)} bytes")
        R.case(f"§10.1 Range GET {path}", ranged)

        def conditional():
            for srv, who in ((R.py, "python"), (R.ours, "ours")):
                if srv is None:
                    continue
                first = srv.get(path)
                etag = first.header("etag")
                if first.status != 200 or not etag:
                    raise Fail(f"{who}: {first.status}, ETag {etag!r}")
                r = srv.get(path, headers={"If-None-Match": etag})
                if r.status != 304:
                    raise Fail(f"{who}: If-None-Match -> {r.status}")
        R.case(f"§10.1 If-None-Match GET {path}", conditional)

        def head():
            for srv, who in ((R.py, "python"), (R.ours, "ours")):
                if srv is None:
                    continue
                r = srv.request("HEAD", path)
                if r.status != 200 or r.body:
                    raise Fail(f"{who}: HEAD -> {r.status}, {len(r.body)} body bytes")
        R.case(f"§10.1 HEAD {path}", head)

    def not_allowed():
        for srv, who in ((R.py, "python"), (R.ours, "ours")):
            if srv is None:
                continue
            r = srv.request("GET", f"{API}/filesets/{s0}/images")
            if r.status != 405:
                raise Fail(f"{who}: GET fileset -> {r.status}")
            if who == "ours" and R.rust:
                R.our_error(r, 405, "method_not_allowed")
    R.case("GET /api/v1/filesets/<s>/<fs> -> 405", not_allowed)


def uri_walk_cases(R, scans):
    """§5.2: every URI of our scan documents resolves to 200 (current generation)."""
    def walk(srv, who):
        r = srv.get(API + "/scans/info")
        if r.status != 200 or not isinstance(r.json(), list):
            raise Fail(f"{who}: /scans/info: {r.short()}")
        docs = r.json()
        bad = []
        n = 0
        for doc in docs:
            for key, uri in all_uris(doc):
                n += 1
                path = uri[len(srv.prefix):] if srv.prefix and uri.startswith(srv.prefix) else uri
                r = srv.request("HEAD" if "archive" in key else "GET", path)
                if r.status != 200:
                    bad.append((doc["id"], key, r.status))
        return n, bad

    def ours_walk():
        if R.ours is None:
            raise Skip("no ours")
        if not R.rust:
            raise Skip("ours is the Python server (documented D6 failures expected)")
        n, bad = walk(R.ours, "ours")
        if bad:
            raise Fail(f"{len(bad)}/{n} URIs do not answer 200: {bad[:6]}")
        return f"{n} URIs"
    R.case("URI walk: every URI of /api/v1/scans/info resolves (ours)", ours_walk)

    def py_walk():
        if R.py is None:
            raise Skip("no python server")
        n, bad = walk(R.py, "python")
        d = R.disk
        undocumented = [b for b in bad if not (b[1].startswith("filesUri.") or (d and d.scans[b[0]].tl))]
        R.spec("python-uri-walk", not undocumented,
               f"URIs failing on Python that the spec does not document (D6 covers filesUri.* and timelapse scans): {undocumented[:6]}")
        by = {}
        for sid, key, st in bad:
            k = f"{'timelapse-scan ' if d and d.scans[sid].tl else ''}{key.split('.')[0] if key.startswith('filesUri') else key}={st}"
            by[k] = by.get(k, 0) + 1
        return f"python: {len(bad)}/{n} URIs fail, all documented (D6): " + ", ".join(f"{k} x{v}" for k, v in sorted(by.items()))
    R.case("URI walk on python: failures are exactly the documented ones (D6)", py_walk)


def cache_key_text(kind, size):
    """The size text of the webcache key (§7.1): image sizes as int() text, point-cloud sizes as float repr."""
    if kind == "image":
        if size in ("thumb", "large"):
            return size
        try:
            return str(int(size))
        except ValueError:
            return None
    if size in ("preview", "orig"):
        return "preview" if size == "preview" else None
    try:
        return repr(float(size))
    except ValueError:
        return "preview"  # any other string -> preview (§7.3)


def webcache_cases(R):
    """§7.1: cache files are named sha1('<kind>|<scan>|<fs>|<file>|<size>') so caches are shared both ways."""
    vec = {"image|arabidopsis_B2|images|00000_rgb|thumb": "31d49ae2974ec50a0e02e3757197fe287b233971",
           "image|arabidopsis_B2|images|00001_rgb|large": "3c2c4f39084221a1ee432c166ef52877b3fc0074",
           "image|arabidopsis_B2|images|00001_rgb|64": "a59e1238637180abecfdfb75db2679bf89e09251",
           "pointcloud|arabidopsis_B2|PointCloud_1_0_1_0_False_4ce2e46446|PointCloud|preview":
               "b365d3074bd97f3fbb68a62adc71916948501548",
           "pointcloud|arabidopsis_B2|PointCloud_1_0_1_0_False_4ce2e46446|PointCloud|2.0":
               "e95d429a2be9d569aea693306387884e457534db"}

    def vectors():
        bad = {k: hashlib.sha1(k.encode()).hexdigest() for k, v in vec.items() if hashlib.sha1(k.encode()).hexdigest() != v}
        if bad:
            raise Fail(f"spec §7.1 test vectors do not hash as stated: {bad}")
    R.case("§7.1 webcache test vectors", vectors)

    for label, db, is_py in (("python", R.args.python_db, True), ("ours", R.args.ours_db, False)):
        if not db or (is_py and R.py is None) or (not is_py and (R.ours is None or not R.rust)):
            continue

        def fn(db=Path(db), is_py=is_py, label=label):
            missing, n = [], 0
            for ds, kind, fs, fid, size in R.previews:
                if is_py and ds.tl:
                    continue  # Python cannot cache for timelapse scans (§7.1)
                text = cache_key_text(kind, size)
                if text is None:
                    continue
                n += 1
                name = hashlib.sha1(f"{kind}|{ds.id}|{fs}|{fid}|{text}".encode()).hexdigest() + (".jpeg" if kind == "image" else ".ply")
                scan_dir = db / ds.path.relative_to(R.disk.root)
                if not (scan_dir / "webcache" / name).is_file():
                    missing.append(f"{ds.id}/webcache/{name} ({kind} {fid} {size}->{text})")
            if missing:
                msg = f"{len(missing)}/{n} expected cache files missing: {missing[:4]}"
                if is_py:
                    R.spec("webcache-names-python", False, msg)
                    return
                raise Fail(msg + " (§7.1: identical names)")
            return f"{n} cache files where expected"
        R.case(f"§7.1 webcache file names ({label})", fn)


def poison_case(R):
    """Last: §3.2 #4 claims Python answers 200 to /refresh?scan_id=<unknown> and then fails /scans/info."""
    def fn():
        if R.py is None:
            raise Skip("no python server")
        r = R.py.get(f"{API}/refresh?scan_id=no_such_scan")
        lst = R.py.get(f"{API}/scans").json()
        info = R.py.get(f"{API}/scans/info")
        R.spec("refresh-unknown-poisons-python", r.status == 200 and "no_such_scan" in lst and info.status == 404,
               f"refresh {r.status}; /scans lists it: {'no_such_scan' in lst}; /scans/info {info.status}")
        R.py.get(f"{API}/refresh")  # a full refresh repairs the index
        return "python index poisoned then repaired by a full /refresh"
    R.case("python /refresh?scan_id=<unknown> poisons the index (§3.2 #4 claim; last case)", fn)


def refresh_cases(R, scans):
    s0 = scans[0]

    def full():
        p, o = R.both(API + "/refresh")
        if p is not None and p.status != 200:
            raise Fail(f"python: {p.short()}")
        if o is None:
            return
        if o.status != 200:
            raise Fail(f"ours: {o.short()}")
        m = o.json().get("message", "")
        if not re.fullmatch(r"Successfully reloaded entire database with \d+ scans\.", m):
            raise Fail(f"ours: message {m!r}")
        if p is not None and R.rust and m != p.json()["message"]:
            raise Fail(f"ours {m!r} vs python {p.json()['message']!r}")
    R.case("refresh", full)

    def one():
        p, o = R.both(f"{API}/refresh?scan_id={s0}")
        exp = {"message": f"Successfully reloaded scan '{s0}'."}
        return R.compare_json(p, o, lambda pj: pj, lambda: exp, "refresh one")
    R.case(f"refresh?scan_id={s0}", one)

    def unknown():
        # Not sent to Python: it answers 200 and poisons its index (§3.2 #4).
        if R.ours is None:
            raise Skip("no ours")
        if not R.rust:
            raise Skip("would poison the Python index (§3.2 #4)")
        o = R.ours.get(f"{API}/refresh?scan_id=no_such_scan")
        R.our_error(o, 404, "not_found")
        o2 = R.ours.get(API + "/scans/info")
        if o2.status != 200:
            raise Fail(f"ours: /scans/info after it: {o2.short()}")
        return "not sent to python (it would answer 200 and poison its index)"
    R.case("refresh?scan_id=no_such_scan -> 404, index intact (D7)", unknown)


# --------------------------------------------------------------------------- viewer generation (ours only)

def viewer_cases(R, scans):
    d = R.disk
    if R.ours is None or not R.rust:
        R.record("SKIP", "viewer routes", "need ours (Python 0.17 does not serve the 0.14 routes)")
        return
    o = R.ours

    def v_scans_info():
        r = o.get("/scans_info")
        if r.status != 200:
            raise Fail(r.short())
        docs = r.json()
        ids = [x["id"] for x in docs]
        if ids != sorted(scans):
            raise Fail(f"ids {ids}")
        for doc in docs:
            cur = o.get(f"{API}/scans/{doc['id']}").json()
            exp = to_viewer_doc(cur, d.scans.get(doc["id"]) if d else None)
            diff = first_diff(exp, doc)
            if diff:
                raise Fail(f"{doc['id']}: {diff}")
        return f"{len(docs)} documents = current documents with 0.14 URIs"
    R.case("viewer /scans_info", v_scans_info)

    for sid in scans:
        def v_scan(sid=sid):
            r = o.get(f"/scans/{sid}")
            if r.status != 200:
                raise Fail(r.short())
            doc = r.json()
            for k in ("mesh", "pointCloud", "pcdGroundTruth"):
                if not isinstance((doc.get("filesUri") or {}).get(k), str):
                    raise Fail(f"filesUri.{k} must always be a string (§13.2): {doc.get('filesUri')}")
            for k in ("skeleton", "angles"):
                if not isinstance(doc.get(k), str):
                    raise Fail(f"{k} must always be a string (§13.2)")
            if not isinstance((doc.get("camera") or {}).get("poses"), list):
                raise Fail("camera.poses missing (P13)")
            if doc.get("workspace") == {}:
                raise Fail("workspace {} (P14)")
            bad, n = [], 0
            ds = d.scans[sid] if d else None
            for key, uri in all_uris(doc):
                n += 1
                if uri.startswith("/api/"):
                    raise Fail(f"{key} is a current-generation URI: {uri}")
                r2 = o.request("HEAD" if "archive" in key else "GET", uri)
                optional = key in ("filesUri.mesh", "filesUri.pointCloud", "filesUri.pcdGroundTruth", "skeleton", "angles")
                exists = True
                if ds and optional:
                    task = {"filesUri.mesh": "TriangleMesh", "filesUri.pointCloud": "PointCloud",
                            "filesUri.pcdGroundTruth": "PointCloudGroundTruth", "skeleton": "CurveSkeleton",
                            "angles": "AnglesAndInternodes"}[key]
                    exists = ds.task_file(task) is not None
                want = 200 if exists else 404
                if r2.status != want:
                    bad.append((key, uri, r2.status, want))
            if bad:
                raise Fail(f"{len(bad)}/{n} URIs wrong: {bad[:4]}")
            return f"{n} URIs resolve"
        R.case(f"viewer /scans/{sid} (+ every URI)", v_scan)

    s0 = "real_plant_analyzed" if "real_plant_analyzed" in scans else scans[0]
    ds = d.scans[s0] if d else None
    if ds:
        fid, name = ds.files("images")[0]
        raw = ds.file_path("images", fid).read_bytes()
        w, h = Image.open(io.BytesIO(raw)).size
        for path, check in [
            (f"/image/{s0}/images/{fid}?size=thumb", ("img", thumb_size(w, h, 150))),
            (f"/image/{s0}/images/{name}?size=thumb", ("img", thumb_size(w, h, 150))),
            (f"/image/{s0}/images/{name}?size=orig", ("raw", raw)),
            (f"/image/{s0}/images/{fid}", ("img", thumb_size(w, h, 150))),
            (f"/files/{s0}/images/{name}", ("raw", raw)),
            (f"/files/{s0}/files.json", ("raw", (ds.path / "files.json").read_bytes())),
            (f"/files/users.json", ("status", 404)),
            (f"/image/nope/images/{fid}", ("status", 404)),
        ]:
            def fn(path=path, check=check):
                r = o.get(path)
                kind, val = check
                if kind == "status":
                    R.our_error(r, val)
                    return
                if r.status != 200:
                    raise Fail(r.short())
                if kind == "raw" and r.body != val:
                    raise Fail("bytes differ")
                if kind == "img":
                    fmt, size = image_info(r.body)
                    if size != val:
                        raise Fail(f"size {size}, expected {val}")
                    if r.header("content-type") != "image/jpeg":
                        raise Fail(f"content type {r.header('content-type')}")
            R.case(f"viewer GET {path}", fn)
        tf = ds.task_file("PointCloud")
        if tf:
            src_raw = (ds.path / tf[0] / tf[2]).read_bytes()
            src = parse_ply(src_raw)
            for route in ("pointcloud", "pcGroundTruth"):
                def fn(route=route):
                    r = o.get(f"/{route}/{s0}/{tf[0]}/{tf[1]}?size=preview")
                    if r.status != 200:
                        raise Fail(r.short())
                    n = parse_ply(r.body)["n"]
                    exp = voxel_count(src["points"], 1.8)
                    if abs(n - exp) / exp > 0.01:
                        raise Fail(f"{n} points vs {exp}")
                    return f"{n} points vs {exp}"
                R.case(f"viewer /{route}/{s0}/{tf[0]}/{tf[1]}?size=preview", fn)
        mf = ds.task_file("TriangleMesh")
        if mf:
            def fn():
                r = o.get(f"/mesh/{s0}/{mf[0]}/{mf[1]}?size=orig")
                if r.status != 200 or r.body != (ds.path / mf[0] / mf[2]).read_bytes():
                    raise Fail(r.short())
            R.case(f"viewer /mesh/{s0}/{mf[0]}/{mf[1]}", fn)
        for path in (f"/skeleton/{s0}", f"/sequence/{s0}?type=all", f"/sequence/{s0}?type=angles"):
            def fn(path=path):
                r = o.get(path)
                cur = o.get(API + path.replace("/skeleton", "/assets/skeleton").replace("/sequence", "/assets/sequence"))
                if r.status != 200 or r.json() != cur.json():
                    raise Fail(f"{r.short()} vs current {cur.short()}")
            R.case(f"viewer GET {path}", fn)

        def varchive():
            r = o.get(f"/archive/{s0}")
            if r.status != 200:
                raise Fail(r.short())
            cur = zip_members(o.get(f"{API}/assets/archive/{s0}").body)
            got = zip_members(r.body)
            exp = {f"{s0}/{k}": v for k, v in cur.items()}
            if got != exp:
                raise Fail(f"entries differ: {sorted(set(got) ^ set(exp))[:5]}")
            return f"{len(got)} entries prefixed with {s0}/"
        R.case(f"viewer /archive/{s0}", varchive)

    def vscans():
        r = o.get("/scans?filterQuery=" + urllib.parse.quote(json.dumps({"owner": "alice"})))
        exp = sorted(s for s in scans if d and d.scans[s].metadata.get("owner") == "alice") if d else None
        if r.status != 200 or (exp is not None and r.json() != exp):
            raise Fail(f"{r.short()} expected {exp}")
    R.case("viewer /scans?filterQuery={owner: alice}", vscans)

    def vsearch():
        r = o.get("/scans_info?filterQuery=arabidopsis")
        if r.status != 200:
            raise Fail(r.short())
        ids = [x["id"] for x in r.json()]
        if d:
            def hit(s):
                u = union_meta(d.scans[s].metadata)
                return any("arabidopsis" in str(v).lower() for v in (s, u["plant"], u["species"]))
            exp = sorted(s for s in scans if hit(s))
            if ids != exp:
                raise Fail(f"{ids} expected {exp} (§13.1: case-insensitive substring of id, plant, species)")
        return f"{len(ids)} scans"
    R.case("viewer /scans_info?filterQuery=<plain text> (§13.1)", vsearch)

    def vrefresh():
        r = o.get("/refresh")
        if r.status != 200:
            raise Fail(r.short())
    R.case("viewer /refresh", vrefresh)


def to_viewer_doc(cur, ds=None):
    """The viewer (0.14) document = the current one with 0.14 URIs (§5.2, §13.2)."""
    e = json.loads(json.dumps(cur))
    sid = e["id"]

    def files_uri(u):
        return re.sub(r"^.*?/api/v1/assets/files/", "/files/", u)

    def image_uri(u, by_name):
        m = re.match(r"^.*?/api/v1/assets/image/([^/]+)/([^/]+)/([^?]+)(\?.*)?$", u)
        s_, fs, fid, q = m.group(1), m.group(2), m.group(3), m.group(4) or ""
        if by_name:
            name = ds.file_name(fs, fid) if ds else None
            return f"/image/{s_}/{fs}/{name}{q}" if name else Pattern(rf"/image/{re.escape(s_)}/{fs}/{re.escape(fid)}\.\w+{re.escape(q)}")
        return f"/image/{s_}/{fs}/{fid}{q}"
    f = e["metadata"]["files"]
    if f.get("metadata"):
        f["metadata"] = files_uri(f["metadata"])
    f["archive"] = f"/archive/{sid}"
    if e.get("thumbnailUri"):
        e["thumbnailUri"] = image_uri(e["thumbnailUri"], False)
    e["filesUri"] = {k: files_uri(v) for k, v in e["filesUri"].items()}
    for k in ("mesh", "pointCloud", "pcdGroundTruth"):
        e["filesUri"].setdefault(k, Pattern(r"/\S+"))  # a URI that answers 404 (§13.2)
    e["skeleton"] = f"/skeleton/{sid}"
    e["angles"] = f"/sequence/{sid}"
    for pose in (e.get("camera") or {}).get("poses") or []:
        for k in ("photoUri", "thumbnailUri"):
            pose[k] = image_uri(pose[k], True)
    return e


# --------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description="PlantDB read-route differential test (see the module docstring)")
    ap.add_argument("--python-url")
    ap.add_argument("--ours-url")
    ap.add_argument("--db", help="the fixture directory (read-only: the servers run on copies)")
    ap.add_argument("--ours-db", help="ours' database path (error messages must not contain it, D3; webcache names)")
    ap.add_argument("--python-db", help="the Python server's database path (webcache names, §7.1)")
    ap.add_argument("--report", help="write the results as JSON")
    ap.add_argument("--ours-only", action="store_true", help="no Python server: check ours against the oracle")
    ap.add_argument("--viewer", action="store_true", help="also check the 0.14 viewer routes on ours")
    ap.add_argument("--ours-kind", choices=("auto", "rust", "python"), default="auto",
                    help="what serves --ours-url (auto: Server header)")
    ap.add_argument("--only", action="append", help="regex: run only matching case names (repeatable)")
    ap.add_argument("--no-rotate", action="store_true", help="do not rotate the loopback source address")
    ap.add_argument("--strict-spec", action="store_true", help="SPEC-MISMATCH lines also fail the run")
    a = ap.parse_args(argv)
    if a.ours_only:
        a.python_url = None
        if not a.ours_url or not a.db:
            ap.error("--ours-only needs --ours-url and --db")
    if not a.python_url and not a.ours_url:
        ap.error("give --python-url and/or --ours-url")
    t0 = time.monotonic()
    R = Runner(a)
    run_all(R)
    counts = {}
    for r in R.results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    elapsed = time.monotonic() - t0
    nreq = (R.py.requests if R.py else 0) + (R.ours.requests if R.ours else 0)
    print(f"# summary: {counts.get('PASS', 0)} passed, {counts.get('FAIL', 0)} failed, "
          f"{counts.get('SKIP', 0)} skipped, {counts.get('SPEC-MISMATCH', 0)} spec mismatches "
          f"({nreq} requests, {elapsed:.1f} s)")
    print(f"{counts.get('PASS', 0)} passed, {counts.get('FAIL', 0)} failed, {counts.get('SKIP', 0)} skipped")
    if a.report:
        Path(a.report).write_text(json.dumps({"python": a.python_url, "ours": a.ours_url,
                                              "ours_kind": R.ours.kind if R.ours else None,
                                              "counts": counts, "elapsed_s": round(elapsed, 2),
                                              "results": R.results}, indent=2))
    failed = counts.get("FAIL", 0) or (a.strict_spec and counts.get("SPEC-MISMATCH", 0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
