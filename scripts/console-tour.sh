#!/usr/bin/env bash
# Screenshots of every console page (1280x800 and a phone's 390x844) and the console's
# performance figures, into the folder given: 90 business days of journals are made
# through the real API first (a test server with a mock Bland, on a moving clock).
#   scripts/console-tour.sh /tmp/console-shots [--release]
# Needs chromium and chromium-driver (apt install chromium chromium-driver).
set -euo pipefail
dir=${1:?usage: scripts/console-tour.sh DIR [--release]}
shift
mkdir -p "$dir"
CONSOLE_TOUR_DIR=$(cd "$dir" && pwd) cargo test "$@" --test browser console_tour -- --ignored --nocapture
echo "screenshots and performance.txt in $dir"
