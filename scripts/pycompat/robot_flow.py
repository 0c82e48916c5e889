#!/usr/bin/env python3
"""The ROMI Plant Imager's upload flow with plantdb-client 0.17, then a read-back with plantdb-commons.

Usage: robot_flow.py --url URL --db DIR --user U --password P [options]

Against a RUNNING server (ours or the reference Python plantdb-server 0.17) serving the FSDB
at DIR, do what the Plant Imager does at the end of an acquisition:

  1. PlantDBClient(URL).login(U, P)
  2. create_scan(<scan>, metadata={object, hardware, acquisition_date, ScanPath, MIAPPE ...})
  3. create_fileset('images', <scan>, metadata={...})
  4. --threads (4) threads calling create_file on ONE shared client: --images (60) JPEGs of
     --width x --height (1440x1080) made with Pillow, each with file metadata
     {channel: rgb, shot_id, pose, approximate_pose, colmap_camera: {...}}
  5. update_scan_metadata(<scan>, {...}) (the end-of-acquisition keys)
  6. GET /api/v1/scans/<scan> (scan info): nbPhotos == --images; list_fileset_files == the ids sent

then, with the server STILL RUNNING, plantdb-commons 0.17 opens DIR itself (FSDB(DIR), connect,
login(U, P): what a pipeline running next to the server does) and checks:

  * every file: File.read_raw() == the bytes sent; files.json has no `"file": null` entry;
  * scan metadata (spec data-api.md §1.6): every key sent (create + update), owner == U,
    created_by == U's full name (users.json, via commons), created / last_modified naive ISO
    local timestamps with microseconds, created <= last_modified, last_modified moved on update;
  * fileset metadata: created / last_modified / created_by; its content is the request's metadata
    (ours, P7) or a copy of the scan's metadata at creation (Python 0.17, P7): the one seen is reported;
  * every file's metadata: the metadata sent + created / last_modified / created_by.

plantdb-commons 0.17 cannot connect() to a database holding a timelapse container (the
`Scan()` constructor calls `timelapse_exists()`, decorated with `require_connected_db`, before
connect() has set `is_connected`): as the Python server does on /refresh, `is_connected` is set
before connect() (docs/api.md, "Data-API facts").

Exit 0 when everything matches, 1 on any mismatch (one `FAIL:` line each), 2 on a set-up error.
Needs the venv of scripts/python-env.sh (plantdb-commons, plantdb-client, Pillow, numpy).
"""
import argparse
import contextlib
import io
import json
import logging
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
logging.disable(logging.ERROR)  # plantdb logs every operation at INFO/WARNING
from generate_data_fixture import colmap_camera, encode_image, plant_image  # noqa: E402

from plantdb.client.plantdb_client import PlantDBClient  # noqa: E402
from plantdb.commons.fsdb.core import FSDB  # noqa: E402

ISO_NAIVE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$")
SEED = 20261202


class Checker:
    def __init__(self):
        self.fails = []
        self.notes = []

    def fail(self, msg):
        self.fails.append(msg)
        print(f"FAIL: {msg}", flush=True)

    def ok(self, cond, msg):
        if not cond:
            self.fail(msg)
        return cond

    def note(self, msg):
        self.notes.append(msg)
        print(f"NOTE: {msg}", flush=True)


def make_images(n, width, height):
    """n synthetic plant photos (JPEG, quality 90) with their file metadata, seeded."""
    rng = np.random.default_rng(SEED)
    out = []
    for k in range(n):
        data = encode_image(plant_image(rng, width, height, hue=k), "JPEG", quality=90)
        angle = 360.0 * k / n
        md = {
            "channel": "rgb",
            "shot_id": f"{k:06d}",
            "pose": [round(370 + 350 * np.cos(np.radians(angle)), 3),
                     round(380 + 350 * np.sin(np.radians(angle)), 3), 80.0, round(angle, 3), 0.0],
            "approximate_pose": [370.0, 380.0, 80.0, round(angle, 1), 0],
            "colmap_camera": colmap_camera(rng, k, width, height),
        }
        out.append((f"{k:05d}_rgb", data, md))
    return out


def ts_ok(c, where, md, keys=("created", "last_modified")):
    for k in keys:
        v = md.get(k)
        if not c.ok(isinstance(v, str) and ISO_NAIVE.match(v), f"{where}: {k} = {v!r} is not a naive ISO timestamp "
                    "(§1.6: datetime.now().isoformat())"):
            return False
    if isinstance(md.get("created"), str) and isinstance(md.get("last_modified"), str):
        c.ok(md["created"] <= md["last_modified"], f"{where}: created {md['created']} > last_modified {md['last_modified']}")
    return True


