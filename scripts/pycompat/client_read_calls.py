#!/usr/bin/env python3
"""Drive a server with the READ calls of the real plantdb-client 0.17.0 and check the results.

Usage: client_read_calls.py --url URL [--db FIXTURE_DIR] [--kind auto|python|rust]
Run it with the venv of scripts/python-env.sh (plantdb-client 0.17.0). With --db (the
fixture of generate_data_fixture.py the server was started on, or a copy of it) the
results are compared with the files on disk; without it only consistency is checked.

Calls: PlantDBClient (list_scans, list_scans_info, get_scan_metadata, list_scan_filesets,
get_fileset_metadata, list_fileset_files, get_file_metadata, list_timelapses,
get_timelapse, refresh, login + reads with a token, logout) and the plantdb.client.rest_api
helpers the pipeline and notebooks use (request_scan_names_list, request_scans_info,
request_scan_data, request_scan_image, request_scan_tasks_fileset, request_refresh,
request_archive_download, parse_scans_info, parse_task_images, get_task_data,
get_reconstruction_config, get_angles_and_internodes_data, scan_preview_image_url).

Where the spec decides a difference, the check expects the Python behaviour on the
Python server and ours on ours (the kind is detected from the `Server` header):
  * D6: get_task_data(...) follows `filesUri`, which has no extension on Python: 404.
  * §6.1: list_scans(query=dict) is sent as `query=<key>` (requests encodes a dict as
    its keys): Python ignores it (all scans), ours refuses a non-JSON query (400).
  * D4: list_scans_info(query=dict) sends `filterQuery` in the URL: Python ignores it.
One line per check (PASS/FAIL/SKIP), a summary, exit 1 on any FAIL.
"""
import argparse
import io
import json
import logging
import sys
import urllib.parse
import zipfile
import zlib
from pathlib import Path

import requests

logging.disable(logging.CRITICAL)

from plantdb.client.plantdb_client import PlantDBClient  # noqa: E402
from plantdb.client.rest_api import parsers as P  # noqa: E402
from plantdb.client.rest_api import requests as Rq  # noqa: E402
from plantdb.client.rest_api import urls as U  # noqa: E402

RESULTS = []


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def check(name, fn):
    try:
        note = fn()
    except Skip as e:
        status, detail = "SKIP", str(e)
    except Fail as e:
        status, detail = "FAIL", str(e)
    except Exception as e:  # noqa: BLE001
        status, detail = "FAIL", f"{type(e).__name__}: {str(e)[:300]}"
    else:
        status, detail = "PASS", note or ""
    RESULTS.append(status)
    sep = ": " if status != "PASS" else " "
    print(f"{status} {name}" + (f"{sep}{detail}" if detail and status != "PASS" else (f" ({detail})" if detail else "")),
          flush=True)


def expect(cond, msg):
    if not cond:
        raise Fail(msg)


def raises(fn, exc=Exception):
    try:
        fn()
    except exc as e:  # noqa: BLE001
        return e
    raise Fail("expected an exception, got a result")


def load_disk(root):
    if root is None:
        return None
    root = Path(root)
    scans = {}
    for d in sorted(root.iterdir()):
        if not d.is_dir() or d.name.startswith(".") or d.name == "configs":
            continue
        cands = [c for c in sorted(d.iterdir()) if c.is_dir()] if (d / "timelapse.json").is_file() else [d]
        for c in cands:
            if (c / "files.json").is_file() and (c / "metadata").is_dir():
                scans[c.name] = c
    return scans


