#!/usr/bin/env python3
"""plantdb-auth vs the Python plantdb-server 0.17.0, on this machine, in one run.

Normally started by bench/compare.sh, which installs what this needs. Both
servers listen on their own 127.0.0.1 port with a fresh database; wrk runs
the same workloads against both, alternating the order each round. Prints
one table and the target checks, writes the raw results as JSON.
"""

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import fixtures
import harness as h

REPO = Path(__file__).resolve().parent.parent
VALIDATION = "/api/v1/auth/token/validation"
HEALTH = "/api/v1/health"
LOGIN = "/api/v1/auth/login"
CONNS = (1, 8, 32)
CREDENTIALS = {"username": "admin", "password": "admin"}
SETTLE = 3.0  # seconds before an "idle" memory reading


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ours", default=str(REPO / "target/release/plantdb-auth"), help="our release binary")
    p.add_argument("--python", required=True, help="the venv's python (plantdb-server 0.17.0 installed)")
    p.add_argument("--open3d", default="unknown", help="'real' or 'stub': how the Python server gets open3d")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    p.add_argument("--logins", type=int, default=20, help="sequential logins per round on our server")
    p.add_argument("--py-logins", type=int, default=5, help="per round on Python (it allows 20/min per IP)")
    p.add_argument("--storm-clients", type=int, default=8)
    p.add_argument("--sessions", type=int, default=100_000)
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--criterion", default=str(REPO / "target/criterion"), help="where the Argon2 bench wrote")
    p.add_argument("--out", default=None, help="JSON results file (default bench/results/compare-<time>.json)")
    return p.parse_args()


class Bench:
    def __init__(self, args, work):
        self.args, self.work = args, Path(work)
        self.raw = {"rounds": [], "rss_mib": {}, "startup_ms": {}}

    # -- servers ---------------------------------------------------------
    def ours(self, name, db, extra=()):
        port = h.free_port()
        cmd = [self.args.ours, "serve", "--db", str(db), "--port", str(port), "--no-rate-limits", *extra]
        return h.Server(name, cmd, port, self.work / f"{name}.log", env={"PLANTDB_ADMIN_PASSWORD": "admin"})

    def python(self, name, db):
        port = h.free_port()
        script = REPO / "scripts/pycompat/run_python_server.py"
        cmd = [self.args.python, str(script), "--host", h.HOST, "--port", str(port), "--db-path", str(db)]
        # Its MAX_SESSION (default 10) caps live sessions server-wide, and a
        # login beyond it fails: raised so that the benchmark's logins work.
        return h.Server(name, cmd, port, self.work / f"{name}.log", env={"MAX_SESSION": "1000000"})

    # -- workloads -------------------------------------------------------
    def validation(self, server, token, conns):
        return h.wrk(server.port, VALIDATION, conns, self.args.seconds, method="POST", token=token)

    def round(self, index, ours, py):
        order = [ours, py] if index % 2 == 0 else [py, ours]
        result = {}
        for server in order:
            is_py = server is py
            # Python limits logins to 20/min per client IP: each round logs in from its own address.
            source = f"127.0.1.{index + 1}" if is_py else None
            token = h.login(server.port, "guest", "guest", source=source)
            r = {f"validation_c{c}": self.validation(server, token, c) for c in CONNS}
            if not is_py:
                for c in CONNS:
                    r[f"health_c{c}"] = h.wrk(server.port, HEALTH, c, self.args.seconds)
            count = self.args.py_logins if is_py else self.args.logins
            r["login_ms"] = h.sequential_logins(server.port, "admin", "admin", count, source=source)
            result[server.name] = r
            print(f"  round {index + 1}: {server.name} done", flush=True)
        return result

    def storm(self, ours):
        """Clients hammer login (rate limits off) while 32 connections validate."""
        token = h.login(ours.port, "guest", "guest")
        sampler = h.RssSampler(ours.pid)
        sampler.start()
        hwm_before = h.peak_mib(ours.pid)
        out = {}
        body = json.dumps(CREDENTIALS)
        storm_secs = self.args.seconds + 2

        def hammer():
            out["login"] = h.wrk(ours.port, LOGIN, self.args.storm_clients, storm_secs, method="POST",
                                 body=body, threads=1, timeout="10s")

        t = threading.Thread(target=hammer)
        t.start()
        time.sleep(1)  # let the Argon2 pool fill up first
        out["queue_metrics"] = scrape(ours.port)
        out["validation"] = self.validation(ours, token, 32)
        t.join()
        out["rss_peak_mib"] = sampler.stop()
        out["vm_hwm_mib"] = h.peak_mib(ours.pid)
        out["vm_hwm_before_mib"] = hwm_before
        return out

    def startups(self, kind, db, runs):
        """Start-up times on a big users.json; on the last start, login
        latency there too (each login rewrites the whole file)."""
        times = []
        for i in range(runs):
            server = self.ours(f"{kind}-start{i}", db) if kind == "ours" else self.python(f"{kind}-start{i}", db)
            times.append(server.start(timeout=300))
            if i == 0:
                time.sleep(SETTLE)
                self.raw["rss_mib"][f"{kind}_idle_{self.args.users}_users"] = h.rss_mib(server.pid)
            if i == runs - 1:
                source = "127.0.3.1" if kind == "python" else None
                # The first login verifies the argon2-cffi hash and rehashes it (ours).
                h.sequential_logins(server.port, "admin", "admin", 1, source=source)
                self.raw[f"{kind}_login_ms_{self.args.users}_users"] = h.sequential_logins(
                    server.port, "admin", "admin", 5, source=source)
            server.stop()
        return times

    def many_sessions(self):
        db = self.work / "ours-sessions"
        server = self.ours("ours-sessions", db)
        server.start()
        server.stop()
        rows = fixtures.add_sessions(db / ".plantdb-auth" / "sessions.sqlite3", self.args.sessions)
        server = self.ours("ours-sessions", db)
        startup = server.start()
        time.sleep(SETTLE)
        idle = h.rss_mib(server.pid)
        token = h.login(server.port, "guest", "guest")
        run = self.validation(server, token, 32)
        after = h.rss_mib(server.pid)
        metrics = scrape(server.port)
        server.stop()
        return {"tokens_inserted": rows, "startup_ms": startup, "rss_idle_mib": idle,
                "validation_c32": run, "rss_after_load_mib": after, "metrics_sample": metrics}


