#!/usr/bin/env python3
"""The data read side of plantdb-auth vs the Python plantdb-server 0.17.0 (and nginx), in one run.

Normally started by bench/data.sh, which installs what this needs. Standard library
only (+ bench/harness.py); every address is 127.0.0.1.

One database of N scans (bench/data/scale_db.py over the data fixture); ours and
Python each serve their own copy; nginx (sendfile on) serves our copy's big file.
Rounds alternate which server goes first. Workloads:

  1. GET /api/v1/scans/info and GET /api/v1/scans/<bench scan>: req/s + latency, c=8
  2. warm thumbnail GET /api/v1/assets/image/<scan>/images/<img>?size=thumb, c=8
  3. the big raw file GET /api/v1/files/<scan>/Colmap__True_None_0/big: MB/s at c=4,
     ours vs nginx (and Python, for information)
  4. GET /api/v1/assets/pointcloud/<scan>?size=preview: warm (c=8) and cold (the
     scan's webcache/ deleted before each request), on the fixture's 6 000-point
     cloud and on a large synthetic one (--cloud-points)
  5. our RSS (VmRSS sampled every 50 ms, VmHWM) over all of it

Throughput comes from wrk. When wrk completes fewer than 10 x c requests in its
window (Python's scans/info takes > 1 s a request), the figure would be biased low
(requests in flight when wrk stops are lost, and a GIL-bound server finishes its c
requests together), so it is re-measured with a fixed-count client: c keep-alive
connections, K requests each, throughput = all requests / time until the last one.
Prints one table, writes the raw results as JSON (+ the table as .txt).
Exit status: 0 if every target is met, 1 if one is missed, 2+ on errors.
"""

import argparse
import http.client
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
import harness as h  # noqa: E402  (bench/harness.py: servers, wrk, RSS)

