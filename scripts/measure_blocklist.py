#!/usr/bin/env python3
"""Blocklist performance figures for the README (issue targets in brackets).

Usage: cargo build --release && python3 scripts/measure_blocklist.py [N ...]
For each N (default 100000 1000000) it writes a seed-format blocklist-config.json with N
flags into a temporary DATA_DIR, starts target/release/callgate, and reports:
startup time to listening [<= 3 s at 1M], resident memory [<= 40 MB at 100k, <= 400 MB
at 1M], single-flag add latency over HTTP, p50/p99 of 500 sequential adds
[p50 <= 5 ms, p99 <= 20 ms], and the time to list every flag.
Talks only to 127.0.0.1 and stops by itself.
"""
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

KEY = "measure-key-0123456789"
BIN = os.path.join(os.path.dirname(__file__), "..", "target", "release", "callgate")


def write_doc(path, n):
    with open(path, "w") as f:
        f.write('{"enabled": true, "flags": [\n')
        for i in range(n):
            sep = "," if i + 1 < n else ""
            f.write(
                '{"id":"flag_1735084012345_%09d","field":"phone","value":"+1%d",'
                '"reason":"Customer requested no contact","added_at":"2024-12-24T15:30:00.000Z",'
                '"added_by":"admin"}%s\n' % (i, 2000000000 + i, sep)
            )
        f.write("]}\n")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def measure(n):
    with tempfile.TemporaryDirectory() as data:
        write_doc(os.path.join(data, "blocklist-config.json"), n)
        # Flush the freshly written document first, or the server's first fsync waits for it.
        os.sync()
        env = dict(os.environ, HOST="127.0.0.1", PORT="0", DATA_DIR=data, ADMIN_API_KEY=KEY,
                   LOG_FORMAT="json", RUST_LOG="warn,callgate=info", WORKERS="2",
                   CALLGATE_CONFIG="/dev/null")
        start = time.monotonic()
        proc = subprocess.Popen([BIN, "serve"], env=env, stderr=subprocess.PIPE, text=True)
        port = None
        for line in proc.stderr:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if "addr" in rec:
                port = int(rec["addr"].rsplit(":", 1)[1])
                break
        # Keep draining the log pipe so the server never blocks writing to it.
        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
        startup = time.monotonic() - start
        if port is None:
            proc.kill()
            raise SystemExit("server did not start")
        try:
            time.sleep(1)
            rss_idle = rss_mb(proc.pid)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {"X-API-Key": KEY, "Content-Type": "application/json"}
            lat = []
            for i in range(500):
                body = json.dumps({"field": "phone", "value": "+1%d" % (3000000000 + i), "reason": "measure"})
                t = time.perf_counter()
                conn.request("POST", "/api/admin/blocklist", body, headers)
                res = conn.getresponse()
                res.read()
                lat.append((time.perf_counter() - t) * 1000)
                assert res.status == 201, res.status
            t = time.perf_counter()
            conn.request("GET", "/api/admin/blocklist", headers=headers)
            res = conn.getresponse()
            res.read()
            list_ms = (time.perf_counter() - t) * 1000
            rss_after = rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        print(f"| {n:>9,} | {startup:6.2f} s | {rss_idle:7.1f} MB | {pct(lat, 50):6.2f} ms | "
              f"{pct(lat, 99):6.2f} ms | {list_ms:8.1f} ms | {rss_after:7.1f} MB |", flush=True)


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [100_000, 1_000_000]
    print("| flags | startup | RSS idle | add p50 | add p99 | list all | RSS after |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        measure(n)
