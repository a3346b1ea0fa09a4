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
source scripts/lib.sh
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
DATA=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT
write_flags "$DATA"
always_open "$DATA"
LOG=$LOG start_server "$DATA"
write_lead_lua "$DATA/lead.lua"
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