MIB = 1024 * 1024
CONNS = 8
FILE_CONNS = 4


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ours", default=str(REPO / "target/release/plantdb-auth"))
    p.add_argument("--python", required=True, help="the venv's python (plantdb-server 0.17.0)")
    p.add_argument("--open3d", default="unknown", help="'real' or 'stub' (how the Python server gets open3d)")
    p.add_argument("--fixture", default=None, help="a data fixture (default: generate one)")
    p.add_argument("--scans", type=int, default=300)
    p.add_argument("--big-file-mib", type=int, default=64)
    p.add_argument("--cloud-points", type=int, default=500_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    p.add_argument("--cold", type=int, default=5, help="cold previews timed per server (fixture cloud)")
    p.add_argument("--cold-big", type=int, default=3, help="cold previews timed per server (large cloud)")
    p.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    p.add_argument("--no-python", action="store_true", help="ours and nginx only (no targets vs Python)")
    p.add_argument("--out", default=None, help="JSON results (default bench/results/data-<time>.json)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--ours-env", action="append", default=[], metavar="KEY=VALUE",
                   help="environment for our server (diagnostics, e.g. MALLOC_ARENA_MAX=2); repeatable")
    return p.parse_args()


# -- processes ---------------------------------------------------------------

class Nginx:
    """nginx with its own prefix in a temp directory, serving `root` on a loopback port."""

    def __init__(self, binary, work, root):
        self.binary, self.dir, self.root = binary, Path(work) / "nginx", Path(root)
        self.port = h.free_port()
        self.proc = None

    def start(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the temp database
        (self.dir / "nginx.conf").write_text(
            f"""{user}worker_processes auto;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    default_type application/octet-stream;
    client_body_temp_path {self.dir}/client_body;
    proxy_temp_path {self.dir}/proxy;
    fastcgi_temp_path {self.dir}/fastcgi;
    uwsgi_temp_path {self.dir}/uwsgi;
    scgi_temp_path {self.dir}/scgi;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.root};
    }}
}}
""")
        log = open(self.dir / "stdout.log", "ab")
        self.proc = subprocess.Popen(
            [self.binary, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"), "-e", str(self.dir / "error.log")],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        for _ in range(500):
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}: see {self.dir}/error.log")
            try:
                socket_ok = http.client.HTTPConnection(h.HOST, self.port, timeout=1)
                socket_ok.request("HEAD", "/")
                socket_ok.getresponse().read()
                socket_ok.close()
                return
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("nginx did not answer")

    @property
    def pid(self):
        return self.proc.pid

    def pids(self):
        return [self.proc.pid, *h.children(self.proc.pid)]

    def version(self):
        r = subprocess.run([self.binary, "-v"], capture_output=True, text=True)
        return (r.stderr or r.stdout).strip()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


# -- HTTP ----------------------------------------------------------------------

def get(port, path, timeout=120):
    """One GET on a fresh connection: (status, headers dict, body bytes, seconds)."""
    conn = http.client.HTTPConnection(h.HOST, port, timeout=timeout)
    t0 = time.perf_counter()
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    secs = time.perf_counter() - t0
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body, secs


def fixed_count(port, path, conns, per_conn, timeout=600):
    """`conns` connections (keep-alive when the server keeps them), `per_conn`
    requests each, all at once; throughput = all requests / time to the last."""
    lat, errors, nbytes = [], [], [0]
    lock = threading.Lock()
    start = threading.Barrier(conns + 1)

    def client():
        conn = http.client.HTTPConnection(h.HOST, port, timeout=timeout)
        start.wait()
        for _ in range(per_conn):
            t0 = time.perf_counter()
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
                ok = resp.status == 200
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection(h.HOST, port, timeout=timeout)
            except OSError as e:
                ok, body = False, str(e).encode()
                conn.close()
                conn = http.client.HTTPConnection(h.HOST, port, timeout=timeout)
            with lock:
                (lat if ok else errors).append((time.perf_counter() - t0) if ok else body[:200])
                nbytes[0] += len(body)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(conns)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    us = [v * 1e6 for v in lat]
    return {
        "method": "fixed-count", "conns": conns, "per_conn": per_conn,
        "requests": len(lat), "duration_us": int(elapsed * 1e6), "bytes": nbytes[0],
        "rps": round(len(lat) / elapsed, 3), "failed": len(errors), "errors_sample": [repr(e) for e in errors[:3]],
        "latency_us": {"p50": int(h.percentile(us, 50) or 0), "p90": int(h.percentile(us, 90) or 0),
                       "p99": int(h.percentile(us, 99) or 0), "max": int(max(us, default=0)),
                       "mean": round(sum(us) / len(us), 1) if us else 0},
    }


# -- the benchmark -----------------------------------------------------------

class Bench:
    def __init__(self, args, work):
        self.args, self.work = args, Path(work)
        self.raw = {"checks": {}, "rounds": [], "cold": {}, "rss": {}, "notes": []}
        self.ours = self.py = self.nginx = None
        self.sampler = None

    def log(self, msg):
        print(msg, flush=True)

    # set-up
    def make_db(self):
        a = self.args
        fixture = Path(a.fixture) if a.fixture else self.work / "fixture"
        if not a.fixture:
            self.log("generating the data fixture (scripts/pycompat/generate_data_fixture.py)...")
            subprocess.run([a.python, str(REPO / "scripts/pycompat/generate_data_fixture.py"), str(fixture)],
                           check=True, stdout=subprocess.DEVNULL)
        self.log(f"scaling it to {a.scans} scans (+ {a.big_file_mib} MiB file, {a.cloud_points}-point cloud)...")
        out = subprocess.run(
            [sys.executable, str(HERE / "scale_db.py"), str(fixture), str(self.work / "ours-db"),
             "--scans", str(a.scans), "--big-file-mib", str(a.big_file_mib), "--cloud-points", str(a.cloud_points)],
            check=True, capture_output=True, text=True).stdout
        self.m = json.loads(out)
        self.raw["db"] = self.m
        if not a.no_python:
            shutil.copytree(self.work / "ours-db", self.work / "py-db", symlinks=True)
        m = self.m
        self.paths = {
            "scans_info": "/api/v1/scans/info",
            "scan": f"/api/v1/scans/{m['bench_scan']}",
            "thumb": f"/api/v1/assets/image/{m['bench_scan']}/{m['image']['fileset']}/{m['image']['file']}?size=thumb",
            "file": f"/api/v1/files/{m['bench_scan']}/{m['big_file']['fileset']}/{m['big_file']['file']}",
            "pc_preview": f"/api/v1/assets/pointcloud/{m['bench_scan']}?size=preview",
            "pc_preview_big": f"/api/v1/assets/pointcloud/{m['cloud_scan']}?size=preview",
            "nginx_file": "/" + m["big_file"]["relpath"],
        }

    def start(self):
        a = self.args
        port = h.free_port()
        self.ours = h.Server("ours", [a.ours, "serve", "--db", str(self.work / "ours-db"), "--port", str(port),
                                      "--no-rate-limits", "--log-level", "warn"], port, self.work / "ours.log",
                             env=dict(kv.split("=", 1) for kv in a.ours_env))
        self.raw["startup_ms"] = {"ours": self.ours.start()}
        if not a.no_python:
            port = h.free_port()
            self.py = h.Server("python", [a.python, str(HERE / "python_server.py"), "--host", h.HOST, "--port",
                                          str(port), "--db-path", str(self.work / "py-db"), "--log-level", "WARNING"],
                               port, self.work / "python.log")
            self.raw["startup_ms"]["python"] = self.py.start(timeout=600)
        self.nginx = Nginx(a.nginx, self.work, self.work / "ours-db")
        self.nginx.start()
        # Settle: the start-up peak (Argon2 work of the auth side, e.g. a hash at the
        # fixture's argon2-cffi parameters, m=64 MiB) is released ~2 s after its use.
        time.sleep(3)
        self.raw["rss"]["ours_idle_mib"] = h.rss_mib(self.ours.pid)
        self.raw["rss"]["ours_startup_hwm_mib"] = h.peak_mib(self.ours.pid)
        if self.py:
            self.raw["rss"]["python_idle_mib"] = h.rss_mib(self.py.pid)
        # From here VmHWM is the peak of the data workloads: Linux resets it on
        # `echo 5 > /proc/PID/clear_refs` (to the current RSS).
        try:
            Path(f"/proc/{self.ours.pid}/clear_refs").write_text("5")
            self.raw["rss"]["hwm_reset"] = True
        except OSError as e:
            self.raw["rss"]["hwm_reset"] = False
            self.raw["notes"].append(f"could not reset VmHWM ({e}): the RSS peaks include the start-up peak")
        self.sampler = h.RssSampler(self.ours.pid)
        self.sampler.start()
        self.raw["rss"]["stages"] = []

    def servers(self):
        return [s for s in (self.ours, self.py) if s]

    def check(self):
        """Every measured URL answers 200 on each server, with comparable bodies."""
        c = self.raw["checks"]
        big = self.m["big_file"]["bytes"]
        for s in self.servers():
            r = {}
            # (the large cloud is checked by its cold runs: its first preview is a workload)
            for key in ("scans_info", "scan", "thumb", "file", "pc_preview"):
                status, hd, body, secs = get(s.port, self.paths[key])
                if status != 200:
                    raise RuntimeError(f"{s.name}: GET {self.paths[key]} -> {status}: {body[:300]!r}")
                info = {"bytes": len(body), "content_type": hd.get("content-type"),
                        "connection": hd.get("connection", ""), "first_ms": round(secs * 1000, 1)}
                if key == "scans_info":
                    info["scans_listed"] = len(json.loads(body))
                if key.startswith("pc_"):
                    info["vertices"] = ply_vertices(body)
                if key == "file" and len(body) != big:
                    raise RuntimeError(f"{s.name}: the big file came back with {len(body)} bytes, not {big}")
                r[key] = info
            c[s.name] = r
        status, _, body, _ = get(self.nginx.port, self.paths["nginx_file"])
        if status != 200 or len(body) != big:
            raise RuntimeError(f"nginx: GET {self.paths['nginx_file']} -> {status}, {len(body)} bytes")
        c["nginx"] = {"file": {"bytes": len(body)}}
        if "python" in c and c["ours"]["scans_info"]["scans_listed"] != c["python"]["scans_info"]["scans_listed"]:
            self.raw["notes"].append("scans/info lists a different number of scans on ours and Python")

    def process_states(self):
        out = {}
        for s, name in ((self.ours, "ours"), (self.py, "python"), (self.nginx, "nginx")):
            if s is None or s.proc is None:
                continue
            code = s.proc.poll()
            log = self.work / ("nginx/error.log" if name == "nginx" else f"{name}.log")
            try:
                tail = log.read_text(errors="replace").splitlines()[-5:]
            except OSError:
                tail = []
            out[name] = {"pid": s.proc.pid, "returncode": code, "log_tail": tail}
        return out

    def alive(self):
        for s in (self.ours, self.py, self.nginx):
            if s and s.proc is not None and s.proc.poll() is not None:
                raise RuntimeError(f"{getattr(s, 'name', 'nginx')} exited with status {s.proc.returncode} "
                                   "(negative: killed by that signal, e.g. -9 OOM or another process)")

    def measure(self, name, port, path, conns, pids, timeout="60s", bytes_rate=False):
        """wrk (fixed-count fallback when too few requests completed); with the
        server's CPU seconds over the run."""
        self.alive()
        cpu0 = h.cpu_seconds(pids)
        r = h.wrk(port, path, conns, self.args.seconds, timeout=timeout)
        r["server_cpu_s"] = round(h.cpu_seconds(pids) - cpu0, 3)
        self.alive()
        # MB/s counts every byte read (partial responses too): no bias, no fallback.
        if r["requests"] < 10 * conns and not bytes_rate:
            per = max(2, math.ceil(24 / conns))
            self.log(f"    {name}: wrk completed {r['requests']} requests only: fixed-count, {conns} x {per}")
            cpu0 = h.cpu_seconds(pids)
            fc = fixed_count(port, path, conns, per)
            fc["server_cpu_s"] = round(h.cpu_seconds(pids) - cpu0, 3)
            fc["wrk_first"] = {k: r[k] for k in ("requests", "rps", "latency_us", "failed")}
            r = fc
        if r.get("failed"):
            self.raw["notes"].append(f"{name} {path}: {r['failed']} failed requests")
        return r

    def stage(self, label, s):
        if s is self.ours:
            self.raw["rss"]["stages"].append({"after": label, "rss_mib": h.rss_mib(s.pid), "hwm_mib": h.peak_mib(s.pid),
                                              "threads": len(os.listdir(f"/proc/{s.pid}/task"))})

    def pids_of(self, s):
        return self.nginx.pids() if s is self.nginx else [s.pid]

    def round(self, i):
        order = self.servers() if i % 2 == 0 else self.servers()[::-1]
        res = {}
        for key in ("scans_info", "scan", "thumb", "pc_preview"):
            for s in order:
                get(s.port, self.paths[key])  # warm: caches (thumbnail, preview), page cache
                res.setdefault(s.name, {})[key] = self.measure(s.name, s.port, self.paths[key], CONNS, self.pids_of(s))
                self.stage(f"round {i + 1} {key}", s)
        file_order = [self.ours, self.nginx] if i % 2 == 0 else [self.nginx, self.ours]
        if self.py:
            file_order.append(self.py)
        for s in file_order:
            name = "nginx" if s is self.nginx else s.name
            path = self.paths["nginx_file"] if s is self.nginx else self.paths["file"]
            res.setdefault(name, {})["file"] = self.measure(name, s.port, path, FILE_CONNS, self.pids_of(s), "120s",
                                                           bytes_rate=True)
            self.stage(f"round {i + 1} file", s)
        for s in order:
            # Sequential requests on one connection: a response written in two
            # segments (headers, then a small body) waits for the client's delayed ACK
            # when TCP_NODELAY is off (Nagle): ~40 ms a request on Linux.
            res[s.name]["thumb_sequential"] = sequential(s.port, self.paths["thumb"], 60, skip=20)
        self.log(f"  round {i + 1}/{self.args.rounds} done (order: {', '.join(s.name for s in order)})")
        return res

    def cold(self, key, scan, count):
        """`count` cold previews per server, alternating: the scan's webcache/
        is deleted before each; fresh connection each time."""
        out = {s.name: [] for s in self.servers()}
        for i in range(count):
            order = self.servers() if i % 2 == 0 else self.servers()[::-1]
            for s in order:
                self.alive()
                db = self.work / ("ours-db" if s is self.ours else "py-db")
                shutil.rmtree(db / scan / "webcache", ignore_errors=True)
                probe = fsync_probe_ms(db / scan, 90_000)
                status, _, body, secs = get(s.port, self.paths[key])
                if status != 200:
                    raise RuntimeError(f"{s.name}: cold {self.paths[key]} -> {status}: {body[:300]!r}")
                cached = list((db / scan / "webcache").glob("*.ply"))
                out[s.name].append({"ms": round(secs * 1000, 2), "bytes": len(body), "cache_files": len(cached),
                                    "fsync_probe_ms": probe, "vertices": ply_vertices(body)})
        return out

    def run(self):
        a = self.args
        self.stage("start (settled)", self.ours)
        self.raw["meta"] = meta(a, self.work, self.nginx)
        for i in range(a.rounds):
            self.raw["rounds"].append(self.round(i))
        self.raw["rss"]["ours_hwm_after_rounds_mib"] = h.peak_mib(self.ours.pid)
        self.stage("all rounds", self.ours)
        self.log("cold point-cloud previews (fixture cloud)...")
        self.raw["cold"]["pc_preview"] = self.cold("pc_preview", self.m["bench_scan"], a.cold)
        self.raw["rss"]["ours_hwm_after_cold_fixture_cloud_mib"] = h.peak_mib(self.ours.pid)
        self.stage("cold previews, fixture cloud", self.ours)
        self.log(f"cold point-cloud previews ({a.cloud_points}-point cloud)...")
        self.raw["cold"]["pc_preview_big"] = self.cold("pc_preview_big", self.m["cloud_scan"], a.cold_big)
        self.raw["rss"]["ours_hwm_final_mib"] = h.peak_mib(self.ours.pid)
        self.stage("cold previews, large cloud", self.ours)
        self.raw["rss"]["ours_rss_final_mib"] = h.rss_mib(self.ours.pid)
        if self.py:
            self.raw["rss"]["python_rss_final_mib"] = h.rss_mib(self.py.pid)
            self.raw["rss"]["python_hwm_final_mib"] = h.peak_mib(self.py.pid)
        self.raw["rss"]["ours_rss_sampled_max_mib"] = self.sampler.stop()
        self.raw["meta"]["loadavg_at_end"] = open("/proc/loadavg").read().split()[:3]

    def stop(self):
        for s in (self.ours, self.py, self.nginx):
            if s:
                s.stop()
        if self.sampler and self.sampler.is_alive():
            self.sampler.stop()


def sequential(port, path, count, skip=0):
    """`count` requests one after the other on one connection (a new one when the
    server closes it); latencies in ms, median of those after the first `skip`
    (Linux ACKs at once for the first segments of a connection: "quick-ack")."""
    conn = http.client.HTTPConnection(h.HOST, port, timeout=60)
    lat = []
    for _ in range(count):
        t0 = time.perf_counter()
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        lat.append(round((time.perf_counter() - t0) * 1000, 3))
        if resp.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = http.client.HTTPConnection(h.HOST, port, timeout=60)
    conn.close()
    tail = lat[skip:]
    return {"ms": lat, "skip": skip, "median_ms": h.median(tail), "mean_ms": round(sum(tail) / len(tail), 3),
            "share_over_30ms": round(sum(v >= 30 for v in tail) / len(tail), 3)}


def fsync_probe_ms(directory, size):
    """Write `size` bytes + fsync + remove in `directory`: how slow a durable
    write is on this disk right now (the cache write of a cold preview fsyncs)."""
    path = Path(directory) / ".bench-fsync-probe"
    t0 = time.perf_counter()
    with open(path, "wb") as f:
        f.write(b"\0" * size)
        f.flush()
        os.fsync(f.fileno())
    elapsed = (time.perf_counter() - t0) * 1000
    path.unlink()
    return round(elapsed, 2)


def ply_vertices(body):
    head = body[:2000].split(b"end_header", 1)[0].decode("latin-1")
    for line in head.splitlines():
        if line.startswith("element vertex"):
            return int(line.split()[2])
    return None


def meta(args, work, nginx):
    def version(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
            return (r.stdout or r.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "unknown"

    return {
        "date": datetime.now().isoformat(timespec="seconds"), "host": platform.node(),
        "cpus": os.cpu_count(), "loadavg_at_start": open("/proc/loadavg").read().split()[:3],
        "kernel": platform.release(), "wrk": version(["wrk", "-v"]), "nginx": nginx.version(),
        "ours": args.ours, "ours_version": version([args.ours, "--version"]),
        "python_server": None if args.no_python else "plantdb-server 0.17.0, Flask dev server (threaded), "
                         "rate limits patched out (bench/data/python_server.py), --log-level WARNING",
        "open3d": args.open3d, "rounds": args.rounds, "seconds_per_run": args.seconds,
        "conns": CONNS, "file_conns": FILE_CONNS, "workdir": str(work),
        "git": version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
    }


# -- report --------------------------------------------------------------------

def runs_of(raw, server, key):
    return [r[server][key] for r in raw["rounds"] if key in r.get(server, {})]


def summary_of(runs):
    if not runs:
        return None
    mb = [r["bytes"] / (r["duration_us"] / 1e6) / 1e6 for r in runs]
    cpu = [r["server_cpu_s"] / r["requests"] * 1000 for r in runs if r["requests"]]
    return {"rps": h.median([r["rps"] for r in runs]), "mb_s": h.median(mb),
            "p50_ms": h.median([r["latency_us"]["p50"] for r in runs]) / 1000,
            "p99_ms": h.median([r["latency_us"]["p99"] for r in runs]) / 1000,
            "cpu_ms_per_req": h.median(cpu), "failed": sum(r["failed"] for r in runs),
            "methods": sorted({r.get("method", "wrk") for r in runs}), "rounds": len(runs)}


def paired_ratio(raw, key, base, field):
    """Median over rounds of ours / base measured in the same round (adjacent
    runs): steadier than a ratio of medians when the machine's load drifts."""
    values = []
    for r in raw["rounds"]:
        o, b = r.get("ours", {}).get(key), r.get(base, {}).get(key)
        if o and b:
            ov, bv = (o["rps"], b["rps"]) if field == "rps" else (o["bytes"] / o["duration_us"], b["bytes"] / b["duration_us"])
            if bv:
                values.append(ov / bv)
    return h.median(values)


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        return f"{v:,.0f}{unit}"
    if abs(v) >= 100:
        return f"{v:.0f}{unit}"
    if abs(v) >= 10:
        return f"{v:.1f}{unit}"
    return f"{v:.2f}{unit}"


def report(raw, args):
    rows, targets = [], []
    s = {}
    base = "python"

    def ratio(a, b):
        return a / b if a is not None and b else None

    def add(metric, ours, baseline, r=None, target=None, ok=None):
        rows.append([metric, ours, baseline, r, target, ok])

    def lat(key, who):
        x = s[key].get(who)
        return f"{fmt(x['p50_ms'])} / {fmt(x['p99_ms'])}" if x else "-"

    for key in ("scans_info", "scan", "thumb", "pc_preview", "file"):
        s[key] = {who: summary_of(runs_of(raw, who, key)) for who in ("ours", "python", "nginx")}
    goals = {"scans_info": 20, "scan": 20, "thumb": 10}
    labels = {"scans_info": "GET scans/info req/s", "scan": "GET scans/<id> req/s",
              "thumb": "thumbnail (warm) req/s", "pc_preview": "pointcloud preview (warm) req/s"}
    n = raw["db"]["scans"]
    for key in ("scans_info", "scan", "thumb", "pc_preview"):
        o, p = s[key]["ours"], s[key]["python"]
        r = paired_ratio(raw, key, "python", "rps")
        goal = goals.get(key)
        ok = None if goal is None or r is None else r >= goal
        label = labels[key] + (f" ({n} scans)" if key == "scans_info" else "") + f", c={CONNS}"
        add(label, fmt(o and o["rps"]), fmt(p and p["rps"]) + (" *" if p and "fixed-count" in p["methods"] else ""),
            r and f"{r:.1f}x", goal and f">= {goal}x", ok)
        add("  latency p50 / p99 ms", lat(key, "ours"), lat(key, "python"))
        add("  server CPU ms / request", fmt(o and o["cpu_ms_per_req"]), fmt(p and p["cpu_ms_per_req"]))
        if goal and not (args.no_python and r is None):
            targets.append({"name": f"{key} >= {goal}x Python (req/s, median of per-round ratios)", "value": r, "goal": goal,
                            "ok": bool(ok)})
    o, ng, p = s["file"]["ours"], s["file"]["nginx"], s["file"]["python"]
    r = paired_ratio(raw, "file", "nginx", "mb_s")
    mib = raw["db"]["big_file"]["bytes"] // MIB
    add(f"{mib} MiB file MB/s, c={FILE_CONNS} (baseline nginx)", fmt(o and o["mb_s"]), fmt(ng and ng["mb_s"]) + " nginx",
        r and f"{r:.2f}", ">= 0.8", None if r is None else r >= 0.8)
    add("  latency p50 / p99 ms", lat("file", "ours"), lat("file", "nginx"))
    add("  server CPU ms / request (64 MiB)", fmt(o and o["cpu_ms_per_req"]), fmt(ng and ng["cpu_ms_per_req"]) + " nginx")
    targets.append({"name": "big file >= 0.8 x nginx (MB/s, median of per-round ratios)", "value": r, "goal": 0.8,
                    "ok": r is not None and r >= 0.8})
    if p:
        add("  (Python, same file, MB/s)", "", fmt(p["mb_s"]) + " python",
            (ratio(o and o["mb_s"], p["mb_s"]) and f"{ratio(o['mb_s'], p['mb_s']):.1f}x"))
    seq = {who: [r[who]["thumb_sequential"] for r in raw["rounds"] if "thumb_sequential" in r.get(who, {})]
           for who in ("ours", "python")}
    so = h.median([x["mean_ms"] for x in seq["ours"]])
    sp = h.median([x["mean_ms"] for x in seq["python"]])
    stalls = lambda who: h.median([x["share_over_30ms"] for x in seq[who]])  # noqa: E731
    add("thumbnail, 1 connection, sequential: mean ms (share >= 30 ms)",
        f"{fmt(so)} ({fmt(stalls('ours'))})" if so is not None else "-",
        f"{fmt(sp)} ({fmt(stalls('python'))})" if sp is not None else "-", (so and sp) and f"{sp / so:.1f}x")
    s["thumb_sequential_ms"] = {"ours": so, "python": sp}
    for key, label in (("pc_preview", f"pointcloud preview cold ms ({raw['db']['bench_cloud_bytes'] // 1000} kB ply)"),
                       ("pc_preview_big", f"pointcloud preview cold ms ({raw['db']['cloud_points']:,} pts, "
                                          f"{raw['db']['cloud_bytes'] / 1e6:.1f} MB)")):
        c = raw["cold"].get(key, {})
        om = h.median([x["ms"] for x in c.get("ours", [])])
        pm = h.median([x["ms"] for x in c.get("python", [])])
        add(label + ", median", fmt(om), fmt(pm), (om and pm) and f"{pm / om:.1f}x")
        probes = [x["fsync_probe_ms"] for who in c for x in c[who]]
        add("  (disk: 90 kB write + fsync just before, median / max ms)",
            f"{fmt(h.median(probes))} / {fmt(max(probes, default=None))}" if probes else "-", "")
        s[key + "_cold_ms"] = {"ours": om, "python": pm}
    rss = raw["rss"]
    add(f"RSS MiB idle ({n} scans), start-up peak (ours: auth side)",
        f"{fmt(rss.get('ours_idle_mib'))}, {fmt(rss.get('ours_startup_hwm_mib'))}", fmt(rss.get("python_idle_mib")))
    hwm_label = "VmHWM reset after start-up" if rss.get("hwm_reset") else "VmHWM since start"
    add(f"RSS MiB peak, workloads 1-4 ({hwm_label})",
        fmt(rss.get("ours_hwm_after_cold_fixture_cloud_mib")), "", None, "<= 100",
        rss.get("ours_hwm_after_cold_fixture_cloud_mib", 1e9) <= 100)
    add("RSS MiB peak, + large-cloud cold previews", fmt(rss.get("ours_hwm_final_mib")),
        fmt(rss.get("python_hwm_final_mib")) + " (python, since start)", None, "<= 100",
        rss.get("ours_hwm_final_mib", 1e9) <= 100)
    add("RSS MiB at the end (VmRSS)", fmt(rss.get("ours_rss_final_mib")), fmt(rss.get("python_rss_final_mib")))
    for k, label in (("ours_hwm_after_cold_fixture_cloud_mib", "RSS peak over workloads 1-4 <= 100 MiB"),
                     ("ours_hwm_final_mib", "RSS peak incl. the large-cloud cold previews <= 100 MiB")):
        targets.append({"name": label, "value": rss.get(k), "goal": 100, "ok": (rss.get(k) or 1e9) <= 100})

    head = ["metric", "ours", "baseline (python unless said)", "ratio", "target", "result"]
    cells = [[str(c) if c is not None and not isinstance(c, bool) else "" for c in r[:5]]
             + ["" if r[5] is None else ("PASS" if r[5] else "FAIL")] for r in rows]
    widths = [max(len(x[i]) for x in cells + [head]) for i in range(6)]
    line = lambda r: "  ".join(c.ljust(widths[i]) if i in (0, 2) else c.rjust(widths[i]) for i, c in enumerate(r))  # noqa: E731
    out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in cells]
    m = raw["meta"]
    chk = raw["checks"]
    out.append("")
    out.append(f"{m['cpus']} CPUs shared with other work (figures are noisy); load at start "
               f"{' '.join(m['loadavg_at_start'])}, at end {' '.join(m.get('loadavg_at_end', ['?']))}; "
               f"{m['rounds']} rounds x {m['seconds_per_run']} s per wrk run, alternating order; values: medians over "
               f"rounds; ratios: medians of the per-round ratios (ours vs the baseline run next to it); "
               f"wrk -t2 -c{CONNS} (file: -c{FILE_CONNS}) on 127.0.0.1.")
    def big_v(who):
        runs = raw["cold"].get("pc_preview_big", {}).get(who) or [{}]
        return runs[0].get("vertices")

    if "python" in chk:
        out.append(f"Python: plantdb-server 0.17.0 (Flask threaded dev server, open3d: {m['open3d']}), per-route rate "
                   f"limits patched out (bench/data/python_server.py); it answers 'Connection: close' "
                   f"(wrk reconnects per request). * = fixed-count client (wrk completed < 10 x c requests).")
        out.append(f"Same answers: scans/info lists {chk['ours']['scans_info']['scans_listed']} (ours) / "
                   f"{chk['python']['scans_info']['scans_listed']} (python) scans, "
                   f"{chk['ours']['scans_info']['bytes']:,} / {chk['python']['scans_info']['bytes']:,} bytes; "
                   f"preview vertices {chk['ours']['pc_preview']['vertices']} / {chk['python']['pc_preview']['vertices']}"
                   f" (fixture), {big_v('ours')} / {big_v('python')} (large); thumbnail "
                   f"{chk['ours']['thumb']['bytes']} / {chk['python']['thumb']['bytes']} bytes.")
    out.append(f"nginx: {m['nginx']}, sendfile on, worker_processes auto, serving our copy's file. "
               f"Start-up ms: ours {raw['startup_ms'].get('ours')}, python {raw['startup_ms'].get('python')}.")
    stages = rss.get("stages", [])
    if stages:
        steps, prev = [], None
        for st in stages:
            if prev is not None and st["hwm_mib"] - prev >= 3:
                steps.append(f"{st['after']} +{st['hwm_mib'] - prev:.0f}")
            prev = st["hwm_mib"]
        out.append(f"Our RSS peak (MiB) rose at: {', '.join(steps) or '-'}; threads at the end: {stages[-1]['threads']}.")
    for note in raw["notes"]:
        out.append(f"note: {note}")
    out.append("")
    out.append("targets:")
    for t in targets:
        v = "-" if t["value"] is None else f"{t['value']:.2f}"
        out.append(f"  [{'PASS' if t['ok'] else 'FAIL'}] {t['name']}: {v}")
    return {"workloads": s, "targets": targets}, "\n".join(out)


def main():
    args = parse_args()
    for tool in ("wrk",):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed (Debian: apt-get install -y wrk); bench/data.sh installs it")
    if not Path(args.nginx).exists():
        sys.exit(f"nginx not found at {args.nginx} (Debian: apt-get install -y nginx-light)")
    work = Path(tempfile.mkdtemp(prefix="plantdb-databench-"))
    bench = Bench(args, work)
    out = Path(args.out) if args.out else REPO / "bench/results" / f"data-{datetime.now():%Y%m%d-%H%M%S}.json"
    try:
        bench.make_db()
        print("starting ours, Python and nginx...", flush=True)
        bench.start()
        bench.check()
        bench.run()
    except Exception as e:
        bench.raw["error"] = repr(e)
        bench.raw["processes_at_error"] = bench.process_states()
        print(f"processes: {bench.raw['processes_at_error']}", file=sys.stderr)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".partial.json").write_text(json.dumps(bench.raw, indent=2, default=str))
        print(f"FAILED: {e!r}; partial raw results: {out.with_suffix('.partial.json')}", file=sys.stderr)
        raise
    finally:
        bench.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    raw = bench.raw
    summary, table = report(raw, args)
    raw["summary"] = summary
    print()
    print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(raw, indent=2))
    out.with_suffix(".txt").write_text(table + "\n")
    print(f"\nraw results: {out}" + (f"; work directory kept: {work}" if args.keep else ""))
    return 0 if all(t["ok"] for t in summary["targets"]) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        import traceback
        traceback.print_exc()
        sys.exit(2)
