#!/usr/bin/env bash
# A national-size do-not-call list through the API (issue 14: "the body is streamed, never
# held whole in memory; a 3 GB upload works").
#
# Usage: cargo build --release && scripts/measure_lists_upload.sh [NUMBERS]
# Writes NUMBERS (default 250,000,000) registry-like numbers as an FTC text file (clustered
# in area code + exchange blocks, 40 % of each block), starts target/release/callgate with
# one `national_dnc` list, PUTs the file with curl, and prints the upload's time, the
# server's RSS before and after and its peak (VmHWM), then restarts the server on the
# snapshot and prints how long startup took. Talks only to 127.0.0.1; stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-250000000}
source scripts/lib.sh
DATA=$(mktemp -d)
FILE=$(mktemp --suffix=.txt)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA" "$FILE"' EXIT
printf '[[lists]]\nname = "ftc"\nkind = "national_dnc"\n' > "$DATA/callgate.toml"
BLOCKS=$(( (N + 3999) / 4000 ))
echo "== writing $N numbers ($BLOCKS blocks of 10,000, 40 % registered)"
awk -v blocks="$BLOCKS" -v n="$N" 'BEGIN {
  w = 0
  for (b = 0; b < blocks && w < n; b++) {
    npa = 201 + int(b / 800) % 790; nxx = 200 + b % 800
    for (l = 0; l < 10000 && w < n; l += 5) {
      printf "%d%d%04d\n", npa, nxx, l; w++
      if (w < n) { printf "%d%d%04d\n", npa, nxx, l + 2; w++ }
    }
  }
}' > "$FILE"
echo "file: $(du -h "$FILE" | cut -f1), $(wc -l < "$FILE") lines"
start_server "$DATA" CALLGATE_CONFIG="$DATA/callgate.toml"
echo "RSS before: $(rss)"
START=$(date +%s.%N)
curl -sS -X PUT -H "X-API-Key: load-test-key" -T "$FILE" \
  "http://$ADDR/api/admin/lists/ftc?downloaded_at=$(date -u +%F)" \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); print({k: d.get(k) for k in ("version","count","invalid","bytes")})'
END=$(date +%s.%N)
echo "upload and load: $(echo "$END - $START" | bc) s"
echo "RSS after: $(rss); peak (VmHWM): $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' "/proc/$PID/status")"
ls -l "$DATA/lists/"
kill "$PID"; wait "$PID" 2>/dev/null || true
START=$(date +%s.%N)
start_server "$DATA" CALLGATE_CONFIG="$DATA/callgate.toml"
END=$(date +%s.%N)
echo "restart with the snapshot, until listening: $(echo "$END - $START" | bc) s; RSS $(rss)"
curl -s -H "X-API-Key: load-test-key" "http://$ADDR/api/admin/lists/lookup?phone=2012000002"; echo
