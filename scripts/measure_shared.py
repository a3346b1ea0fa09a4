#!/usr/bin/env python3
"""Database-mode figures for the README (issue 13 targets in brackets).

Usage: cargo build --release && python3 scripts/measure_shared.py
Needs the PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres). In a scratch
database (dropped at the end) it loads, with SQL:
  - 30 business days x 100k blocked attempts, and times the seed's blocklist statistics
    over them: the first request (rollups made), the next, and a second instance's first
    (the rollups are shared) [<= 0.5 s];
  - 1M flags and 1M call-journal/outbox/deferred rows, and times an instance's start to
    listening [<= 5 s];
  - then adds 200 flags on one instance and times until another blocks each number
    [p99 <= 1 s].
Talks only to 127.0.0.1 and stops by itself.
"""
import http.client
import json
import os
import subprocess
import tempfile
import time

KEY = "measure-key-0123456789"
BIN = os.path.join(os.path.dirname(__file__), "..", "target", "release", "callgate")
DB = f"callgate_measure_{os.getpid()}"
URL = f"postgres://postgres@127.0.0.1:5432/{DB}"


def psql(sql):
    subprocess.run(
        ["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", DB],
        input=sql, text=True, check=True, stdout=subprocess.DEVNULL,
    )


def start(data):
    env = dict(os.environ, HOST="127.0.0.1", PORT="0", DATA_DIR=data, DATABASE_URL=URL,
               ADMIN_API_KEY=KEY, LOG_FORMAT="json", RUST_LOG="warn,callgate::startup=info",
               CALLGATE_CONFIG="/dev/null", TIMEZONE="America/New_York")
    t0 = time.monotonic()
    proc = subprocess.Popen([BIN, "serve"], env=env, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if '"addr"' in line:
            addr = json.loads(line)["addr"]
            host, port = addr.rsplit(":", 1)
            return proc, int(port), time.monotonic() - t0
    raise SystemExit("server did not start")


def request(port, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"X-API-Key": KEY}
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def timed_stats(port, start_day, end_day):
    t0 = time.monotonic()
    status, body = request(port, "GET",
                           f"/api/admin/blocklist/statistics?start={start_day}&end={end_day}")
    assert status == 200, body
    return time.monotonic() - t0, json.loads(body)["total_attempts"]


def main():
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB], check=True)
    procs = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # The schema: an empty copy makes it.
            empty = os.path.join(tmp, "empty")
            os.makedirs(empty)
            subprocess.run([BIN, "migrate", "--to-database"], check=True,
                           stdout=subprocess.DEVNULL,
                           env=dict(os.environ, DATA_DIR=empty, DATABASE_URL=URL,
                                    CALLGATE_CONFIG="/dev/null"))
            t0 = time.monotonic()
            psql("""
INSERT INTO journal_lines (journal, business_date, at, request_id, lead_id, phone, line)
SELECT 'attempts', d::date, d + (i || ' seconds')::interval, 'req_' || i, 'L' || i,
       '+1305' || lpad((i % 10000000)::text, 7, '0'),
       '{"timestamp":"' || to_char(d + (i || ' seconds')::interval, 'YYYY-MM-DD"T"HH24:MI:SS".000Z"') ||
       '","field":"phone","value":"+13055551234","lead_id":"L' || i || '","phone":"+13055551234","blocked":true,' ||
       '"reason":"Blocked by flag: phone=+13055551234","flag_id":"flag_' || (i % 1000) ||
       '","request_id":"req_' || i || '","stage":"blocklist","source":"flag","flag_reason":"asked"}'
FROM generate_series(timestamp '2026-10-01 12:00', timestamp '2026-10-30 12:00', interval '1 day') d,
     generate_series(1, 100000) i;
ANALYZE journal_lines;
""")
            print(f"loaded 30 x 100k attempts in {time.monotonic() - t0:.0f} s")
            a, port_a, _ = start(os.path.join(tmp, "a"))
            procs.append(a)
            first, total = timed_stats(port_a, "2026-10-01", "2026-10-30")
            again, _ = timed_stats(port_a, "2026-10-01", "2026-10-30")
            b, port_b, _ = start(os.path.join(tmp, "b"))
            procs.append(b)
            other, _ = timed_stats(port_b, "2026-10-01", "2026-10-30")
            print(f"blocklist statistics over 30 days x 100k ({total} attempts) [<= 0.5 s]: "
                  f"cold (no rollup yet, racing the startup rollups) {first:.2f} s, next "
                  f"{again * 1000:.0f} ms, another instance's first {other * 1000:.0f} ms")
            for p in procs:
                p.terminate()
                p.wait()
            procs.clear()
            psql("TRUNCATE day_summaries;")
            c, port_c, _ = start(os.path.join(tmp, "c0"))
            procs.append(c)
            time.sleep(10)
            warmed, _ = timed_stats(port_c, "2026-10-01", "2026-10-30")
            print(f"the same 10 s after a start with no rollups stored (the lease holder makes "
                  f"them at startup): {warmed * 1000:.0f} ms")
            for p in procs:
                p.terminate()
                p.wait()
            procs.clear()

            t0 = time.monotonic()
            psql("""
INSERT INTO flags (id, field, value, reason, added_by, added_at)
SELECT 'flag_m_' || i, 'phone', '+1' || (2000000000 + i), 'Customer requested no contact', 'admin',
       timestamptz '2026-01-01' + (i || ' milliseconds')::interval
FROM generate_series(1, 1000000) i;
INSERT INTO flag_changes (op, flag_id, at) VALUES ('delete', 'none', now());
INSERT INTO journal_lines (journal, business_date, at, request_id, lead_id, phone, line)
SELECT 'calls', (now() - interval '1 hour')::date, now() - interval '1 hour' + (i || ' ms')::interval,
       'req_c' || i, 'L' || i, '+1404' || lpad(i::text, 7, '0'),
       '{"event":"decision","timestamp":"2026-11-30T12:00:00.000Z","request_id":"req_c' || i ||
       '","lead_id":"L' || i || '","phone":"+1404' || lpad(i::text, 7, '0') || '","decision":"blocked","stage":"blocklist","reason":"x"}'
FROM generate_series(1, 500000) i;
INSERT INTO outbox (request_id, lead_id, phone, body, state, queued_at, next_try_at, outcome, closed_at)
SELECT 'req_o' || i, 'L' || i, '+1404' || lpad(i::text, 7, '0'), '{}', 'closed', now(), now(), 'sent', now()
FROM generate_series(1, 250000) i;
INSERT INTO deferred (id, lead_id, phone, request_id, lead, first_deferred_at, deferred_at, release_at, stage, reason)
SELECT 'q_' || i, 'D' || i, '+1678' || lpad(i::text, 7, '0'), 'req_d' || i, '{}', now(), now(),
       now() + interval '30 days', 'schedule', 'closed'
FROM generate_series(1, 250000) i;
ANALYZE;
""")
            print(f"loaded 1M flags and 1M journal/outbox/deferred rows in {time.monotonic() - t0:.0f} s")
            a, port_a, started = start(os.path.join(tmp, "c"))
            procs.append(a)
            print(f"start to listening with 1M flags and 1M rows [<= 5 s]: {started:.2f} s")
            b, port_b, _ = start(os.path.join(tmp, "d"))
            procs.append(b)
            waits = []
            for i in range(200):
                number = f"+1312555{i:04d}"
                status, body = request(port_a, "POST", "/api/admin/blocklist",
                                       {"field": "phone", "value": number})
                assert status == 201, body
                t0 = time.monotonic()
                while True:
                    status, _ = request(port_b, "GET",
                                        f"/api/admin/blocklist/lookup?field=phone&value={number}")
                    if status == 204:
                        break
                    time.sleep(0.002)
                waits.append(time.monotonic() - t0)
            waits.sort()
            print(f"flag propagation between instances over 200 adds [p99 <= 1 s]: "
                  f"p50 {waits[100] * 1000:.0f} ms, p99 {waits[197] * 1000:.0f} ms, "
                  f"max {waits[-1] * 1000:.0f} ms")
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--force", DB])


if __name__ == "__main__":
    main()
