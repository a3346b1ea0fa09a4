#!/usr/bin/env python3
"""Sweeps every route with malformed requests: no server error, no crash, every error a
JSON body (except the request-head errors actix answers itself, see the README).

Usage: cargo build --release && python3 scripts/bad_input_sweep.py [COUNT] [SEED]

Starts target/release/callgate (dry-run, 127.0.0.1, port 0, a temporary DATA_DIR), sends
COUNT (default 3000) requests built from a fixed list of routes, methods, bodies, query
strings and headers with a seeded random choice, then a few raw request heads over a
socket. Fails on any 5xx, on a 4xx without a JSON body (head errors aside), or if the
server is no longer alive. Talks only to 127.0.0.1; bounded by COUNT; stops by itself.
"""
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time

COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
SEED = int(sys.argv[2]) if len(sys.argv) > 2 else 7
BIN = os.path.join(os.path.dirname(__file__), "..", "target", "release", "callgate")
KEY = "sweep-key"

ROUTES = [
    "/webhooks/lead", "/webhooks/awhealth-outbound", "/webhooks/bland", "/webhooks/bland-callback",
    "/health", "/health/live", "/metrics",
    "/api/admin/blocklist", "/api/admin/blocklist/flag_1", "/api/admin/blocklist/enabled",
    "/api/admin/blocklist/lookup", "/api/admin/blocklist/bulk", "/api/admin/blocklist/export",
    "/api/admin/blocklist/attempts/today", "/api/admin/blocklist/attempts/2026-02-30",
    "/api/admin/blocklist/statistics", "/api/admin/blocklist/feeds",
    "/api/admin/blocklist/feeds/refresh", "/api/admin/blocklist/check",
    "/api/admin/blocklist/words/check", "/api/admin/check", "/api/admin/statistics",
    "/api/admin/scheduler/config", "/api/admin/scheduler/queue",
    "/api/admin/scheduler/queue/release", "/api/admin/scheduler/queue/dq_x",
    "/api/admin/answering-machine/config", "/api/admin/answering-machine/L1",
    "/api/admin/protection/config", "/api/admin/calls/active", "/api/admin/calls/pending",
    "/api/admin/calls/history/abc", "/api/admin/calls/req_x", "/api/admin/calls/req_x/resolve",
    "/api/admin/leads/lookup", "/api/admin/quarantine", "/api/admin/quarantine/acknowledge",
    "/api/admin/nope", "/nope", "/api/admin/blocklist/%00", "/api/admin/blocklist/" + "x" * 3000,
]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
QUERIES = ["", "?limit=-1", "?limit=abc&offset=1e99", "?start=2026-13-45&end=x",
           "?start=2026-01-01&end=2020-01-01", "?field=phone&value=abc", "?phone=%FF%FE",
           "?format=xml", "?token=" + "a" * 5000, "?id=%00", "?lead_id=&phone=",
           "?order=drop&direction=sideways", "?active=maybe", "?name=../../etc/passwd"]
DEEP = "[" * 200 + "]" * 200
BODIES = [
    b"", b"{", b"[]", b"null", b"42", b'"text"', b"{\"a\":}", b"\xff\xfe\x00",
    DEEP.encode(), ('{"x":' + DEEP + "}").encode(),
    b'{"phone_number": 5, "lead_id": {"a": 1}}', b'{"phone_number": "", "lead_id": ""}',
    b'{"phone_number": "(312) 222-0100 ext 9", "lead_id": "1"}',
    b'{"phone_number": "+999 1", "lead_id": "1"}', b'{"phone_number": "3055550100", "lead_id": "1e999"}',
    json.dumps({"phone_number": "3055550100", "lead_id": "1", "notes": "x" * 70000}).encode(),
    json.dumps({"field": "phone", "value": "1" * 2000}).encode(),
    json.dumps({"field": "", "value": None}).encode(),
    json.dumps({"field": "email", "value": ["a"]}).encode(),
    json.dumps({"enabled": "yes"}).encode(), json.dumps({"hours": {"mon": {"start": "25:00"}}}).encode(),
    json.dumps({"resolution": "maybe"}).encode(), json.dumps({"lead": "x", "at": "yesterday"}).encode(),
    json.dumps({"call_id": 5}).encode(), json.dumps({"max_attempts_per_day": -1}).encode(),
    b"phone_number=%ZZ&lead_id=1", b"field,value\n,\n\xff,\n", b"a" * 300_000,
]
CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/csv",
                 "text/plain", "multipart/form-data; boundary=x", "application/json; charset=latin1",
                 "", "application/jso\u00f1".encode("utf-8").decode("latin-1")]


