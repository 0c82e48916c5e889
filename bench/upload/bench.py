#!/usr/bin/env python3
"""Upload benchmark: plantdb-auth (release) vs the Python plantdb-server 0.17.0. Run by bench/upload.sh.

Usage: bench.py --ours BIN [--python-server] [options]   (run with the venv's python: plantdb-client)

(a) robot upload: --images (100) JPEGs of ~1.5 MB (2048x1536, Pillow, seeded; 10 distinct pictures,
    each file made unique by a JPEG comment segment) uploaded into ONE fileset with plantdb-client
    0.17's `create_file` from --threads (4) threads sharing one logged-in PlantDBClient (as the
    Plant Imager does), each file with metadata {channel, shot_id}. Per round and server: a new scan
    + fileset `images`, then the timed part = the 100 create_file calls (wall time). Every round is
    verified (list_fileset_files == the 100 ids, every stored file has the size sent).
    Also, as information (no target): the same 100 uploads as pre-encoded multipart bodies sent with
    http.client from 4 threads (keep-alive), i.e. without plantdb-client's per-call encoding cost.
    --rounds (3) rounds, the server order alternating; medians. Target: Python wall / ours wall >= 5.
(b) big upload, ours only: one --big-size (1 GiB) `.ply` file sent with curl
    (`-F file=@big.ply -F ext=ply`, no `Expect: 100-continue`) to POST /api/v1/files/<s>/<fs>/<f>:
    wall time, throughput, and our server's memory: VmHWM is reset (`echo 5 > /proc/PID/clear_refs`,
    after login: the Argon2 peak is not counted) then read after the upload; VmRSS is also sampled
    every 50 ms. The stored file is compared with the source (size + SHA-256).
    Target: peak RSS growth (VmHWM after - RSS at the reset) <= 64 MiB.
(client floor, information) per round: the same create_file calls against a sink (nginx answering 201
    at once): what plantdb-client itself costs; Python's wall divided by it is the best ratio any server
    can reach with this client on this machine. Each server's CPU time per round is recorded too.
(floors, information) per round, without HTTP, on the same filesystem: the 100 files written + fsynced
    from 4 threads; the same followed by ours' durable protocol (data rename + directory fsync, metadata
    JSON and files.json atomic writes) all under one mutex, as ours holds its exclusive fileset lock;
    and with only the files.json update under the mutex.

Prints one table and the target checks; writes the raw results to --out (JSON) and the table
beside it (.txt). Exit 0 if every target is met, 1 if one is missed, 2 on errors.
"""
import argparse
import hashlib
import http.client
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))
import harness as h  # noqa: E402  (bench/harness.py: servers, RSS)

import logging  # noqa: E402
logging.disable(logging.ERROR)
from plantdb.client.plantdb_client import PlantDBClient  # noqa: E402
from urllib3.filepost import encode_multipart_formdata  # noqa: E402

MiB = 1 << 20
ADMIN_PASSWORD = "bench-Admin-pass-2026"


