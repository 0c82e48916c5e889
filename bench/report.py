"""The table and the target checks of bench/compare.py, from its raw results."""

import os

import harness as h

ARGON2_DEFAULT_KIB = 19456
MIB = 1024 * 1024


def _ms(us):
    return None if us is None else us / 1000


def _runs(raw, server, key):
    return [r[server][key] for r in raw["rounds"] if key in r.get(server, {})]


def _wrk_summary(runs):
    if not runs:
        return None
    return {
        "rps": h.median([r["rps"] for r in runs]),
        "p50_ms": _ms(h.median([r["latency_us"]["p50"] for r in runs])),
        "p99_ms": _ms(h.median([r["latency_us"]["p99"] for r in runs])),
        "p99_max_ms": _ms(max(r["latency_us"]["p99"] for r in runs)),
        "failed": sum(r["failed"] for r in runs),
        "rounds": len(runs),
    }


def _single(run):
    return _wrk_summary([run]) if run else None


def _logins(raw, server):
    values = [v for r in raw["rounds"] for v in r.get(server, {}).get("login_ms", [])]
    if not values:
        return None
    return {"p50_ms": h.percentile(values, 50), "p99_ms": h.percentile(values, 99),
            "mean_ms": sum(values) / len(values), "count": len(values)}


def _ratio(a, b):
    return a / b if a is not None and b else None


def summarize(raw, args):
    s = {"workloads": {}, "ratios": {}}
    for c in (1, 8, 32):
        ours = _wrk_summary(_runs(raw, "ours", f"validation_c{c}"))
        py = _wrk_summary(_runs(raw, "python", f"validation_c{c}"))
        floor = _wrk_summary(_runs(raw, "ours", f"health_c{c}"))
        s["workloads"][f"validation_c{c}"] = {"ours": ours, "python": py}
        s["workloads"][f"health_c{c}"] = {"ours": floor, "python": None}
        s["ratios"][f"ours_over_python_c{c}"] = _ratio(ours and ours["rps"], py and py["rps"])
        s["ratios"][f"validation_over_floor_c{c}"] = _ratio(ours and ours["rps"], floor and floor["rps"])
    s["login"] = {"ours": _logins(raw, "ours"), "python": _logins(raw, "python")}
    storm = raw.get("storm", {})
    s["storm"] = {"validation": _single(storm.get("validation")), "login": _single(storm.get("login")),
                  "rss_peak_mib": storm.get("rss_peak_mib"), "vm_hwm_mib": storm.get("vm_hwm_mib")}
    many = raw.get("many_sessions", {})
    s["many_sessions"] = {"validation": _single(many.get("validation_c32")), "rss_idle_mib": many.get("rss_idle_mib"),
                          "rss_after_load_mib": many.get("rss_after_load_mib"), "startup_ms": many.get("startup_ms")}
    s["argon2_verify_ms"] = raw.get("argon2_verify_ms", {})
    s["targets"] = targets(raw, s, args)
    return s, table(raw, s, args)


def targets(raw, s, args):
    v32 = s["workloads"]["validation_c32"]["ours"] or {}
    storm_v = s["storm"]["validation"] or {}
    login = s["login"]["ours"] or {}
    argon2 = s["argon2_verify_ms"].get("default")
    workers = os.cpu_count() or 2
    mem_bound = workers * ARGON2_DEFAULT_KIB / 1024 + 50
    startup = raw["startup_ms"].get(f"ours_{args.users}_users") or []
    checks = [
        ("validation c=32 >= 50x Python", s["ratios"]["ours_over_python_c32"], ">=", 50),
        ("validation c=32 >= 70% of our health floor", s["ratios"]["validation_over_floor_c32"], ">=", 0.70),
        ("validation c=32 p99 <= 3 ms", v32.get("p99_ms"), "<=", 3),
        ("login p50 <= 1.15 x Argon2 verify (default params)", _ratio(login.get("p50_ms"), argon2), "<=", 1.15),
        ("login storm: validation p99 <= 20 ms", storm_v.get("p99_ms"), "<=", 20),
        ("login storm: no validation request failed", storm_v.get("failed"), "<=", 0),
        (f"login storm: peak RSS <= {workers} workers x 19 MiB + 50 MB", s["storm"]["rss_peak_mib"], "<=", mem_bound),
        ("RSS idle <= 30 MB", raw["rss_mib"].get("ours_idle"), "<=", 30),
        (f"RSS with {args.sessions} live sessions <= 150 MB", s["many_sessions"]["rss_after_load_mib"], "<=", 150),
        (f"startup with {args.users} users <= 200 ms (median of 3)", h.median(startup), "<=", 200),
    ]
    out = []
    for name, value, op, limit in checks:
        ok = value is not None and (value >= limit if op == ">=" else value <= limit)
        out.append({"target": name, "value": value, "op": op, "limit": limit, "ok": ok})
    return out


