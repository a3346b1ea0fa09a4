#!/usr/bin/env bash
# Releasing a deferred backlog while intake keeps answering (issue 6).
#
# Usage: cargo build --release && scripts/measure_release.sh [DURATION]
# Env: N (entries, default 100000), BATCH (SCHEDULER_RELEASE_BATCH, default 500),
#      CONNS (wrk connections, default 32).
# 1. Baseline: a server with 100k flags and an empty queue; wrk posts a blocklisted
#    12-field lead for DURATION and reports req/s, p50, p99.
# 2. The same server started on a queue of N deferred leads that are all due (as at 09:00
#    on a Monday); wrk runs the same load from the moment it listens, while the release
#    task re-runs each lead through the pipeline, journals it, puts the call in the outbox
#    and the dry-run dispatcher drains it (BLAND_MAX_CALLS_PER_SECOND=100000: no Bland
#    pacing, the worst case for intake). Prints intake latency during the release and how
#    long the queue took to drain.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-20s}
N=${N:-100000}
source scripts/lib.sh
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
DATA=$(mktemp -d)
PID=
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT
write_flags "$DATA"
always_open "$DATA"
write_lead_lua "$DATA/lead.lua"
SERVER_ENV=(BLAND_MAX_CALLS_PER_SECOND=100000 BLAND_MAX_CONCURRENT=64 SCHEDULER_RELEASE_BATCH="${BATCH:-500}")
load() {
  wrk -t2 -c"${CONNS:-32}" -d"$DURATION" --latency -s "$DATA/lead.lua" "http://$ADDR/webhooks/lead" \
    | grep -E "Requests/sec|Latency  |50%|99%|Non-2xx|requests in"
}
depth() {
  curl -s "http://$ADDR/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["components"]["scheduler"]["queue_depth"])'
}

start_server "$DATA" "${SERVER_ENV[@]}"
echo "== baseline: intake with an empty queue"
load
kill "$PID"; wait "$PID" 2>/dev/null || true
# A fresh data directory for the second run (the baseline's journals are not its business).
OLD=$DATA
DATA=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA" "$OLD"' EXIT
cp "$OLD/blocklist-config.json" "$OLD/scheduler-config.json" "$OLD/lead.lua" "$DATA/"

python3 - "$DATA" "$N" <<'PY'
import datetime, json, os, sys
data, n = sys.argv[1], int(sys.argv[2])
now = datetime.datetime.now(datetime.timezone.utc)
ts = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
os.makedirs(os.path.join(data, "deferred"), exist_ok=True)
with open(os.path.join(data, "deferred", "queue.jsonl"), "w") as f:
    for i in range(n):
        phone = "+1786%07d" % i
        lead = {"phone_number": phone, "lead_id": "D%d" % i, "list_id": "1001", "first_name": "Ada",
                "last_name": "Lovelace", "email": "ada%d@example.org" % i, "state": "FL",
                "postal_code": "33101", "status": "NEW", "city": "Miami", "address1": "1 Main St",
                "source": "web"}
        f.write(json.dumps({"op": "put", "id": "q_%d" % i, "version": i, "request_id": "load-%d" % i,
            "lead_id": lead["lead_id"], "phone": phone,
            "first_deferred_at": ts(now - datetime.timedelta(hours=14)),
            "deferred_at": ts(now - datetime.timedelta(hours=14)),
            "release_at": ts(now - datetime.timedelta(seconds=1)),
            "stage": "schedule", "reason": "business hours: closed", "releases": 0, "lead": lead}) + "\n")
PY
sync
T0=$(date +%s.%N)
start_server "$DATA" "${SERVER_ENV[@]}"
T1=$(date +%s.%N)
echo "== $N deferred leads due at startup (server listening after $(echo "$T1 - $T0" | bc) s, RSS $(rss))"
echo "queue depth when the load starts: $(depth)"
load
echo "queue depth after the load: $(depth)"
while [ "$(depth)" != "0" ]; do sleep 0.2; done
T2=$(date +%s.%N)
echo "queue drained $(echo "$T2 - $T1" | bc) s after the server started listening; RSS $(rss)"
echo "release decisions journaled: $(cat "$DATA"/calls/*.jsonl | grep -c '"release":true')"