def log(msg):
    print(f"upload-bench: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data

def make_images(n, distinct=10, w=2048, h=1536, seed=20261202):
    """n JPEGs (~1.5 MB): `distinct` noisy gradients, each file unique through a COM segment."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(seed)
    bases = []
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    for k in range(distinct):
        base = np.concatenate([200 - 90 * y + 20 * x, np.broadcast_to(210 - 60 * y + 5 * k, (h, w, 1)),
                               230 - 150 * y + 10 * np.sin(6 * x + k)], axis=2)
        arr = base + rng.integers(-24, 25, size=(h, w, 3)).astype(np.float32)
        buf = io.BytesIO()
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=92)
        bases.append(buf.getvalue())
    out = []
    for i in range(n):
        b = bases[i % distinct]
        com = f"plantdb-auth upload bench image {i:05d}".encode()
        seg = b"\xff\xfe" + (len(com) + 2).to_bytes(2, "big") + com
        out.append((f"{i:05d}_rgb", b[:2] + seg + b[2:]))
    return out


def make_big(path, size):
    """`size` bytes of pseudo-random data (a 16 MiB random block, each copy stamped with its index)."""
    block = bytearray(os.urandom(16 * MiB))
    with open(path, "wb") as f:
        left, i = size, 0
        while left > 0:
            block[:8] = i.to_bytes(8, "little")
            chunk = bytes(block[:min(left, len(block))])
            f.write(chunk)
            left -= len(chunk)
            i += 1


def fsync_floor(images, threads, directory):
    """The disk's floor for this workload: write + fsync each file (and its directory) from `threads`
    threads, no HTTP, no JSON. Our server fsyncs every data file (spec §1.9); Python never does."""
    directory.mkdir(parents=True, exist_ok=True)

    def one(item):
        fid, data = item
        fd = os.open(directory / f"{fid}.jpg", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as ex:
        list(ex.map(one, images))
    wall = time.perf_counter() - t0
    shutil.rmtree(directory, ignore_errors=True)
    return wall


def protocol_floor(images, threads, directory, narrow=False):
    """The disk cost of ours' write protocol without HTTP (spec §1.9, §9.3): per file, the data written
    to a temporary + fsync, then under one mutex (ours: the exclusive fileset lock) the rename +
    directory fsync, the file's metadata JSON and files.json each written to a temporary + fsync +
    rename + directory fsync. `narrow`: only the files.json update under the mutex (the data rename
    and the metadata JSON before it), i.e. what §9.3 asks ("the per-scan mutex serialises only the
    files.json update")."""
    (directory / "images").mkdir(parents=True, exist_ok=True)
    (directory / "metadata" / "images").mkdir(parents=True, exist_ok=True)
    mutex = threading.Lock()
    entries = []

    def fsync_dir(d):
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def atomic(d, name, data):
        tmp = d / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, d / name)
        fsync_dir(d)

    def one(item):
        fid, data = item
        tmp = directory / "images" / f".{fid}.upload"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if narrow:
            os.rename(tmp, directory / "images" / f"{fid}.jpg")
            fsync_dir(directory / "images")
            atomic(directory / "metadata" / "images", f"{fid}.json",
                   json.dumps({"channel": "rgb", "created": "x"}, indent=4).encode())
        with mutex:
            if not narrow:
                os.rename(tmp, directory / "images" / f"{fid}.jpg")
                fsync_dir(directory / "images")
                atomic(directory / "metadata" / "images", f"{fid}.json",
                       json.dumps({"channel": "rgb", "created": "x"}, indent=4).encode())
            entries.append({"file": f"{fid}.jpg", "id": fid})
            atomic(directory, "files.json", json.dumps({"filesets": [{"files": entries, "id": "images"}]},
                                                       indent=4, sort_keys=True).encode())

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as ex:
        list(ex.map(one, images))
    wall = time.perf_counter() - t0
    shutil.rmtree(directory, ignore_errors=True)
    return wall


def sha256_file(path):
    d = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 * MiB):
            d.update(chunk)
    return d.hexdigest()


# --------------------------------------------------------------------------- servers

class Ours(h.Server):
    def __init__(self, binary, db, log_path):
        port = h.free_port()
        super().__init__("ours", [binary, "serve", "--db", str(db), "--host", h.HOST, "--port", str(port),
                                  "--no-rate-limits", "--log-level", "warn"], port, log_path,
                         env={"PLANTDB_ADMIN_PASSWORD": ADMIN_PASSWORD})
        self.db, self.user, self.password = Path(db), "admin", ADMIN_PASSWORD


class Python(h.Server):
    def __init__(self, python, db, log_path):
        port = h.free_port()
        Path(db).mkdir(parents=True, exist_ok=True)
        (Path(db) / "romidb").touch()
        super().__init__("python", [python, str(REPO / "scripts" / "pycompat" / "run_python_server.py"), "--host",
                                    h.HOST, "--port", str(port), "--db-path", str(db), "--log-level", "WARNING"],
                         port, log_path)
        self.db, self.user, self.password = Path(db), "admin", "admin"


def url(srv):
    return f"http://{h.HOST}:{srv.port}"


