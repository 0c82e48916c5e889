"""Processes, HTTP calls, wrk runs and memory readings for bench/compare.py.

Standard library only. Every address is 127.0.0.x: nothing leaves the machine.
"""

import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LUA = HERE / "wrk" / "request.lua"
HOST = "127.0.0.1"


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def proc_kib(pid, field):
    """VmRSS / VmHWM of a process in KiB (0 if gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mib(pid):
    return round(proc_kib(pid, "VmRSS") / 1024, 1)


def peak_mib(pid):
    return round(proc_kib(pid, "VmHWM") / 1024, 1)


def cpu_seconds(pids):
    """utime + stime of processes (seconds)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def children(pid):
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


class Server:
    """A server process on a loopback port, with its log in `log_path`."""

    def __init__(self, name, cmd, port, log_path, env=None):
        self.name, self.cmd, self.port = name, cmd, port
        self.log_path = Path(log_path)
        self.env = {**os.environ, **(env or {})}
        self.proc = None
        self.startup_ms = None

    def start(self, health="/api/v1/health", timeout=120.0):
        """Starts the process; startup time = spawn to the first 200 on `health`."""
        log = open(self.log_path, "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()
        deadline = t0 + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: see {self.log_path}")
            if probe(self.port, health):
                self.startup_ms = round((time.perf_counter() - t0) * 1000, 1)
                return self.startup_ms
            time.sleep(0.002)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {health} within {timeout}s: see {self.log_path}")

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def probe(port, path):
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=1)
        conn.request("GET", path)
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def post_json(port, path, body=None, token=None, source=None, conn=None):
    """One POST; returns (status, parsed body or None, seconds)."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection(
            HOST, port, timeout=30, source_address=(source, 0) if source else None
        )
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else b""
    t0 = time.perf_counter()
    conn.request("POST", path, body=data, headers=headers)
    resp = conn.getresponse()
    raw = resp.read()
    elapsed = time.perf_counter() - t0
    if own:
        conn.close()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    return resp.status, parsed, elapsed


def login(port, username, password, source=None):
    status, body, _ = post_json(port, "/api/v1/auth/login", {"username": username, "password": password}, source=source)
    if status != 200 or not body or "access_token" not in body:
        raise RuntimeError(f"login {username} on port {port} failed: {status} {body}")
    return body["access_token"]


def sequential_logins(port, username, password, count, source=None):
    """`count` logins one after the other on one keep-alive connection;
    returns the latencies in ms (every one must succeed)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30, source_address=(source, 0) if source else None)
    latencies = []
    for _ in range(count):
        status, body, secs = post_json(
            port, "/api/v1/auth/login", {"username": username, "password": password}, conn=conn
        )
        if status != 200:
            raise RuntimeError(f"sequential login on port {port}: {status} {body}")
        latencies.append(secs * 1000)
    conn.close()
    return latencies


def parallel_logins(port, username, password, count, source=None):
    """`count` logins at once; returns how many succeeded."""
    results = []

    def one():
        try:
            login(port, username, password, source=source)
            results.append(True)
        except (OSError, RuntimeError):
            results.append(False)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(results)


def wrk(port, path, connections, seconds, method="GET", token=None, body=None, threads=None, timeout="5s",
        pin=None):
    """Runs wrk (keep-alive, the default) and returns its JSON summary plus req/s.
    `pin`: a CPU list for taskset (wrk on those CPUs only)."""
    threads = threads or min(2, connections)
    env = {**os.environ, "WRK_METHOD": method, "WRK_TOKEN": token or "", "WRK_BODY": body or ""}
    cmd = (["taskset", "-c", pin] if pin else []) + [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", f"--timeout={timeout}",
        "-s", str(LUA), f"http://{HOST}:{port}{path}",
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    line = next((l for l in out.splitlines() if l.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    result = json.loads(line[len("WRKJSON "):])
    result["rps"] = round(result["requests"] / (result["duration_us"] / 1e6), 1)
    result["failed"] = sum(result["errors"].values())
    result["cmd"] = " ".join(cmd)
    return result


class RssSampler(threading.Thread):
    """Samples a process's RSS every `every` seconds until stopped."""

    def __init__(self, pid, every=0.05):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples = []
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            self.samples.append(proc_kib(self.pid, "VmRSS"))
            time.sleep(self.every)

    def stop(self):
        self._halt.set()
        self.join()
        return round(max(self.samples or [0]) / 1024, 1)


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