def main(argv=None):
    ap = argparse.ArgumentParser(description="plantdb-client 0.17 read calls against a server")
    ap.add_argument("--url", required=True, help="server origin, e.g. http://127.0.0.1:5000")
    ap.add_argument("--db", help="the fixture the server runs on (for exact expectations)")
    ap.add_argument("--kind", choices=("auto", "python", "rust"), default="auto")
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", default=None, help="default: passwords.json of --db, else 'admin'")
    a = ap.parse_args(argv)

    u = urllib.parse.urlsplit(a.url)
    host, port = u.hostname, u.port
    kw = {"port": port}
    disk = load_disk(a.db)
    kind = a.kind
    if kind == "auto":
        kind = "python" if "werkzeug" in requests.get(a.url + "/api/v1/health").headers.get("Server", "").lower() else "rust"
    print(f"# server {a.url} ({kind}); fixture {a.db or 'none'}", flush=True)
    client = PlantDBClient(a.url)
    state = {}

    def md(sid):
        return json.loads((disk[sid] / "metadata" / "metadata.json").read_text())

    # -- PlantDBClient
    def list_scans():
        ids = client.list_scans()
        state["ids"] = ids
        expect(isinstance(ids, list) and ids, f"list_scans: {ids!r}")
        if disk:
            expect(sorted(ids) == sorted(disk), f"{sorted(ids)} != fixture {sorted(disk)}")
        if kind == "rust":
            expect(ids == sorted(ids), f"not in ascending order (P2): {ids}")
        return f"{len(ids)} scans"
    check("PlantDBClient.list_scans()", list_scans)

    def list_scans_tl():
        ids = client.list_scans(timelapse_id="tl_plant", sort="timelapse.scheduled")
        if disk:
            expect(ids == ["tl_plant_d0", "tl_plant_d1"], f"{ids}")
        return str(ids)
    check("PlantDBClient.list_scans(timelapse_id, sort)", list_scans_tl)

    def list_scans_query():
        q = {"owner": "alice"}
        if kind == "python":
            ids = client.list_scans(query=q)
            expect(sorted(ids) == sorted(state["ids"]), f"python should ignore query: {ids}")
            return "python ignores `query=owner` (all scans)"
        e = raises(lambda: client.list_scans(query=q))
        return f"ours refuses `query=owner` (not JSON, §6.1): {str(e)[:80]}"
    check("PlantDBClient.list_scans(query=dict) (§6.1)", list_scans_query)

    def list_scans_fuzzy():
        ids = client.list_scans(fuzzy=True)
        expect(sorted(ids) == sorted(state["ids"]), f"{ids}")
    check("PlantDBClient.list_scans(fuzzy=True)", list_scans_fuzzy)

    def scans_info():
        infos = client.list_scans_info()
        state["infos"] = {x["id"]: x for x in infos}
        expect(sorted(state["infos"]) == sorted(state["ids"]), "ids differ from list_scans")
        for x in infos:
            expect(x["error"] is False, f"{x['id']}: error {x['error']}")
        return f"{len(infos)} documents"
    check("PlantDBClient.list_scans_info()", scans_info)

    def scans_info_query():
        infos = client.list_scans_info(query={"owner": "alice"})
        ids = sorted(x["id"] for x in infos)
        if kind == "python":
            expect(ids == sorted(state["ids"]), f"python ignores the URL filterQuery (D4): {ids}")
            return "python ignores it (D4)"
        if disk:
            expect(ids == sorted(s for s in disk if md(s).get("owner") == "alice"), f"{ids}")
        return f"ours filters (D4): {ids}"
    check("PlantDBClient.list_scans_info(query=dict) (D4)", scans_info_query)

    def timelapses():
        tls = client.list_timelapses()
        expect(tls == ["tl_plant"], f"{tls}")
        tl = client.get_timelapse("tl_plant")
        expect(tl["id"] == "tl_plant" and tl["counts"] == {"scans": 2}, f"{tl}")
        expect(tl["scans"] == ["tl_plant_d1", "tl_plant_d0"], f"marker order {tl['scans']}")
    check("PlantDBClient.list_timelapses()/get_timelapse()", timelapses)

    def refresh():
        expect(client.refresh() is True, "refresh() False")
        expect(client.refresh("real_plant_analyzed") is True, "refresh(scan) False")
    check("PlantDBClient.refresh()", refresh)

    for sid in (state.get("ids") or []):
        def scan_md(sid=sid):
            m = client.get_scan_metadata(sid)["metadata"]
            if disk:
                want = md(sid)
                for k in ("object", "hardware", "acquisition_date"):  # P10 on Python
                    if kind == "python" and m.get(k) == {} and k not in want:
                        m.pop(k)
                expect(m == want, f"metadata differs from the fixture: {set(m) ^ set(want)}")
            expect(client.get_scan_metadata(sid, key="owner")["metadata"] == m.get("owner"), "key=owner")
            return None
        check(f"PlantDBClient.get_scan_metadata({sid})", scan_md)

        def filesets(sid=sid):
            fss = client.list_scan_filesets(sid)["filesets"]
            if disk:
                want = [f["id"] for f in json.loads((disk[sid] / "files.json").read_text())["filesets"]]
                expect(fss == want, f"{fss} != {want}")
            for fs in fss:
                fmd = client.get_fileset_metadata(sid, fs)["metadata"]
                expect(isinstance(fmd, dict) and "created" in fmd, f"{fs} metadata {str(fmd)[:80]}")
                files = client.list_fileset_files(sid, fs)["files"]
                expect(files, f"{fs}: no files")
                f0 = client.get_file_metadata(sid, fs, files[0])["metadata"]
                expect(isinstance(f0, dict) and "created" in f0, f"{fs}/{files[0]} metadata")
            state.setdefault("fs", {})[sid] = fss
            return f"{len(fss)} filesets"
        check(f"PlantDBClient filesets/files/metadata ({sid})", filesets)

    def files_query():
        e = raises(lambda: client.list_fileset_files("real_plant_analyzed", "images", query={"channel": "rgb"}))
        return f"raises on both servers (query=channel: Python 500, ours 400): {str(e)[:60]}"
    check("PlantDBClient.list_fileset_files(query=dict)", files_query)

    # -- rest_api helpers (module functions). They always send `Authorization: Bearer
    # <session_token>`, i.e. "Bearer None" when called without a token: Python 0.17 then
    # fails most of them (404/500 "Not enough segments"), ours answers 401 (D2). So they
    # are run with a real session token (login), and the token-less behaviour is recorded.
    def bearer_none():
        r = requests.get(a.url + "/api/v1/scans/real_plant_analyzed", headers={"Authorization": "Bearer None"})
        if kind == "python":
            expect(r.status_code == 404, f"{r.status_code}")
            return "python 404 (the token 'None' fails validation): the helpers need session_token"
        expect(r.status_code == 401, f"{r.status_code} (D2: 401 invalid_token)")
        return "ours 401 invalid_token (D2): the helpers need session_token"
    check("rest_api helpers without a token send 'Bearer None'", bearer_none)

    def run_helpers(kw, label):
        def names():
            ids = Rq.request_scan_names_list(host, **kw)
            expect(sorted(ids) == sorted(state["ids"]), f"{ids}")
        check(f"{label}rest_api.request_scan_names_list", names)

        def parse_info():
            d = P.parse_scans_info(host, **kw)
            expect(sorted(d) == sorted(state["ids"]), f"{sorted(d)}")
            return f"{len(d)} scans"
        check(f"{label}rest_api.parse_scans_info (request_scans_info)", parse_info)

        def scan_data():
            d = Rq.request_scan_data(host, "real_plant_analyzed", **kw)
            expect(d["id"] == "real_plant_analyzed" and d["hasPointCloud"] is True, f"{str(d)[:120]}")
            t = Rq.request_scan_tasks_fileset(host, "real_plant_analyzed", **kw)
            expect(t.get("PointCloud", "").startswith("PointCloud_"), f"{t}")
        check(f"{label}rest_api.request_scan_data / request_scan_tasks_fileset", scan_data)

        def scan_image():
            ct, enc, data = Rq.request_scan_image(host, "real_plant_analyzed", "images", "00000_rgb", size="thumb", **kw)
            from PIL import Image
            im = Image.open(io.BytesIO(data))
            expect(ct == "image/jpeg" and enc == "binary" and im.size == (150, 113), f"{ct} {enc} {im.size}")
            ct, enc, b64 = Rq.request_scan_image(host, "real_plant_analyzed", "images", "00000_rgb", size="orig",
                                                 as_base64=True, **kw)
            expect(enc == "base64" and ct == "image/jpeg" and isinstance(b64, str), f"{ct} {enc}")
            if disk:
                import base64
                raw = (disk["real_plant_analyzed"] / "images" / "00000_rgb.jpg").read_bytes()
                expect(base64.b64decode(b64) == raw, "orig base64 differs from the file")
            return "thumb 150x113 (spec §7.2), orig base64 = file"
        check(f"{label}rest_api.request_scan_image (thumb, orig base64)", scan_image)

        def task_images():
            ims = P.parse_task_images(host, "arabidopsis_B2", size="64", **kw)
            expect(len(ims) == 12 and all(i.size == (64, 48) for i in ims), f"{[i.size for i in ims][:3]}")
            return "12 images 64x48"
        check(f"{label}rest_api.parse_task_images(size=64)", task_images)

        def preview_url():
            url = U.scan_preview_image_url(host, "real_plant_analyzed", size="large", **kw)
            expect(url and "size=large" in url, f"{url}")
            r = requests.get(url)
            expect(r.status_code == 200, f"{url}: {r.status_code}")
        check(f"{label}rest_api.scan_preview_image_url", preview_url)

        for task in ("PointCloud", "TriangleMesh", "CurveSkeleton", "TreeGraph"):
            def task_data(task=task):
                f = lambda: P.get_task_data(host, "real_plant_analyzed", task, **kw)  # noqa: E731
                if kind == "python":
                    e = raises(f, requests.exceptions.HTTPError)
                    expect("404" in str(e), f"{e}")
                    return "python: 404, filesUri has no extension (D6)"
                data = f()
                if task == "PointCloud":
                    expect(len(data) == 3 and len(data[0]) == 6000, f"{len(data[0]) if data else data}")
                elif task == "TriangleMesh":
                    expect(len(data["vertices"][0]) == 96 and len(data["triangles"]) > 100, f"{len(data['triangles'])}")
                elif task == "CurveSkeleton":
                    expect(set(data) == {"points", "lines"}, f"{list(data)}")
                else:
                    expect(data.get("root") == 0, f"{data}")
                return "ours: filesUri resolves (D6)"
            check(f"{label}rest_api.get_task_data({task}) (D6)", task_data)

        def angles():
            d = P.get_angles_and_internodes_data(host, "real_plant_analyzed", **kw)
            expect(d and set(d) == {"angles", "internodes"} and len(d["angles"]) == 9, f"{d}")
        check(f"{label}rest_api.get_angles_and_internodes_data", angles)

        def toml_cfg():
            cfg = P.get_reconstruction_config(host, "real_plant_analyzed", **kw)
            expect(cfg["Voxels"]["bounding_box"]["z"] == [-500, -200], f"{cfg.get('Voxels')}")
        check(f"{label}rest_api.get_reconstruction_config (assets/files/<scan>/pipeline.toml)", toml_cfg)

        def archive():
            bio, msg = Rq.request_archive_download(host, "arabidopsis_B2", **kw)
            with zipfile.ZipFile(bio) as z:
                names = {i.filename: i.CRC for i in z.infolist()}
                expect(z.testzip() is None, "CRC error")
            expect("files.json" in names and "metadata/metadata.json" in names, f"{sorted(names)[:5]}")
            if disk:
                root = disk["arabidopsis_B2"]
                want = {str(p.relative_to(root)): zlib.crc32(p.read_bytes()) for p in root.rglob("*")
                        if p.is_file() and "webcache" not in p.relative_to(root).parts}
                expect(names == want, f"members differ: {sorted(set(names) ^ set(want))[:5]}")
            return f"{len(names)} members"
        check(f"{label}rest_api.request_archive_download", archive)

        def rq_refresh():
            ok, msg = Rq.request_refresh(host, **kw)
            expect(ok and msg.startswith("Successfully reloaded entire database with"), msg)
        check(f"{label}rest_api.request_refresh", rq_refresh)


    # -- logged-in reads
    password = a.password
    if password is None:
        password = "admin"
        if a.db and (Path(a.db) / "passwords.json").is_file():
            password = json.loads((Path(a.db) / "passwords.json").read_text()).get(a.user, "admin")

    try:
        token = Rq.request_login(host, a.user, password, **kw).get("access_token")
    except Exception as e:  # noqa: BLE001
        token = None
        print(f"SKIP rest_api helpers: request_login({a.user}) failed: {e}")
        RESULTS.append("SKIP")
    if token:
        run_helpers({**kw, "session_token": token}, "[token] ")

    def logged_in():
        c = PlantDBClient(a.url)
        if not c.login(a.user, password):
            raise Skip(f"login as {a.user} failed (ours needs the fixture's users.json and a password)")
        ids = c.list_scans()
        expect(sorted(ids) == sorted(state["ids"]), f"{ids}")
        m = c.get_scan_metadata("shared_scan")["metadata"]
        expect(m.get("owner") == "alice" and m.get("sharing") == ["phenotyping"], f"{m.get('owner')} {m.get('sharing')}")
        expect(c.list_fileset_files("shared_scan", "images")["files"], "no files")
        expect(c.logout() is True, "logout failed")
        return f"as {a.user}"
    check("PlantDBClient.login() then reads with the token", logged_in)

    n_fail = RESULTS.count("FAIL")
    print(f"{RESULTS.count('PASS')} passed, {n_fail} failed, {RESULTS.count('SKIP')} skipped")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
