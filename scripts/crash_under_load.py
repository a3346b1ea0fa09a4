#!/usr/bin/env python3
"""kill -9 under mixed load, repeated: no accepted lead lost, none dialled twice, no
corrupt line, no server error.

Usage: cargo build --release && python3 scripts/crash_under_load.py [ROUNDS] [SECONDS]

Runs target/release/callgate on 127.0.0.1 (port 0, a temporary DATA_DIR) against a mock
Bland served by this script on 127.0.0.1. Each round starts the server, posts a mix of
leads from 8 threads (new numbers that are accepted, blocklisted numbers, malformed
bodies), then kills the server with SIGKILL after a random 1-3 s. After the last round the
server starts once more and drains its outbox. A call caught mid-send by a kill is
`unconfirmed` (Bland may or may not have it; it is never resent blindly): each one the mock
Bland did receive gets its completion webhook, which must settle it; one Bland never
received stays for an admin. Then the script checks:
  - every lead answered `accepted` reached the mock Bland, or is still open in the outbox;
  - the mock Bland never received one request id twice;
  - every answer was 2xx or 4xx (no 5xx, no dropped connection except at the kill);
  - nothing was quarantined (no line that cannot be read back) and /health has no
    unconfirmed call left.
Talks only to 127.0.0.1; bounded by ROUNDS x SECONDS; stops by itself.
"""
import http.client
import http.server
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
BIN = os.path.join(os.path.dirname(__file__), "..", "target", "release", "callgate")
KEY = "crash-test-key"
BLOCKED = [f"+1786{n:07d}" for n in range(2_000_000, 2_000_100)]