class Sink:
    """The client's floor: nginx answering every upload at once with 201 {"id": <last path segment>}
    after reading (and discarding) the body. plantdb-client against it costs what the client itself
    costs (multipart encoding, requests, the GIL): no server can make the robot's uploads faster."""

    def __init__(self, binary, work):
        self.binary, self.dir, self.port, self.proc = binary, Path(work) / "sink", h.free_port(), None

    def start(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "nginx.conf").write_text(f"""worker_processes 1;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_max_body_size 0;
    client_body_temp_path {self.dir}/body;
    proxy_temp_path {self.dir}/proxy;
    fastcgi_temp_path {self.dir}/fastcgi;
    uwsgi_temp_path {self.dir}/uwsgi;
    scgi_temp_path {self.dir}/scgi;
    server {{
        listen {h.HOST}:{self.port};
        location ~ /([^/]+)$ {{ default_type application/json; return 201 '{{"id": "$1"}}'; }}
    }}
}}
""")
        self.proc = subprocess.Popen([self.binary, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(500):
            if self.proc.poll() is not None:
                raise RuntimeError(f"sink nginx exited with {self.proc.returncode}: see {self.dir}/error.log")
            try:
                conn = http.client.HTTPConnection(h.HOST, self.port, timeout=1)
                conn.request("POST", "/x", body=b"")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("sink nginx did not answer")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def sink_round(sink, images, threads):
    """plantdb-client's create_file x threads against the sink: the client's own wall and CPU time."""
    c = PlantDBClient(f"http://{h.HOST}:{sink.port}")
    errors = []

    def up(item):
        fid, data = item
        r = c.create_file(io.BytesIO(data), fid, "jpg", "sink", "images",
                          metadata={"channel": "rgb", "shot_id": fid[:5]})
        if r.get("id") != fid:
            errors.append(f"{fid}: {r}")

    t0, c0 = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=threads) as ex:
        list(ex.map(up, images))
    return time.perf_counter() - t0, time.process_time() - c0, errors[:3]


def client_for(srv):
    c = PlantDBClient(url(srv))
    if not c.login(srv.user, srv.password):
        raise RuntimeError(f"login as {srv.user} failed on {srv.name}")
    return c


# --------------------------------------------------------------------------- (a) robot upload

def robot_round(srv, images, threads, scan_id):
    c = client_for(srv)
    c.create_scan(scan_id, metadata={"object": {"species": "Arabidopsis thaliana"}})
    c.create_fileset("images", scan_id)
    errors = []

    def up(item):
        fid, data = item
        try:
            r = c.create_file(io.BytesIO(data), fid, "jpg", scan_id, "images",
                              metadata={"channel": "rgb", "shot_id": fid[:5]})
            if r.get("id") != fid:
                errors.append(f"{fid}: {r}")
        except Exception as e:  # noqa: BLE001
            errors.append(f"{fid}: {type(e).__name__}: {e}")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as ex:
        list(ex.map(up, images))
    wall = time.perf_counter() - t0
    problems = list(errors[:3])
    listed = c.list_fileset_files(scan_id, "images")["files"]
    if sorted(listed) != sorted(f for f, _ in images):
        problems.append(f"list_fileset_files: {len(listed)} ids, expected {len(images)}")
    fs_dir = srv.db / scan_id / "images"
    for fid, data in images:
        p = fs_dir / f"{fid}.jpg"
        if not p.is_file() or p.stat().st_size != len(data):
            problems.append(f"{p.name}: {'missing' if not p.is_file() else p.stat().st_size} on disk, {len(data)} sent")
            break
    return wall, problems


def raw_round(srv, bodies, threads, scan_id):
    """The same uploads, multipart pre-encoded, http.client keep-alive per thread."""
    c = client_for(srv)
    c.create_scan(scan_id)
    c.create_fileset("images", scan_id)
    token = c._access_token
    local = threading.local()
    errors = []

    def up(item):
        fid, (body, ctype) = item
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(h.HOST, srv.port, timeout=300)
        try:
            conn.request("POST", f"/api/v1/files/{scan_id}/images/{fid}", body=body,
                         headers={"Content-Type": ctype, "Authorization": f"Bearer {token}"})
            r = conn.getresponse()
            r.read()
            if r.status != 201:
                errors.append(f"{fid}: {r.status}")
        except Exception as e:  # noqa: BLE001
            local.conn = None
            errors.append(f"{fid}: {type(e).__name__}: {e}")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as ex:
        list(ex.map(up, bodies))
    wall = time.perf_counter() - t0
    return wall, errors[:3]


# --------------------------------------------------------------------------- (b) big upload

def big_upload(srv, big_path, size):
    c = client_for(srv)
    c.create_scan("big_upload")
    c.create_fileset("fs", "big_upload")
    token = c._access_token
    pid = srv.pid
    time.sleep(2.5)  # let the login's Argon2 memory go back (the pool frees it ~2 s after use)
    rss_before = h.proc_kib(pid, "VmRSS")
    hwm_since_start = h.proc_kib(pid, "VmHWM")
    reset = True
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError as e:
        reset = False
        log(f"could not reset VmHWM ({e}): the peak includes the start-up/login peak")
    hwm_before = h.proc_kib(pid, "VmHWM")
    sampler = h.RssSampler(pid)
    sampler.start()
    out = srv.db.parent / "big-response.json"
    cmd = ["curl", "-sS", "-o", str(out), "-w", "%{http_code} %{time_total} %{size_upload}",
           "-H", f"Authorization: Bearer {token}", "-H", "Expect:",
           "-F", f"file=@{big_path};type=application/octet-stream", "-F", "ext=ply",
           f"{url(srv)}/api/v1/files/big_upload/fs/big_cloud"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - t0
    rss_peak_sampled = sampler.stop()
    hwm_after = h.proc_kib(pid, "VmHWM")
    rss_after = h.proc_kib(pid, "VmRSS")
    parts = (r.stdout or "").split()
    status = int(parts[0]) if parts and parts[0].isdigit() else None
    problems = []
    if r.returncode != 0 or status != 201:
        problems.append(f"curl rc {r.returncode} status {status}: {r.stderr.strip()[:200]} "
                        f"{out.read_text()[:200] if out.exists() else ''}")
    stored = srv.db / "big_upload" / "fs" / "big_cloud.ply"
    if not problems:
        if not stored.is_file() or stored.stat().st_size != size:
            problems.append(f"stored file: {stored.stat().st_size if stored.is_file() else 'missing'} bytes, "
                            f"{size} sent")
        elif sha256_file(stored) != sha256_file(big_path):
            problems.append("stored file differs from the source (SHA-256)")
        leftovers = [p.name for p in stored.parent.iterdir() if p.name.startswith(".")]
        if leftovers:
            problems.append(f"temporary files left: {leftovers}")
    return {
        "status": status, "curl_time_s": float(parts[1]) if len(parts) > 1 else None, "wall_s": round(wall, 3),
        "bytes": size, "throughput_mib_s": round(size / MiB / wall, 1),
        "rss_before_mib": round(rss_before / 1024, 1), "hwm_since_start_mib": round(hwm_since_start / 1024, 1),
        "hwm_reset": reset, "hwm_at_reset_mib": round(hwm_before / 1024, 1),
        "hwm_after_mib": round(hwm_after / 1024, 1), "rss_after_mib": round(rss_after / 1024, 1),
        "rss_peak_sampled_mib": rss_peak_sampled,
        "growth_mib": round((hwm_after - (hwm_before if reset else rss_before)) / 1024, 1),
        "problems": problems,
    }


# --------------------------------------------------------------------------- main

def fs_type(path):
    """The filesystem type of `path` (from /proc/mounts: longest mount point prefix)."""
    best, kind = "", "?"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            dev, mnt, typ = line.split()[:3]
            if str(Path(path).resolve()).startswith(mnt) and len(mnt) > len(best):
                best, kind = mnt, f"{typ} ({dev} at {mnt})"
    except OSError:
        pass
    return kind


def fmt(v, nd=2):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return str(v)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ours", required=True, help="our release binary")
    ap.add_argument("--python", default=sys.executable, help="the venv python running the Python server")
    ap.add_argument("--no-python", action="store_true", help="skip the Python server (no ratio)")
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--big-size", type=int, default=1 << 30, help="bytes of the big upload (default 1 GiB)")
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--no-raw", action="store_true", help="skip the pre-encoded multipart rows")
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx",
                    help="nginx for the client-floor sink (skipped when absent)")
    ap.add_argument("--target-ratio", type=float, default=5.0)
    ap.add_argument("--target-growth-mib", type=float, default=64.0)
    ap.add_argument("--out", help="raw JSON (default bench/results/upload-<time>.json; .txt beside it)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args(argv)

    stamp = datetime.now().strftime("%Y-%m-%dT%H%M%S")
    out = Path(a.out) if a.out else REPO / "bench" / "results" / f"upload-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="plantdb-upload-bench-"))
    raw = {"time": stamp, "machine": {"cpus": os.cpu_count(), "load_start": os.getloadavg(),
                                      "python": platform.python_version(), "kernel": platform.release()},
           "params": vars(a), "robot": {"ours": [], "python": []}, "raw": {"ours": [], "python": []},
           "big": None, "problems": [], "notes": []}
    servers = []
    try:
        t0 = time.perf_counter()
        images = make_images(a.images)
        sizes = [len(d) for _, d in images]
        raw["images"] = {"count": len(images), "total_mb": round(sum(sizes) / 1e6, 1),
                         "avg_mb": round(sum(sizes) / len(sizes) / 1e6, 2), "min_mb": round(min(sizes) / 1e6, 2),
                         "max_mb": round(max(sizes) / 1e6, 2)}
        log(f"{len(images)} JPEGs made ({raw['images']['total_mb']} MB) in {time.perf_counter() - t0:.1f} s")
        bodies = [] if a.no_raw else [
            (fid, encode_multipart_formdata([("file", (f"{fid}.jpg", data, "image/jpeg")), ("ext", "jpg"),
                                             ("metadata", json.dumps({"channel": "rgb", "shot_id": fid[:5]}))]))
            for fid, data in images]

        ours = Ours(a.ours, work / "ours-db", work / "ours.log")
        raw["startup_ms"] = {"ours": ours.start()}
        servers.append(ours)
        py = None
        if not a.no_python:
            py = Python(a.python, work / "py-db", work / "python.log")
            raw["startup_ms"]["python"] = py.start(timeout=600)
            servers.append(py)

        sink = None
        if Path(a.nginx).is_file():
            sink = Sink(a.nginx, work)
            sink.start()
            servers.append(sink)
        else:
            raw["notes"].append(f"no nginx at {a.nginx}: the client floor is not measured")
        raw["fsync_floor"] = []
        raw["client_floor"] = []
        raw["client_cpu"] = []
        raw["server_cpu"] = {"ours": [], "python": []}
        for r in range(a.rounds):
            if sink:
                wall, cpu, problems = sink_round(sink, images, a.threads)
                raw["client_floor"].append(round(wall, 3))
                raw["client_cpu"].append(round(cpu, 3))
                raw["problems"] += [f"sink round {r}: {p}" for p in problems]
                log(f"round {r}: client floor (plantdb-client against a sink) {wall:.2f} s, client CPU {cpu:.2f} s")
            wall = fsync_floor(images, a.threads, work / "floor")
            raw["fsync_floor"].append(round(wall, 3))
            pwall = protocol_floor(images, a.threads, work / "floor2")
            raw.setdefault("protocol_floor", []).append(round(pwall, 3))
            nwall = protocol_floor(images, a.threads, work / "floor3", narrow=True)
            raw.setdefault("protocol_floor_narrow", []).append(round(nwall, 3))
            log(f"round {r}: disk floor (write+fsync {len(images)} files x{a.threads} threads) {wall:.2f} s, "
                f"with ours' atomic metadata/files.json protocol {pwall:.2f} s (only files.json serialised "
                f"{nwall:.2f} s)")
            order = [s for s in ([ours, py] if r % 2 == 0 else [py, ours]) if s]
            for srv in order:
                cpu0 = h.cpu_seconds([srv.pid])
                wall, problems = robot_round(srv, images, a.threads, f"robot_r{r}")
                raw["server_cpu"][srv.name].append(round(h.cpu_seconds([srv.pid]) - cpu0, 3))
                raw["robot"][srv.name].append(round(wall, 3))
                raw["problems"] += [f"{srv.name} robot round {r}: {p}" for p in problems]
                log(f"round {r} {srv.name}: {len(images)} create_file x{a.threads} threads in {wall:.2f} s"
                    + (f" PROBLEMS {problems}" if problems else ""))
                if bodies:
                    wall, problems = raw_round(srv, bodies, a.threads, f"raw_r{r}")
                    raw["raw"][srv.name].append(round(wall, 3))
                    raw["problems"] += [f"{srv.name} raw round {r}: {p}" for p in problems]
                    log(f"round {r} {srv.name}: {len(bodies)} pre-encoded multipart x{a.threads} in {wall:.2f} s")
        if py:
            py.stop()
            servers.remove(py)

        if not a.skip_big:
            big = work / "big.ply"
            t0 = time.perf_counter()
            make_big(big, a.big_size)
            log(f"{a.big_size / MiB:.0f} MiB source written in {time.perf_counter() - t0:.1f} s; uploading to ours")
            raw["big"] = big_upload(ours, big, a.big_size)
            raw["problems"] += [f"big upload: {p}" for p in raw["big"]["problems"]]
            log(f"big upload: {raw['big']}")
        raw["machine"]["load_end"] = os.getloadavg()
    finally:
        for s in servers:
            s.stop()
        if a.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    # ----------------------------------------------------------------- report
    med = {k: h.median(v) for k, v in raw["robot"].items()}
    medraw = {k: h.median(v) for k, v in raw["raw"].items()}
    total_mb = raw["images"]["total_mb"]
    ratio = (med["python"] / med["ours"]) if med.get("python") and med.get("ours") else None
    ratio_raw = (medraw["python"] / medraw["ours"]) if medraw.get("python") and medraw.get("ours") else None
    rows = [("workload", "ours", "python", "py/ours")]
    label = f"{a.images} JPEG ({raw['images']['avg_mb']} MB avg) create_file x{a.threads} thr, s"
    rows.append((label, fmt(med.get("ours")), fmt(med.get("python")), fmt(ratio, 1) + "x" if ratio else "-"))
    rows.append(("  throughput, MB/s", fmt(total_mb / med["ours"], 1) if med.get("ours") else "-",
                 fmt(total_mb / med["python"], 1) if med.get("python") else "-", ""))
    rows.append(("  per-round wall s", " ".join(fmt(v) for v in raw["robot"]["ours"]),
                 " ".join(fmt(v) for v in raw["robot"]["python"]), ""))
    scpu = {k: h.median(v) for k, v in raw["server_cpu"].items() if v}
    rows.append(("  server CPU s (incl. login, scan, fileset)", fmt(scpu.get("ours")), fmt(scpu.get("python")), ""))
    client_floor = h.median(raw["client_floor"]) if raw["client_floor"] else None
    ceiling = (med["python"] / client_floor) if client_floor and med.get("python") else None
    if client_floor:
        rows.append(("client floor: the same calls against a sink (nginx 201), s", fmt(client_floor), "",
                     fmt(ceiling, 1) + "x" if ceiling else "-"))
        rows.append(("  client CPU s (plantdb-client, 4 threads, one GIL)", fmt(h.median(raw["client_cpu"])), "", ""))
        if med.get("ours"):
            rows.append(("  ours: share of the reachable speed-up (floor / ours)", fmt(client_floor / med["ours"], 2),
                         "", ""))
    if medraw.get("ours"):
        rows.append((f"same, multipart pre-encoded (http.client x{a.threads}), s", fmt(medraw.get("ours")),
                     fmt(medraw.get("python")), fmt(ratio_raw, 1) + "x" if ratio_raw else "-"))
        rows.append(("  throughput, MB/s", fmt(total_mb / medraw["ours"], 1),
                     fmt(total_mb / medraw["python"], 1) if medraw.get("python") else "-", ""))
    floor = h.median(raw.get("fsync_floor") or [])
    if floor:
        rows.append((f"disk floor: write+fsync the {a.images} files x{a.threads} (no HTTP), s", fmt(floor), "", ""))
        pfloor = h.median(raw.get("protocol_floor") or [])
        rows.append(("  + data rename, metadata, files.json atomic, all serialised, s", fmt(pfloor), "", ""))
        rows.append(("  + the same, only the files.json update serialised, s",
                     fmt(h.median(raw.get("protocol_floor_narrow") or [])), "", ""))
    b = raw["big"]
    if b:
        rows.append((f"{b['bytes'] / MiB:,.0f} MiB .ply, curl multipart, s", fmt(b["wall_s"]), "", ""))
        rows.append(("  throughput, MiB/s", fmt(b["throughput_mib_s"], 1), "", ""))
        rows.append(("  RSS MiB at reset / VmHWM after / growth",
                     f"{fmt(b['hwm_at_reset_mib'], 1)} / {fmt(b['hwm_after_mib'], 1)} / {fmt(b['growth_mib'], 1)}", "", ""))
        rows.append(("  RSS MiB sampled peak / after / VmHWM since start",
                     f"{fmt(b['rss_peak_sampled_mib'], 1)} / {fmt(b['rss_after_mib'], 1)} / "
                     f"{fmt(b['hwm_since_start_mib'], 1)}", "", ""))
    if raw.get("startup_ms"):
        rows.append(("startup ms", fmt(raw["startup_ms"].get("ours"), 0), fmt(raw["startup_ms"].get("python"), 0), ""))
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for i, r in enumerate(rows):
        lines.append(f"{r[0]:<{w[0]}}  {r[1]:>{w[1]}}  {r[2]:>{w[2]}}  {r[3]:>{w[3]}}".rstrip())
        if i == 0:
            lines.append("  ".join("-" * x for x in w))
    m = raw["machine"]
    lines.append("")
    lines.append(f"work directory {work} on {fs_type(work.parent)}: ours fsyncs every file it writes (spec §1.9), "
                 f"the Python server never fsyncs")
    lines.append(f"{m['cpus']} CPUs (shared with other jobs: noisy), load at start "
                 f"{' '.join(f'{x:.2f}' for x in m['load_start'])}, at end "
                 f"{' '.join(f'{x:.2f}' for x in m.get('load_end', ()))}; {a.rounds} rounds, medians; client and "
                 f"servers on the same machine; ours = {a.ours} --no-rate-limits; Python = plantdb-server 0.17.0 "
                 f"(unmodified, Werkzeug threaded)")
    targets = []
    if ratio is not None:
        targets.append((f"{a.images} images x{a.threads} threads (plantdb-client): ours >= {a.target_ratio:g}x "
                        f"faster than Python", ratio, ratio >= a.target_ratio, f">= {a.target_ratio:g}"))
        if ceiling is not None and ceiling < a.target_ratio:
            lines.append("")
            lines.append(f"note: with this client the {a.target_ratio:g}x target is out of reach of any server: "
                         f"plantdb-client alone, against a server that answers at once, takes {client_floor:.2f} s, "
                         f"i.e. at most {ceiling:.1f}x Python's {med['python']:.2f} s.")
    if b:
        targets.append((f"{b['bytes'] / MiB:,.0f} MiB upload: RSS growth <= {a.target_growth_mib:g} MiB",
                        b["growth_mib"], b["growth_mib"] <= a.target_growth_mib, f"<= {a.target_growth_mib:g}"))
    targets.append(("every upload stored correctly (ids, sizes, SHA-256)", len(raw["problems"]),
                    not raw["problems"], "problems = 0"))
    lines.append("")
    lines.append("targets:")
    for name, v, ok, want in targets:
        lines.append(f"  [{'PASS' if ok else 'FAIL'}] {name}: {fmt(float(v), 2)} ({want})")
    for p in raw["problems"][:10]:
        lines.append(f"  problem: {p}")
    table = "\n".join(lines)
    print(table)
    raw["targets"] = [{"name": n, "value": v, "pass": ok, "want": want} for n, v, ok, want in targets]
    out.write_text(json.dumps(raw, indent=2, default=str))
    out.with_suffix(".txt").write_text(table + "\n")
    log(f"wrote {out} and {out.with_suffix('.txt')}")
    return 0 if all(ok for _, _, ok, _ in targets) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
