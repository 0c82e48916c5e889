"""Token validation against its floor, in one run (issue: validation close to
the floor of its stack).

Starts plantdb-auth (release build, fresh database, rate limits off) and
`validation-floor` (bench/floor: a bare axum endpoint that verifies the same
HS512 JWT with the same key and looks the subject up in a map), logs in once,
then runs wrk on `POST /api/v1/auth/token/validation` of both, alternating,
`--rounds` times. Prints req/s, p50/p99 and the ratio ours/floor per round and
as medians; exit 1 when the target (ratio >= 0.8, p99 <= 2 ms, no failed
request) is missed. Run through bench/floor.sh.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

PATH = "/api/v1/auth/token/validation"
ADMIN_PW = "Bench-admin-passphrase-1"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True)
    ap.add_argument("--floor", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--out", default=None)
    ap.add_argument("--pin", action="store_true",
                    help="servers on CPU 0, wrk (one thread) on CPU 1: steadier figures on a 2-core machine")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="plantdb-floor-"))
    db = work / "db"
    ours_port, floor_port = harness.free_port(), harness.free_port()
    pin_server = ["taskset", "-c", "0"] if args.pin else []
    ours = harness.Server(
        "plantdb-auth",
        pin_server + [args.ours, "serve", "--db", str(db), "--host", "127.0.0.1", "--port", str(ours_port),
         "--no-rate-limits"],
        ours_port, work / "ours.log",
        env={"PLANTDB_ADMIN_PASSWORD": ADMIN_PW, "PLANTDB_LOG_LEVEL": "warn"},
    )
    ours.start(health="/api/v1/health/live")
    token = harness.login(ours_port, "admin", ADMIN_PW)
    floor = harness.Server(
        "floor",
        pin_server + [args.floor, "--key-file", str(db / ".plantdb-auth" / "jwt.key"),
         "--users", str(db / "users.json"), "--port", str(floor_port)],
        floor_port, work / "floor.log",
    )
    floor.start(health="/health")
    rows = []
    try:
        for _ in range(args.rounds):
            for name, port in (("ours", ours_port), ("floor", floor_port)):
                r = harness.wrk(port, PATH, args.connections, args.seconds, method="POST", token=token,
                                threads=1 if args.pin else None, pin="1" if args.pin else None)
                rows.append({"server": name, "rps": r["rps"], "p50_us": r["latency_us"]["p50"],
                             "p99_us": r["latency_us"]["p99"], "failed": r["failed"]})
                time.sleep(1)
    finally:
        ours.stop()
        floor.stop()

    def med(name, key):
        return harness.median([r[key] for r in rows if r["server"] == name])

    pinned = ", servers pinned to CPU 0 and wrk to CPU 1" if args.pin else ""
    print(f"POST {PATH}, wrk c={args.connections}, {args.seconds} s x {args.rounds} rounds, alternating{pinned}")
    print(f"{'round':>5}  {'server':<6} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'failed':>6}")
    for i, r in enumerate(rows):
        print(f"{i // 2 + 1:>5}  {r['server']:<6} {r['rps']:>9.0f} {r['p50_us'] / 1000:>7.2f} "
              f"{r['p99_us'] / 1000:>7.2f} {r['failed']:>6}")
    ratio = med("ours", "rps") / med("floor", "rps")
    p99_ms = med("ours", "p99_us") / 1000
    failed = sum(r["failed"] for r in rows if r["server"] == "ours")
    print(f"median: ours {med('ours', 'rps'):.0f} req/s, floor {med('floor', 'rps'):.0f} req/s, "
          f"ratio {ratio:.2f}; ours p99 {p99_ms:.2f} ms; failed {failed}")
    met = ratio >= 0.8 and p99_ms <= 2.0 and failed == 0
    print(f"target (ratio >= 0.80, p99 <= 2 ms, no failure): {'met' if met else 'MISSED'}")
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows, "ratio": ratio, "p99_ms": p99_ms,
                                              "failed": failed, "met": met}, indent=2))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
