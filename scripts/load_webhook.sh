#!/usr/bin/env bash
# Lead-webhook load test (issue targets: >= 15,000 req/s, p99 <= 10 ms, >= 0.3 of
# /health/live in the same run, memory flat within 10 %).
#
# Usage: cargo build --release && scripts/load_webhook.sh [DURATION] [RUST_LOG]
# Starts target/release/callgate on 127.0.0.1 with 100k flags and a temporary DATA_DIR,
# posts a blocklisted lead with `wrk -t2 -c32` (every attempt is journaled and fsynced
# before its response), then hits /health/live the same way, and prints RSS before,
# during and after. Talks only to 127.0.0.1; stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-20s}
LOG=${2:-warn,callgate::startup=info}
BIN=target/release/callgate
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
DATA=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT
python3 - "$DATA/blocklist-config.json" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write('{"enabled": true, "flags": [\n')
    n = 100_000
    for i in range(n):
        f.write('{"id":"flag_%d","field":"phone","value":"+1%d","reason":"load test"}%s\n' % (i, 2000000000 + i, "," if i + 1 < n else ""))
    f.write("]}\n")
PY
sync
HOST=127.0.0.1 PORT=0 DATA_DIR="$DATA" ADMIN_API_KEY=load-test-key LOG_FORMAT=json RUST_LOG="$LOG" \
  CALLGATE_CONFIG=/dev/null "$BIN" serve 2>"$DATA/server.log" &
PID=$!
for _ in $(seq 100); do
  ADDR=$(grep -o '"addr":"[^"]*"' "$DATA/server.log" | head -1 | cut -d'"' -f4 || true)
  [ -n "$ADDR" ] && break
  sleep 0.1
done
[ -n "$ADDR" ] || { echo "server did not start" >&2; cat "$DATA/server.log" >&2; exit 1; }
rss() { awk '/VmRSS/ {printf "%.1f MB", $2/1024}' "/proc/$PID/status"; }
cat > "$DATA/lead.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"phone_number":"(200) 005-0000","lead_id":"98765432","list_id":"1001","first_name":"Ada","last_name":"Lovelace","email":"ada@example.org","state":"FL","postal_code":"33101","status":"NEW","city":"Miami","address1":"1 Main St","source":"web"}'
LUA
curl -s -X POST -H 'Content-Type: application/json' --data "$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$DATA/lead.lua")" "http://$ADDR/webhooks/lead"; echo
echo "RSS before: $(rss)"
( sleep "${DURATION%s}"; echo "RSS at the end of the run: $(rss)" ) &
SAMPLER=$!
echo "== POST /webhooks/lead (blocklisted, 100k flags, RUST_LOG=$LOG)"
wrk -t2 -c"${CONNS:-32}" -d"$DURATION" --latency -s "$DATA/lead.lua" "http://$ADDR/webhooks/lead" | grep -E "Requests/sec|Latency|50%|99%|Non-2xx|requests in"
wait "$SAMPLER"
echo "RSS after: $(rss)"
echo "== GET /health/live"
wrk -t2 -c32 -d"$DURATION" --latency "http://$ADDR/health/live" | grep -E "Requests/sec|Latency|50%|99%|requests in"
echo "attempts journaled today: $(cat "$DATA"/blocklist-attempts/*.jsonl | wc -l)"