def subset(c, where, sent, got):
    for k, v in sent.items():
        c.ok(k in got and got[k] == v, f"{where}: key {k!r} = {got.get(k, '<missing>')!r}, sent {v!r}")


def not_scans(root):
    """The candidate directories plantdb-commons' `_is_fsdb` would refuse (§1.1), for diagnostics."""
    def is_scan(d):
        try:
            return (d / "metadata").is_dir() and "filesets" in json.loads((d / "files.json").read_text())
        except (OSError, ValueError, TypeError):
            return False
    bad = []
    for d in sorted(Path(root).iterdir()):
        if not d.is_dir() or d.name.startswith(".") or d.name == "configs":
            continue
        if (d / "timelapse.json").is_file():
            bad += [f"{d.name}/{s.name}" for s in sorted(d.iterdir()) if s.is_dir() and not s.name.startswith(".")
                    and s.name != "configs" and not is_scan(s)]
        elif not is_scan(d):
            bad.append(f"{d.name} ({sorted(p.name for p in d.iterdir())[:6]})")
    return bad


def open_fsdb(db_dir, user, password):
    """plantdb-commons' own view of DIR, logged in as `user` (timelapse connect() work-around)."""
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), contextlib.redirect_stderr(devnull):
        db = FSDB(db_dir)
        # Work around plantdb-commons 0.17: connect() -> _load_scans -> Scan(timelapse_id=...) ->
        # timelapse_exists() is @require_connected_db and raises "Database not connected" while
        # connect() runs. Marking the instance connected first is what a /refresh effectively does.
        db.is_connected = True
        db.connect()
        token = db.login(user, password)
    return db, token


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="server origin, e.g. http://127.0.0.1:5000")
    ap.add_argument("--db", required=True, type=Path, help="the FSDB directory that server serves")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--scan", help="scan id to create (default robot_<time>)")
    ap.add_argument("--images", type=int, default=60)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--width", type=int, default=1440)
    ap.add_argument("--height", type=int, default=1080)
    a = ap.parse_args(argv)
    c = Checker()
    scan_id = a.scan or time.strftime("robot_%Y%m%d_%H%M%S")
    url = a.url.rstrip("/")
    if not (a.db / "romidb").is_file():
        print(f"ERROR: {a.db} is not an FSDB (no romidb)", file=sys.stderr)
        return 2

    t0 = time.monotonic()
    images = make_images(a.images, a.width, a.height)
    total = sum(len(d) for _, d, _ in images)
    print(f"# {len(images)} JPEG {a.width}x{a.height} made ({total / 1e6:.1f} MB) in {time.monotonic() - t0:.1f} s")

    # ---------------------------------------------------------------- 1-5: the robot
    client = PlantDBClient(url)
    if not client.login(a.user, a.password):
        print(f"ERROR: login as {a.user} failed on {url}", file=sys.stderr)
        return 2
    scan_md = {
        "object": {"species": "Arabidopsis thaliana", "plant_id": "robot-1", "environment": "Lyon indoor",
                   "sample": "WT", "stage": "flowering"},
        "hardware": {"frame": "30profile XXL", "X_motor": "X-Carve NEMA23", "Y_motor": "X-Carve NEMA23",
                     "Z_motor": "X-Carve NEMA23", "pan_motor": "iPower Motor GM4108H-120T Brushless Gimbal Motor",
                     "tilt_motor": "None", "sensor": "gphoto2"},
        "ScanPath": {"class_name": "Circle", "kwargs": {"center_x": 370, "center_y": 380, "z": 80, "tilt": 0,
                                                        "radius": 350, "n_points": a.images}},
        "biologicalMaterial": {"biologicalMaterialId": "robot-1",
                               "organism": {"genus": "Arabidopsis", "species": "Arabidopsis thaliana"}},
        "study": {"identifier": "ROMI-2026", "title": "Robot flow"},
    }
    fs_md = {"camera": {"model": "gphoto2"}, "channels": ["rgb"], "workspace": {"x": [200, 600], "y": [200, 600],
                                                                                  "z": [-100, 300]}}
    update_md = {"acquisition_date": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
                 "scanner": {"id": "plant-imager-3", "firmware": "1.2.0"}, "status": "complete"}
    t_up = time.monotonic()
    try:
        r = client.create_scan(scan_id, metadata=dict(scan_md))
        c.ok(r == {"message": "Scan created successfully", "id": scan_id}, f"create_scan answered {r!r}")
        md_created = client.get_scan_metadata(scan_id)["metadata"]
        r = client.create_fileset("images", scan_id, metadata=dict(fs_md))
        c.ok(r.get("id") == "images", f"create_fileset answered {r!r}")
    except Exception as e:  # noqa: BLE001
        print(f"FAIL: scan/fileset creation: {type(e).__name__}: {e}")
        return 1

    errors = []
    lock = threading.Lock()

    def upload(item):
        fid, data, md = item
        try:
            r = client.create_file(io.BytesIO(data), fid, "jpg", scan_id, "images", metadata=md)
            if r.get("id") != fid:
                raise RuntimeError(f"answered {r!r}")
        except Exception as e:  # noqa: BLE001
            with lock:
                errors.append(f"create_file({fid}): {type(e).__name__}: {e}")

    t_files = time.monotonic()
    with ThreadPoolExecutor(max_workers=a.threads) as ex:
        list(ex.map(upload, images))
    dt_files = time.monotonic() - t_files
    for e in errors:
        c.fail(e)
    time.sleep(0.002)  # last_modified of the update must differ from created (µs resolution)
    try:
        r = client.update_scan_metadata(scan_id, dict(update_md))
        got = r.get("metadata", {})
        subset(c, "update_scan_metadata answer", {**scan_md, **update_md}, got)
    except Exception as e:  # noqa: BLE001
        c.fail(f"update_scan_metadata: {type(e).__name__}: {e}")
    dt_up = time.monotonic() - t_up
    print(f"# uploaded {len(images) - len(errors)}/{len(images)} files on {a.threads} threads in {dt_files:.2f} s "
          f"({total / 1e6 / dt_files:.1f} MB/s); whole robot flow {dt_up:.2f} s")

    # files.json as the server left it (plantdb-server 0.17 rewrites it with open("w") + json.dump
    # under a per-FILE lock only: concurrent create_file calls can leave a torn file, see docs/api.md)
    fj_path = a.db / scan_id / "files.json"
    try:
        json.loads(fj_path.read_text())
    except (OSError, ValueError) as e:
        tail = fj_path.read_bytes()[-120:] if fj_path.is_file() else b""
        c.fail(f"{scan_id}/files.json is not valid JSON after the {a.threads}-thread upload ({e}): a torn "
               f"concurrent write by the server; its last bytes: {tail!r}")

    # ---------------------------------------------------------------- 6: what the server says
    info = requests.get(f"{url}/api/v1/scans/{scan_id}", timeout=60)
    if c.ok(info.status_code == 200, f"GET /api/v1/scans/{scan_id}: {info.status_code} {info.text[:200]}"):
        doc = info.json()
        nb = (doc.get("metadata") or {}).get("nbPhotos")
        c.ok(nb == a.images, f"scan info metadata.nbPhotos = {nb!r}, expected {a.images}")
        c.ok(doc.get("id") == scan_id, f"scan info id = {doc.get('id')!r}")
        c.ok(not doc.get("error"), f"scan info is degraded: {doc.get('error')!r}")
    try:
        listed = client.list_fileset_files(scan_id, "images")["files"]
        c.ok(sorted(listed) == sorted(f for f, _, _ in images), f"list_fileset_files: {len(listed)} ids, "
             f"expected the {len(images)} sent (missing {sorted(set(f for f, _, _ in images) - set(listed))[:5]})")
    except Exception as e:  # noqa: BLE001
        c.fail(f"list_fileset_files: {type(e).__name__}: {e}")

    # ---------------------------------------------------------------- plantdb-commons reads DIR
    try:
        db, token = open_fsdb(a.db, a.user, a.password)
    except Exception as e:  # noqa: BLE001
        c.fail(f"plantdb-commons cannot open {a.db}: {type(e).__name__}: {e}; candidates that are not scans: "
               f"{not_scans(a.db)}")
        return 1
    c.ok(token is not None, f"plantdb-commons login({a.user}) failed")
    user = db.get_user_data(username=a.user)
    fullname = getattr(user, "fullname", None)
    c.ok(bool(fullname), f"plantdb-commons has no full name for {a.user}")
    kw = {}  # FSDB's default SingleSessionManager uses the session of login() for every call
    try:
        scan = db.get_scan(scan_id)
        smd = scan.get_metadata(**kw)
    except Exception as e:  # noqa: BLE001
        c.fail(f"plantdb-commons get_scan({scan_id}): {type(e).__name__}: {e}")
        return 1
    subset(c, "scan metadata", {**scan_md, **update_md}, smd)
    c.ok(smd.get("owner") == a.user, f"scan metadata owner = {smd.get('owner')!r}, expected {a.user!r} (§1.6)")
    c.ok(smd.get("created_by") == fullname, f"scan metadata created_by = {smd.get('created_by')!r}, expected the "
         f"full name {fullname!r} (§1.6)")
    if ts_ok(c, "scan metadata", smd):
        c.ok(smd["created"] == md_created.get("created"), f"scan created changed: {md_created.get('created')} -> "
             f"{smd['created']}")
        c.ok(smd["last_modified"] > md_created.get("last_modified", ""), "scan last_modified did not move on update "
             f"({md_created.get('last_modified')} -> {smd['last_modified']})")
    try:
        fs = scan.get_fileset("images")
        fmd = fs.get_metadata(**kw)
    except Exception as e:  # noqa: BLE001
        c.fail(f"plantdb-commons get_fileset(images): {type(e).__name__}: {e}")
        return 1
    ts_ok(c, "fileset metadata", fmd)
    c.ok(fmd.get("created_by") == fullname, f"fileset metadata created_by = {fmd.get('created_by')!r}")
    content = {k: v for k, v in fmd.items() if k not in ("created", "last_modified", "created_by")}
    as_scan = {k: v for k, v in md_created.items() if k not in ("created", "last_modified", "created_by")}
    if content == fs_md:
        c.note("fileset metadata = the request's metadata + timestamps (ours, P7)")
    elif content == as_scan:
        c.note("fileset metadata = a copy of the scan's metadata at creation + timestamps (Python 0.17, P7)")
    else:
        c.fail(f"fileset metadata is neither the request's nor the scan's (P7): {sorted(content)}")

    fj = json.loads((scan.path() / "files.json").read_text())
    nulls = [f for s in fj["filesets"] for f in s["files"] if f.get("file") is None]
    c.ok(not nulls, f"files.json holds {len(nulls)} null entries (D8): {nulls[:3]}")
    commons_ids = {f.id: f for f in fs.get_files()}
    c.ok(len(commons_ids) == len(images), f"plantdb-commons sees {len(commons_ids)} files in images, "
         f"expected {len(images)}")
    bad_bytes, bad_md = [], []
    for fid, data, md in images:
        f = commons_ids.get(fid)
        if f is None:
            c.fail(f"plantdb-commons: file {fid} missing")
            continue
        try:
            raw = f.read_raw()
        except Exception as e:  # noqa: BLE001
            c.fail(f"plantdb-commons read_raw({fid}): {type(e).__name__}: {e}")
            continue
        if raw != data:
            bad_bytes.append(f"{fid} ({len(raw)} bytes read, {len(data)} sent)")
        if f.path().name != f"{fid}.jpg":
            c.fail(f"file {fid} stored as {f.path().name}, expected {fid}.jpg")
        m = f.get_metadata(**kw)
        problems = [k for k, v in md.items() if m.get(k) != v]
        if m.get("created_by") != fullname:
            problems.append("created_by")
        for k in ("created", "last_modified"):
            if not (isinstance(m.get(k), str) and ISO_NAIVE.match(m[k])):
                problems.append(k)
        extra = set(m) - set(md) - {"created", "last_modified", "created_by"}
        if extra:
            problems.append(f"extra keys {sorted(extra)}")
        if problems:
            bad_md.append(f"{fid}: {problems}")
    c.ok(not bad_bytes, f"{len(bad_bytes)} files differ from the bytes sent: {bad_bytes[:3]}")
    c.ok(not bad_md, f"{len(bad_md)} file metadata wrong: {bad_md[:3]}")
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        with contextlib.suppress(Exception):
            db.logout(token=token)

    print(f"# {url}: scan {scan_id}: {len(images)} files, {len(c.fails)} failure(s)")
    print(("PASS" if not c.fails else "FAIL") + f" robot_flow {url} ({scan_id})")
    return 1 if c.fails else 0


if __name__ == "__main__":
    sys.exit(main())
