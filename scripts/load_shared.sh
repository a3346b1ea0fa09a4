#!/usr/bin/env bash
# Database-mode load test (issue 13 targets: blocked-path webhook >= 5,000 req/s, p99 <=
# 20 ms with every decision committed; the file backend measured in the same run; two
# instances on one database not slower in total than one).
#
# Usage: cargo build --release && scripts/load_shared.sh [DURATION]
# Needs the PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres) and wrk. Makes a
# scratch database (dropped at the end), copies 100k flags and an always-open scheduler
# config into it with `callgate migrate --to-database`, then posts leads for distinct
# blocklisted numbers with `wrk -t2 -c32`: one database instance, the file backend on the
# same flags, and two database instances side by side (one wrk -t1 -c16 each).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-20s}
source scripts/lib.sh
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
DB=callgate_load_$$
PG=postgres://postgres@127.0.0.1:5432
SRC=$(mktemp -d); A=$(mktemp -d); B=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  dropdb -h 127.0.0.1 -U postgres --if-exists --force "$DB" || true
  rm -rf "$SRC" "$A" "$B"
}
trap cleanup EXIT
createdb -h 127.0.0.1 -U postgres "$DB"
write_flags "$SRC"
always_open "$SRC"
DATA_DIR=$SRC DATABASE_URL=$PG/$DB CALLGATE_CONFIG=/dev/null RUST_LOG=warn "$BIN" migrate --to-database

cat > "$SRC/leads.lua" <<'LUA'
-- Each request a different blocklisted number (+1 305 200-0000 … 209-9999), threads
-- interleaved so no two connections post the same number at once.
-- `-- N` after the script name keeps two wrk processes (one per instance) apart.
local threads = 0
setup = function(thread) thread:set("offset", threads); threads = threads + 1 end
local base = 0
init = function(args) base = tonumber(args[1] or "0") end
local counter = 0
request = function()
  counter = counter + 1
  local i = (counter * 4 + offset * 2 + base) % 100000
  local body = string.format('{"phone_number":"(305) %03d-%04d","lead_id":"L%d","list_id":"1001","first_name":"Ada","last_name":"Lovelace","email":"ada@example.org","state":"FL","postal_code":"33101","status":"NEW","city":"Miami","address1":"1 Main St","source":"web"}', 200 + math.floor(i / 10000), i % 10000, i)
  return wrk.format("POST", "/webhooks/lead", {["Content-Type"] = "application/json"}, body)
end
LUA

run_wrk() { local base=$1; shift; wrk "$@" --latency -s "$SRC/leads.lua" -- "$base" | grep -E "Requests/sec|Latency|50%|99%|Non-2xx|requests in"; }

echo "== database backend, one instance (synchronous_commit=$(psql -h 127.0.0.1 -U postgres -Atc 'show synchronous_commit' "$DB"))"
start_server "$A" DATABASE_URL="$PG/$DB" DATABASE_MAX_CONNECTIONS=16
PIDS+=("$PID"); ONE=$ADDR
run_wrk 0 -t2 -c32 -d"$DURATION" "http://$ONE"
echo "decisions committed: $(psql -h 127.0.0.1 -U postgres -Atc "select count(*) from journal_lines where journal='calls'" "$DB")"

echo "== database backend, two instances on the same database (each wrk -t1 -c16)"
start_server "$B" DATABASE_URL="$PG/$DB" DATABASE_MAX_CONNECTIONS=16
PIDS+=("$PID"); TWO=$ADDR
run_wrk 0 -t1 -c16 -d"$DURATION" "http://$ONE" > "$SRC/one.txt" &
W1=$!
run_wrk 1 -t1 -c16 -d"$DURATION" "http://$TWO" > "$SRC/two.txt"
wait "$W1"
echo "-- instance 1"; cat "$SRC/one.txt"; echo "-- instance 2"; cat "$SRC/two.txt"
for p in "${PIDS[@]}"; do kill "$p"; done; wait 2>/dev/null || true; PIDS=()

echo "== file backend, same flags, same leads"
start_server "$SRC"
PIDS+=("$PID")
run_wrk 0 -t2 -c32 -d"$DURATION" "http://$ADDR"
