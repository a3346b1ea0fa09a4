# Shared by the load scripts: a 100k-flag blocklist, a release build started on
# 127.0.0.1:0 with a temporary DATA_DIR, and the lead wrk posts.
# Usage: source scripts/lib.sh; DATA=$(mktemp -d); write_flags "$DATA"; start_server "$DATA" [ENV=VAL …]
# Sets PID and ADDR.

BIN=${BIN:-target/release/callgate}

write_flags() {
  python3 - "$1/blocklist-config.json" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write('{"enabled": true, "flags": [\n')
    n = 100_000
    for i in range(n):
        f.write('{"id":"flag_%d","field":"phone","value":"+1%d","reason":"load test"}%s\n' % (i, 3052000000 + i, "," if i + 1 < n else ""))
    f.write("]}\n")
PY
}

# The server runs on the wall clock: business hours and the local window are switched off
# so results do not depend on the hour a script runs (the schedule check still runs; its
# cost with the windows on is in `cargo bench --bench pipeline`).
always_open() {
  echo '{"enabled": false, "local_window": {"enabled": false, "unknown_zone": "block"}}' > "$1/scheduler-config.json"
}

start_server() {
  local data=$1; shift
  sync
  env HOST=127.0.0.1 PORT=0 DATA_DIR="$data" ADMIN_API_KEY=load-test-key LOG_FORMAT=json \
    RUST_LOG="${LOG:-warn,callgate::startup=info}" CALLGATE_CONFIG=/dev/null "$@" \
    "$BIN" serve 2>"$data/server.log" &
  PID=$!
  ADDR=
  for _ in $(seq 300); do
    ADDR=$(grep -o '"addr":"[^"]*"' "$data/server.log" | head -1 | cut -d'"' -f4 || true)
    [ -n "$ADDR" ] && break
    sleep 0.1
  done
  [ -n "$ADDR" ] || { echo "server did not start" >&2; cat "$data/server.log" >&2; exit 1; }
}

rss() { awk '/VmRSS/ {printf "%.1f MB", $2/1024}' "/proc/$PID/status"; }

# The 12-field lead (blocklisted by flag_50000) as a wrk script.
write_lead_lua() {
  cat > "$1" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"phone_number":"(305) 205-0000","lead_id":"98765432","list_id":"1001","first_name":"Ada","last_name":"Lovelace","email":"ada@example.org","state":"FL","postal_code":"33101","status":"NEW","city":"Miami","address1":"1 Main St","source":"web"}'
LUA
}
