"""plantdb-auth on PostgreSQL vs on FSDB, and two instances on one PostgreSQL database.

Started by bench/postgres.sh (which builds the binary and starts the test cluster).
In one run, each server on its own 127.0.0.1 port:

  fsdb   one instance, users/groups/sessions in FSDB files + SQLite (fresh --db)
  pg     one instance, --store postgres://.../<fresh database>
  pg2    two instances (pg2a, pg2b) on one other fresh database (shared users,
         sessions and JWT key), started one after the other

Each round (order rotates), per setup: a guest token, then
POST /api/v1/auth/token/validation with wrk at c=32 (keep-alive, 2 wrk threads);
for pg2, two wrk processes at once, one per instance, c=16 and 1 thread each (the
same 32 connections and 2 wrk threads in all), the guest token of pg2a validated
on both, throughputs summed. Then, for fsdb and pg, sequential POST
/api/v1/auth/login on one keep-alive connection.

Prints one table; writes the raw results to bench/results/postgres-<time>.json
(+ .txt with the table). Reuses bench/harness.py (read-only).
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import harness as h  # noqa: E402

VALIDATION = "/api/v1/auth/token/validation"
SETUPS = ("fsdb", "pg", "pg2")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ours", default=str(REPO / "target/release/plantdb-auth"))
    p.add_argument("--postgres", required=True, help="cluster URL, e.g. postgres://postgres@127.0.0.1:54329/postgres")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--conns", type=int, default=32, help="validation connections (split in two for pg2)")
    p.add_argument("--logins", type=int, default=10, help="sequential logins per round and setup (fsdb, pg)")
    p.add_argument("--keep-db", action="store_true", help="do not drop the PostgreSQL databases at the end")
    p.add_argument("--out", help="JSON output (default bench/results/postgres-<time>.json)")
    return p.parse_args()


# -- PostgreSQL --------------------------------------------------------------

def with_database(url, name):
    """The cluster URL with its database replaced by `name` (query kept)."""
    m = re.match(r"^(postgres(?:ql)?://[^/]+)(/[^?]*)?(\?.*)?$", url)
    if not m:
        raise SystemExit(f"not a postgres:// URL: {url}")
    return f"{m.group(1)}/{name}{m.group(3) or ''}"


def psql(url, sql):
    out = subprocess.run(["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr.strip()}")
    return out.stdout.strip()


# -- servers -----------------------------------------------------------------

class Bench:
    def __init__(self, args, work):
        self.args, self.work = args, Path(work)
        self.servers = []

    def server(self, name, store=None):
        db = self.work / f"{name}-db"
        db.mkdir()
        (db / "romidb").touch()
        port = h.free_port()
        cmd = [self.args.ours, "serve", "--db", str(db), "--port", str(port), "--no-rate-limits"]
        if store:
            cmd += ["--store", store]
        # The JWT key comes from the database (PostgreSQL) or the --db dir (FSDB):
        # no JWT_SECRET_KEY, so that pg2a/pg2b prove the key is shared.
        s = h.Server(name, cmd, port, self.work / f"{name}.log", env={"PLANTDB_ADMIN_PASSWORD": "admin"})
        s.env.pop("JWT_SECRET_KEY", None)
        self.servers.append(s)
        return s

    def stop_all(self):
        for s in self.servers:
            s.stop()

    def validation(self, server, token, conns, threads=None):
        return h.wrk(server.port, VALIDATION, conns, self.args.seconds, method="POST", token=token, threads=threads)

    def validation_pair(self, a, b, token):
        """Two wrk processes at once, one per instance; half the connections each."""
        half = self.args.conns // 2
        out = {}

        def one(server):
            out[server.name] = self.validation(server, token, half, threads=1)

        threads = [threading.Thread(target=one, args=(s,)) for s in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        missing = {a.name, b.name} - out.keys()
        if missing:
            raise RuntimeError(f"wrk failed against {missing}")
        return out


def check_token(port, token):
    status, body, _ = h.post_json(port, VALIDATION, token=token)
    if status != 200:
        raise RuntimeError(f"token not valid on port {port}: {status} {body}")


def ok_rps(run):
    """req/s of successful (2xx/3xx) responses only: a refused token is a fast 503."""
    return round((run["requests"] - run["errors"]["status"]) / (run["duration_us"] / 1e6), 1)


ANSI = re.compile(r"\x1b\[[0-9;]*m")
STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z")


def listener_outages(log_path):
    """Times the PostgreSQL listener was lost (the instance refuses tokens until it
    has reconnected and reloaded), from the server log: [(start, seconds)]."""
    out, lost = [], None
    try:
        lines = Path(log_path).read_text(errors="replace").splitlines()
    except OSError:
        return out
    for line in lines:
        line = ANSI.sub("", line)
        m = STAMP.match(line)
        if not m:
            continue
        at = datetime.fromisoformat(m.group(1)[:26])
        if "lost the feed of other instances" in line and lost is None:
            lost = at
        elif "accepting tokens again" in line and lost is not None:
            out.append({"at": lost.isoformat(), "seconds": round((at - lost).total_seconds(), 3)})
            lost = None
    if lost is not None:
        out.append({"at": lost.isoformat(), "seconds": None})
    return out


def one_round(bench, index, setups):
    order = SETUPS[index % 3:] + SETUPS[:index % 3]
    result = {"order": list(order)}
    for name in order:
        r = {}
        if name == "pg2":
            a, b = setups["pg2"]
            token = h.login(a.port, "guest", "guest")
            check_token(b.port, token)  # a token from one instance is valid on the other
            r["validation"] = bench.validation_pair(a, b, token)
        else:
            server = setups[name]
            token = h.login(server.port, "guest", "guest")
            r["validation"] = bench.validation(server, token, bench.args.conns)
            r["login_ms"] = h.sequential_logins(server.port, "admin", "admin", bench.args.logins)
        result[name] = r
        print(f"  round {index + 1}: {name} done", flush=True)
    return result


# -- summary -----------------------------------------------------------------

def summarize(raw):
    rounds = raw["rounds"]
    ms = lambda us: us / 1000  # noqa: E731
    s = {}
    for name in ("fsdb", "pg"):
        runs = [r[name]["validation"] for r in rounds]
        logins = [x for r in rounds for x in r[name]["login_ms"]]
        s[name] = {
            "validation_rps": h.median([ok_rps(v) for v in runs]),
            "validation_rps_incl_failed": h.median([v["rps"] for v in runs]),
            "validation_requests": sum(v["requests"] for v in runs),
            "validation_p50_ms": h.median([ms(v["latency_us"]["p50"]) for v in runs]),
            "validation_p99_ms": h.median([ms(v["latency_us"]["p99"]) for v in runs]),
            "validation_failed": sum(v["failed"] for v in runs),
            "login_n": len(logins),
            "login_p50_ms": h.percentile(logins, 50),
            "login_p99_ms": h.percentile(logins, 99),
        }
    pairs = [r["pg2"]["validation"] for r in rounds]
    s["pg2"] = {
        # Per round: sum of both instances' req/s; p50/p99: the worse of the two.
        "validation_rps": h.median([sum(ok_rps(v) for v in p.values()) for p in pairs]),
        "validation_rps_incl_failed": h.median([sum(v["rps"] for v in p.values()) for p in pairs]),
        "validation_requests": sum(v["requests"] for p in pairs for v in p.values()),
        "validation_p50_ms": h.median([max(ms(v["latency_us"]["p50"]) for v in p.values()) for p in pairs]),
        "validation_p99_ms": h.median([max(ms(v["latency_us"]["p99"]) for v in p.values()) for p in pairs]),
        "validation_failed": sum(v["failed"] for p in pairs for v in p.values()),
        "per_instance_rps": {k: h.median([ok_rps(p[k]) for p in pairs]) for k in sorted(pairs[0])},
    }
    s["listener_outages"] = raw.get("listener_outages", {})
    ratio = lambda a, b: round(a / b, 2) if a is not None and b else None  # noqa: E731
    s["ratios"] = {
        "validation_rps_pg_over_fsdb": ratio(s["pg"]["validation_rps"], s["fsdb"]["validation_rps"]),
        "validation_p99_pg_over_fsdb": ratio(s["pg"]["validation_p99_ms"], s["fsdb"]["validation_p99_ms"]),
        "login_p50_pg_over_fsdb": ratio(s["pg"]["login_p50_ms"], s["fsdb"]["login_p50_ms"]),
        "login_p99_pg_over_fsdb": ratio(s["pg"]["login_p99_ms"], s["fsdb"]["login_p99_ms"]),
        "validation_rps_two_pg_over_one_pg": ratio(s["pg2"]["validation_rps"], s["pg"]["validation_rps"]),
        "validation_rps_two_pg_over_fsdb": ratio(s["pg2"]["validation_rps"], s["fsdb"]["validation_rps"]),
    }
    return s


def table(raw, s):
    m = raw["meta"]
    f = lambda v, d=2: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
    c, half = m["conns"], m["conns"] // 2
    lines = [
        f"plantdb-auth: PostgreSQL vs FSDB  ({m['date']}, {m['cpus']} CPUs, load {' '.join(m['loadavg_at_start'])}"
        f" -> {' '.join(m.get('loadavg_at_end', []))}, {m['rounds']} rounds x {m['seconds_per_run']} s, median over rounds)",
        f"PostgreSQL {m['postgres_version']} on 127.0.0.1 (fsync={m['postgres_fsync']}), wrk {m['wrk']}",
        "",
        f"{'workload':<44} {'ok req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'failed':>14}",
    ]
    rows = [
        (f"validation c={c}, FSDB, 1 instance", s["fsdb"]),
        (f"validation c={c}, PostgreSQL, 1 instance", s["pg"]),
        (f"validation 2x c={half}, PostgreSQL, 2 instances*", s["pg2"]),
    ]
    for label, v in rows:
        pct = 100 * v["validation_failed"] / v["validation_requests"] if v["validation_requests"] else 0
        failed = f"{v['validation_failed']} ({pct:.0f}%)" if v["validation_failed"] else "0"
        lines.append(f"{label:<44} {f(v['validation_rps'], 0):>9} {f(v['validation_p50_ms']):>8}"
                     f" {f(v['validation_p99_ms']):>8} {failed:>14}")
    for label, key in (("FSDB", "fsdb"), ("PostgreSQL", "pg")):
        v = s[key]
        lines.append(f"{'login, sequential, ' + label + ' (n=' + str(v['login_n']) + ')':<44} {'':>9}"
                     f" {f(v['login_p50_ms'], 1):>8} {f(v['login_p99_ms'], 1):>8}")
    r = s["ratios"]
    per = ", ".join(f"{k} {f(v, 0)}" for k, v in s["pg2"]["per_instance_rps"].items())
    lines += [
        "",
        f"* two wrk processes at once (1 thread, c={half} each), one per instance; req/s summed"
        f" ({per}); p50/p99 the worse instance",
        "ok req/s: successful responses only; failed: non-2xx (all rounds), p50/p99 include them",
        "",
        f"PG / FSDB   validation req/s {f(r['validation_rps_pg_over_fsdb'])}x"
        f"   validation p99 {f(r['validation_p99_pg_over_fsdb'])}x"
        f"   login p50 {f(r['login_p50_pg_over_fsdb'])}x   login p99 {f(r['login_p99_pg_over_fsdb'])}x",
        f"two PG instances / one PG instance: validation req/s {f(r['validation_rps_two_pg_over_one_pg'])}x"
        f"   (/ FSDB: {f(r['validation_rps_two_pg_over_fsdb'])}x)",
    ]
    outages = s.get("listener_outages", {})
    if any(outages.values()):
        lines.append("")
        lines.append("PostgreSQL listener lost (heartbeat), tokens refused until reconnected and reloaded:")
        for name, items in outages.items():
            if items:
                secs = ", ".join("?" if o["seconds"] is None else f"{o['seconds']:.1f} s" for o in items)
                lines.append(f"  {name}: {len(items)}x ({secs})")
    else:
        lines.append("PostgreSQL listener: no connection lost during the run")
    return "\n".join(lines)


# -- run ---------------------------------------------------------------------

def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def loadavg():
    with open("/proc/loadavg") as fh:
        return fh.read().split()[:3]


def run(args):
    work = tempfile.mkdtemp(prefix="plantdb-bench-pg-")
    stamp = f"{datetime.now():%Y%m%d_%H%M%S}_{os.getpid()}"
    dbs = {"pg": f"plantdb_bench_{stamp}_one", "pg2": f"plantdb_bench_{stamp}_two"}
    raw = {"meta": {
        "date": datetime.now().isoformat(timespec="seconds"), "host": platform.node(),
        "cpus": os.cpu_count(), "loadavg_at_start": loadavg(), "kernel": platform.release(),
        "wrk": version(["wrk", "-v"]).split(" [")[0].replace("wrk ", ""), "ours": args.ours,
        "rounds": args.rounds, "seconds_per_run": args.seconds, "conns": args.conns,
        "logins_per_round": args.logins, "workdir": work,
        "git": version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
        "git_dirty": subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True).stdout.strip() != "",
        "postgres_version": psql(args.postgres, "SHOW server_version"),
        "postgres_fsync": psql(args.postgres, "SHOW fsync"),
        "postgres_databases": dbs,
    }, "startup_ms": {}, "rounds": []}
    bench = Bench(args, work)
    created = []
    try:
        for db in dbs.values():
            psql(args.postgres, f'CREATE DATABASE "{db}"')
            created.append(db)
        setups = {
            "fsdb": bench.server("fsdb"),
            "pg": bench.server("pg", with_database(args.postgres, dbs["pg"])),
            "pg2": (bench.server("pg2a", with_database(args.postgres, dbs["pg2"])),
                    bench.server("pg2b", with_database(args.postgres, dbs["pg2"]))),
        }
        print("starting fsdb, pg, pg2a, pg2b (fresh databases; pg2b after pg2a)...", flush=True)
        for s in bench.servers:  # one after the other: pg2a migrates the schema first
            raw["startup_ms"][s.name] = s.start()
        time.sleep(2.5)  # first-start Argon2 memory released, ports settled
        raw["rss_mib_idle"] = {s.name: h.rss_mib(s.pid) for s in bench.servers}
        for name in ("fsdb", "pg"):  # warm-up: the first login may rehash
            h.sequential_logins(setups[name].port, "admin", "admin", 1)
        for i in range(args.rounds):
            raw["rounds"].append(one_round(bench, i, setups))
        raw["rss_mib_after"] = {s.name: h.rss_mib(s.pid) for s in bench.servers}
    finally:
        bench.stop_all()
        raw["listener_outages"] = {s.name: listener_outages(s.log_path) for s in bench.servers if s.name != "fsdb"}
        if not args.keep_db:
            for db in created:
                try:
                    psql(args.postgres, f'DROP DATABASE IF EXISTS "{db}"')
                except RuntimeError as e:
                    print(f"warning: {e}", file=sys.stderr)
    raw["meta"]["loadavg_at_end"] = loadavg()
    return raw


def main():
    args = parse_args()
    for tool in ("wrk", "psql"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed")
    raw = run(args)
    raw["summary"] = summarize(raw)
    text = table(raw, raw["summary"])
    print()
    print(text)
    out = Path(args.out) if args.out else REPO / "bench/results" / f"postgres-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(raw, indent=2))
    out.with_suffix(".txt").write_text(text + "\n")
    print(f"\nraw results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
