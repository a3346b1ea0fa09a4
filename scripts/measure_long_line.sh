#!/usr/bin/env bash
# A list upload that is one enormous line (issue 22: "a 2.3 MB gzip that expands to one
# 2.3 GiB line drove the server to 4.6 GB RSS"). Builds a gzip of 200 numbers and one line
# of SIZE MiB (default 2,300), and a plain file with one 400 MiB line; PUTs each to a
# server with one `national_dnc` list and prints the answer and the server's peak RSS
# (VmHWM) after each. Talks only to 127.0.0.1; stops by itself.
# Usage: cargo build --release && scripts/measure_long_line.sh [SIZE_MIB]
#        (BIN=target/debug/callgate to measure a debug build)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-2300}
source scripts/lib.sh
DATA=$(mktemp -d)
GZ=$(mktemp --suffix=.txt.gz)
PLAIN=$(mktemp --suffix=.txt)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA" "$GZ" "$PLAIN"' EXIT
printf '[[lists]]\nname = "ftc"\nkind = "national_dnc"\n' > "$DATA/callgate.toml"
{ seq 3055550000 3055550199; head -c $((SIZE << 20)) /dev/zero | tr '\0' 9; echo; } | gzip -1 > "$GZ"
{ seq 3055550000 3055550199; head -c $((400 << 20)) /dev/zero | tr '\0' 9; echo; } > "$PLAIN"
start_server "$DATA" CALLGATE_CONFIG="$DATA/callgate.toml"
peak() { awk '/VmHWM/ {printf "%.1f MB", $2/1024}' "/proc/$PID/status"; }
echo "idle: RSS $(rss), peak $(peak)"
for f in "$GZ" "$PLAIN"; do
  echo "== $(basename "$f"): $(du -h "$f" | cut -f1) on the wire"
  curl -sS -X PUT -H "X-API-Key: load-test-key" -T "$f" \
    "http://$ADDR/api/admin/lists/ftc?downloaded_at=$(date -u +%F)" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); print({k: d.get(k) for k in ("count","invalid","error")}, (d.get("invalid_lines") or [{}])[0].get("text"))'
  echo "peak RSS so far (VmHWM): $(peak)"
done