def _f(v, digits=1):
    if v is None:
        return "-"
    if isinstance(v, (int, float)) and abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def table(raw, s, args):
    cols = ["workload", "ours req/s", "p50 ms", "p99 ms", "python req/s", "p50 ms", "p99 ms", "ours/py", "val/floor"]
    rows = []
    for c in (1, 8, 32):
        w = s["workloads"][f"validation_c{c}"]
        o, p = w["ours"] or {}, w["python"] or {}
        rows.append([f"POST token/validation c={c}", _f(o.get("rps")), _f(o.get("p50_ms"), 2), _f(o.get("p99_ms"), 2),
                     _f(p.get("rps")), _f(p.get("p50_ms"), 2), _f(p.get("p99_ms"), 2),
                     _f(s["ratios"][f"ours_over_python_c{c}"]), _f(s["ratios"][f"validation_over_floor_c{c}"], 2)])
    for c in (1, 8, 32):
        f = s["workloads"][f"health_c{c}"]["ours"] or {}
        rows.append([f"GET health c={c} (ours: floor)", _f(f.get("rps")), _f(f.get("p50_ms"), 2),
                     _f(f.get("p99_ms"), 2), "", "", "", "", ""])
    lo, lp = s["login"]["ours"] or {}, s["login"]["python"] or {}
    rows.append(["POST login, sequential", _f(_ratio(1000, lo.get("mean_ms"))), _f(lo.get("p50_ms"), 1),
                 _f(lo.get("p99_ms"), 1), _f(_ratio(1000, lp.get("mean_ms"))), _f(lp.get("p50_ms"), 1),
                 _f(lp.get("p99_ms"), 1), _f(_ratio(lp.get("p50_ms"), lo.get("p50_ms"))) + " (lat)", ""])
    big_o, big_p = raw.get(f"ours_login_ms_{args.users}_users"), raw.get(f"python_login_ms_{args.users}_users")
    if big_o or big_p:
        po = h.percentile(big_o or [], 50)
        pp = h.percentile(big_p or [], 50)
        rows.append([f"POST login, {args.users} users", "", _f(po, 1), _f(h.percentile(big_o or [], 99), 1), "",
                     _f(pp, 1), _f(h.percentile(big_p or [], 99), 1), _f(_ratio(pp, po)) + " (lat)", ""])
    sv, sl = s["storm"]["validation"] or {}, s["storm"]["login"] or {}
    rows.append([f"validation c=32 in login storm", _f(sv.get("rps")), _f(sv.get("p50_ms"), 2),
                 _f(sv.get("p99_ms"), 2), "", "", "", "", f"{sv.get('failed', '-')} failed"])
    rows.append([f"  (the storm: login c={args.storm_clients})", _f(sl.get("rps")), _f(sl.get("p50_ms"), 1),
                 _f(sl.get("p99_ms"), 1), "", "", "", "", ""])
    mv = s["many_sessions"]["validation"] or {}
    rows.append([f"validation c=32, {args.sessions // 1000}k sessions", _f(mv.get("rps")), _f(mv.get("p50_ms"), 2),
                 _f(mv.get("p99_ms"), 2), "", "", "", "", ""])
    rss, st = raw["rss_mib"], raw["startup_ms"]
    for label, key in (("RSS MiB idle", "idle"), ("RSS MiB after load", "after_load"),
                       ("RSS MiB after 10 parallel logins", "after_10_logins"),
                       ("RSS MiB 3 s later", "settled_after_logins"),
                       (f"RSS MiB idle, {args.users} users", f"idle_{args.users}_users")):
        o, p = rss.get(f"ours_{key}"), rss.get(f"python_{key}")
        rows.append([label, _f(o), "", "", _f(p), "", "", _f(_ratio(o, p), 3), ""])
    rows.append([f"RSS MiB, {args.sessions // 1000}k sessions (idle/after load)",
                 f"{_f(s['many_sessions']['rss_idle_mib'])}/{_f(s['many_sessions']['rss_after_load_mib'])}",
                 "", "", "", "", "", "", ""])
    rows.append(["RSS MiB peak in login storm", _f(s["storm"]["rss_peak_mib"]), "", "", "", "", "", "", ""])
    for label, key in (("startup ms, fresh db", "fresh"), (f"startup ms, {args.users} users", f"{args.users}_users")):
        o, p = st.get(f"ours_{key}"), st.get(f"python_{key}")
        o = h.median(o) if isinstance(o, list) else o
        p = h.median(p) if isinstance(p, list) else p
        rows.append([label, _f(o), "", "", _f(p), "", "", _f(_ratio(o, p), 3), ""])
    a = s["argon2_verify_ms"]
    rows.append(["Argon2 verify ms (criterion)", _f(a.get("default")) + " dflt", "", "",
                 _f(a.get("legacy")) + " legacy", "", "", "", ""])
    widths = [max(len(str(r[i])) for r in [cols] + rows) for i in range(len(cols))]
    line = lambda r: "  ".join(str(v).ljust(widths[0]) if i == 0 else str(v).rjust(widths[i]) for i, v in enumerate(r))
    out = [line(cols), "  ".join("-" * w for w in widths)] + [line(r) for r in rows]
    meta = raw["meta"]
    out += ["", f"{meta['cpus']} CPUs, load at start {' '.join(meta['loadavg_at_start'])}; {meta['rounds']} rounds x "
                f"{meta['seconds_per_run']} s per wrk run (medians over rounds); Python server open3d: {meta['open3d']}",
            "", "targets:"]
    for t in s["targets"]:
        value = "-" if t["value"] is None else f"{t['value']:.2f}"
        out.append(f"  [{'PASS' if t['ok'] else 'FAIL'}] {t['target']}: {value} ({t['op']} {t['limit']:g})")
    return "\n".join(out)