def start(data):
    env = dict(os.environ, HOST="127.0.0.1", PORT="0", DATA_DIR=data, ADMIN_API_KEY=KEY,
               LOG_FORMAT="json", RUST_LOG="warn,callgate::startup=info", CALLGATE_CONFIG="/dev/null")
    log = os.path.join(data, "server.log")
    proc = subprocess.Popen([BIN, "serve"], env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    for _ in range(300):
        time.sleep(0.05)
        for line in open(log, "rb").read().decode(errors="replace").splitlines():
            if '"addr"' in line:
                rec = json.loads(line)
                addr = rec.get("fields", {}).get("addr") or rec.get("addr")
                if addr:
                    return proc, addr
        if proc.poll() is not None:
            sys.exit("server exited at startup")
    sys.exit("server did not start")


def raw(addr, head):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    try:
        s.sendall(head)
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
        return data
    except OSError:
        return b""
    finally:
        s.close()


def main():
    if not os.path.exists(BIN):
        sys.exit("build first: cargo build --release")
    rnd = random.Random(SEED)
    data = tempfile.mkdtemp(prefix="callgate-sweep-")
    proc, addr = start(data)
    host, port = addr.rsplit(":", 1)
    by_status, problems = {}, []
    try:
        for _ in range(COUNT):
            method = rnd.choices(METHODS, [30, 40, 15, 10, 2, 2, 1])[0]
            path = rnd.choice(ROUTES) + rnd.choice(QUERIES)
            body = rnd.choice(BODIES) if method not in ("GET", "HEAD") or rnd.random() < 0.1 else b""
            headers = {}
            if rnd.random() < 0.8:
                headers["X-API-Key"] = KEY if rnd.random() < 0.85 else "wrong"
            ct = rnd.choice(CONTENT_TYPES)
            if ct:
                headers["Content-Type"] = ct
            if rnd.random() < 0.1:
                headers["X-Request-Id"] = rnd.choice(["same", "dq_1-r1", "bad id!", "x" * 300])
            c = http.client.HTTPConnection(host, int(port), timeout=15)
            try:
                c.request(method, path, body=body, headers=headers)
                r = c.getresponse()
                payload = r.read()
            except (OSError, http.client.HTTPException) as e:
                problems.append(f"{method} {path[:80]}: no answer ({e})")
                continue
            finally:
                c.close()
            by_status[r.status] = by_status.get(r.status, 0) + 1
            if r.status >= 500:
                problems.append(f"{method} {path[:80]}: {r.status} {payload[:200]!r}")
            elif r.status >= 400 and method != "HEAD":
                try:
                    if json.loads(payload).get("success") is not False:
                        raise ValueError
                except ValueError:
                    problems.append(f"{method} {path[:80]}: {r.status} without the JSON error body")
        heads = [
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
            b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(120)) + b"\r\n",
            b"POST /webhooks/lead HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n",
            b"BREW /health HTCPCP/1.0\r\n\r\n",
        ]
        head_answers = [raw(addr, h).split(b"\r\n", 1)[0].decode(errors="replace") for h in heads]
        for a in head_answers:
            if a.split(" ")[1:2] and a.split(" ")[1].startswith("5"):
                problems.append(f"head error answered {a}")
        c = http.client.HTTPConnection(host, int(port), timeout=5)
        c.request("GET", "/health/live")
        alive = c.getresponse().status == 204
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"requests: {COUNT} (seed {SEED}); by status {dict(sorted(by_status.items()))}")
    print(f"request-head errors answered by actix: {head_answers}")
    print(f"server errors or bodiless errors: {len(problems)}; alive at the end: {alive}; "
          f"exit after SIGTERM: {proc.returncode}")
    for p in problems[:20]:
        print("  " + p)
    sys.exit(0 if not problems and alive else 1)


if __name__ == "__main__":
    main()