def scrape(port):
    """The Argon2 and session lines of our /metrics (proves it answers)."""
    import http.client
    conn = http.client.HTTPConnection(h.HOST, port, timeout=5)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    keep = ("plantdb_auth_argon2", "plantdb_auth_live_sessions", "plantdb_auth_session_tokens", "plantdb_auth_logins")
    return [l for l in text.splitlines() if l.startswith(keep)]


def argon2_reference(criterion_dir):
    """Median ms of one Argon2 verification (criterion's estimates)."""
    out = {}
    for name in ("default", "legacy"):
        path = Path(criterion_dir) / "argon2" / f"verify_{name}" / "new" / "estimates.json"
        if path.exists():
            out[name] = json.loads(path.read_text())["median"]["point_estimate"] / 1e6
    return out


def run(args):
    work = tempfile.mkdtemp(prefix="plantdb-bench-")
    bench = Bench(args, work)
    raw = bench.raw
    raw["meta"] = meta(args, work)
    ours = bench.ours("ours", fixtures.fresh_db(Path(work) / "ours-db"))
    py = bench.python("python", fixtures.fresh_db(Path(work) / "python-db"))
    try:
        print("starting both servers (fresh databases)...", flush=True)
        raw["startup_ms"]["ours_fresh"] = ours.start()
        raw["startup_ms"]["python_fresh"] = py.start(timeout=300)
        # Idle = settled: our Argon2 working memory (first-start account
        # creation) is released 2 s after its last use.
        time.sleep(SETTLE)
        raw["rss_mib"]["ours_idle"] = h.rss_mib(ours.pid)
        raw["rss_mib"]["python_idle"] = h.rss_mib(py.pid)
        for i in range(args.rounds):
            raw["rounds"].append(bench.round(i, ours, py))
        raw["rss_mib"]["ours_after_load"] = h.rss_mib(ours.pid)
        raw["rss_mib"]["python_after_load"] = h.rss_mib(py.pid)
        raw["parallel_logins_ok"] = {
            "ours": h.parallel_logins(ours.port, "admin", "admin", 10),
            "python": h.parallel_logins(py.port, "admin", "admin", 10, source="127.0.2.1"),
        }
        time.sleep(0.5)
        raw["rss_mib"]["ours_after_10_logins"] = h.rss_mib(ours.pid)
        raw["rss_mib"]["python_after_10_logins"] = h.rss_mib(py.pid)
        time.sleep(SETTLE)
        raw["rss_mib"]["ours_settled_after_logins"] = h.rss_mib(ours.pid)
        py.stop()
        print("login storm against ours...", flush=True)
        raw["storm"] = bench.storm(ours)
    finally:
        ours.stop()
        py.stop()
    print(f"startup with {args.users} users...", flush=True)
    big_ours = fixtures.db_with_users(Path(work) / "ours-users", args.users)
    big_py = fixtures.db_with_users(Path(work) / "python-users", args.users)
    raw["startup_ms"][f"ours_{args.users}_users"] = bench.startups("ours", big_ours, 3)
    raw["startup_ms"][f"python_{args.users}_users"] = bench.startups("python", big_py, 1)
    print(f"{args.sessions} live sessions...", flush=True)
    raw["many_sessions"] = bench.many_sessions()
    raw["argon2_verify_ms"] = argon2_reference(args.criterion)
    return raw


def meta(args, work):
    def version(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "unknown"

    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {
        "date": datetime.now().isoformat(timespec="seconds"),
        "host": platform.node(), "cpus": __import__("os").cpu_count(), "loadavg_at_start": load,
        "kernel": platform.release(), "wrk": version(["wrk", "-v"]),
        "ours": args.ours, "python_server": "plantdb-server 0.17.0", "open3d": args.open3d,
        "rounds": args.rounds, "seconds_per_run": args.seconds, "workdir": work,
        "git": version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
    }


def main():
    args = parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install -y wrk); bench/compare.sh installs it")
    raw = run(args)
    import report
    summary, table = report.summarize(raw, args)
    raw["summary"] = summary
    print()
    print(table)
    out = Path(args.out) if args.out else REPO / "bench/results" / f"compare-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(raw, indent=2))
    out.with_suffix(".txt").write_text(table + "\n")
    print(f"\nraw results: {out}")
    return 0 if all(t["ok"] for t in summary["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