class Bland(http.server.BaseHTTPRequestHandler):
    received = {}
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        rid = json.loads(body).get("metadata", {}).get("request_id", "")
        with Bland.lock:
            Bland.received[rid] = Bland.received.get(rid, 0) + 1
        out = json.dumps({"status": "success", "call_id": f"call-{rid}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a gateway killed mid-request closes its socket; that is the test


def start(data, bland_url):
    env = dict(os.environ, HOST="127.0.0.1", PORT="0", DATA_DIR=data, ADMIN_API_KEY=KEY,
               BLAND_API_KEY="crash-test", BLAND_API_URL=bland_url,
               BLAND_MAX_CALLS_PER_SECOND="2000", BLAND_MAX_CONCURRENT="10",
               LOG_FORMAT="json", RUST_LOG="warn,callgate::startup=info",
               CALLGATE_CONFIG="/dev/null")
    path = os.path.join(data, "server.log")
    log = open(path, "ab")
    offset = log.tell()
    proc = subprocess.Popen([BIN, "serve"], env=env, stdout=log, stderr=log)
    for _ in range(300):
        time.sleep(0.05)
        with open(path, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        addrs = [l for l in text.splitlines() if '"addr"' in l]
        if addrs:
            addr = json.loads(addrs[-1]).get("fields", {}).get("addr") or \
                json.loads(addrs[-1]).get("addr")
            if addr:
                return proc, addr
        if proc.poll() is not None:
            sys.exit(f"server exited at startup:\n{text[-2000:]}")
    sys.exit("server did not start")


def request(addr, method, path, body=None, headers=None):
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def admin(addr, method, path, body=None):
    headers = {"X-API-Key": KEY, "Content-Type": "application/json"}
    status, data = request(addr, method, path, json.dumps(body) if body is not None else None,
                           headers)
    return status, json.loads(data or b"null")


class Load:
    def __init__(self):
        self.lock = threading.Lock()
        self.accepted, self.answers, self.errors = set(), {}, []
        self.next_number = 0

    def number(self):
        with self.lock:
            self.next_number += 1
            return f"+1305{7000000 + self.next_number:07d}"

    def worker(self, addr, stop):
        host, port = addr.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        n = 0
        while not stop.is_set():
            n += 1
            kind = random.choices(["new", "blocked", "malformed"], [6, 3, 1])[0]
            if kind == "new":
                body = json.dumps({"phone_number": self.number(), "lead_id": f"L{n}",
                                   "first_name": "Ada", "state": "FL"})
            elif kind == "blocked":
                body = json.dumps({"phone_number": random.choice(BLOCKED), "lead_id": f"B{n}"})
            else:
                body = random.choice(['{"phone_number": ', '[]', '{"lead_id": 1}',
                                      '{"phone_number": "12", "lead_id": "x"}'])
            try:
                conn.request("POST", "/webhooks/lead", body=body,
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException):
                return  # the kill
            with self.lock:
                self.answers[r.status] = self.answers.get(r.status, 0) + 1
                if r.status >= 500:
                    self.errors.append(data[:200])
                elif r.status == 202:
                    answer = json.loads(data)
                    if answer.get("decision") == "accepted":
                        self.accepted.add(answer["request_id"])


def main():
    if not os.path.exists(BIN):
        sys.exit("build first: cargo build --release")
    mock = QuietServer(("127.0.0.1", 0), Bland)
    threading.Thread(target=mock.serve_forever, daemon=True).start()
    bland_url = f"http://127.0.0.1:{mock.server_address[1]}"
    data = tempfile.mkdtemp(prefix="callgate-crash-")
    with open(os.path.join(data, "blocklist-config.json"), "w") as f:
        json.dump({"enabled": True, "flags": [
            {"id": f"flag_{i}", "field": "phone", "value": v, "reason": "crash test"}
            for i, v in enumerate(BLOCKED)]}, f)
    with open(os.path.join(data, "scheduler-config.json"), "w") as f:
        json.dump({"enabled": False, "local_window": {"enabled": False, "unknown_zone": "block"}}, f)
    load = Load()
    answered_per_run = []
    try:
        for round_ in range(ROUNDS):
            proc, addr = start(data, bland_url)
            before = sum(load.answers.values())
            stop = threading.Event()
            threads = [threading.Thread(target=load.worker, args=(addr, stop)) for _ in range(8)]
            for t in threads:
                t.start()
            time.sleep(random.uniform(SECONDS / 3, SECONDS))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            stop.set()
            for t in threads:
                t.join()
            answered_per_run.append(sum(load.answers.values()) - before)
        proc, addr = start(data, bland_url)
        deadline = time.time() + 300
        while time.time() < deadline:
            _, pending = admin(addr, "GET", "/api/admin/calls/pending")
            if pending["queued"] == 0 and pending["in_flight"] == 0:
                break
            time.sleep(0.2)
        unconfirmed = [e["request_id"] for e in pending["entries"] if e["state"] == "unconfirmed"]
        settled = [r for r in unconfirmed if r in Bland.received]
        for rid in settled:
            request(addr, "POST", "/webhooks/bland", json.dumps(
                {"call_id": f"call-{rid}", "answered_by": "voicemail", "call_length": 0.4,
                 "metadata": {"request_id": rid}}), {"Content-Type": "application/json"})
        _, pending = admin(addr, "GET", "/api/admin/calls/pending")
        _, health_body = request(addr, "GET", "/health")
        health = json.loads(health_body)
        open_ids = {e["request_id"] for e in pending["entries"]}
        unsettled = [r for r in settled if r in open_ids]
        lost = [r for r in load.accepted if r not in Bland.received and r not in open_ids]
        twice = [r for r, n in Bland.received.items() if n > 1]
        quarantined = health["components"]["quarantine"]["total"]
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        mock.shutdown()
    print(f"rounds: {ROUNDS} x kill -9 after 1/3..1 of {SECONDS} s, 8 connections")
    print(f"answers per run: min {min(answered_per_run)}, max {max(answered_per_run)}, "
          f"total {sum(load.answers.values())}; by status {dict(sorted(load.answers.items()))}")
    print(f"accepted leads: {len(load.accepted)}; reached Bland: {len(Bland.received)}; "
          f"left unconfirmed by the kills: {len(unconfirmed)}, of which Bland had "
          f"{len(settled)} (settled by their completions) and never got {len(unconfirmed) - len(settled)} "
          f"(left for an admin); still open: {len(open_ids)}")
    print(f"lost: {len(lost)}; dialled twice: {len(twice)}; server errors: {len(load.errors)}; "
          f"quarantined lines: {quarantined}; completions that did not settle: {len(unsettled)}")
    ok = not lost and not twice and not load.errors and quarantined == 0 and not unsettled
    if ok:
        shutil.rmtree(data)
    else:
        print(f"FAILED; data kept in {data}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
