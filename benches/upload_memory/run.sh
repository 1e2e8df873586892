#!/bin/bash
# Peak memory of one ~5 MiB CV post against the real binary.
# usage: benches/upload_memory/run.sh [BINARY]   (default target/debug/kipekee)
# Makes a 4.97 MiB PDF once with LibreOffice (a random-noise image, losslessly compressed,
# so it cannot shrink), starts a loopback fake Mailtrap and the binary, posts one
# small real CV as warm-up (so start-up allocations are out of the way, while the allocator
# holds no freed 5 MiB buffers to reuse), resets VmHWM (/proc/PID/clear_refs) and prints the peak RSS over idle
# during the second post. Needs python3, curl and libreoffice-writer-nogui.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=${1:-target/debug/kipekee}; PORT=${PORT:-18731}; MT=${MT:-18732}
work=$(mktemp -d)
trap 'kill $KPID $FPID 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
/usr/bin/python3 "$here/make_scan.py"
libreoffice --headless --convert-to 'pdf:writer_pdf_Export:{"UseLosslessCompression":{"type":"boolean","value":"true"},"ReduceImageResolution":{"type":"boolean","value":"false"}}' scan.html >/dev/null 2>&1
ls -l scan.pdf
/usr/bin/python3 "$here/fake_mailtrap.py" "$MT" & FPID=$!
env -i PATH="$PATH" ROCKET_PORT=$PORT ROCKET_ADDRESS=127.0.0.1 ROCKET_CONFIG=/nonexistent KIPEKEE_DATA_DIR="$work/data" \
  MAILTRAP_API_URL=http://127.0.0.1:$MT MAILTRAP_API_TOKEN=tok DEFAULT_FROM_EMAIL=a@example.com ADMIN_EMAIL=o@example.com \
  KIPEKEE_SPAM_MIN_SECONDS=0 KIPEKEE_RATE_LIMIT=0 "$OLDPWD/$BIN" serve > "$work/log" 2>&1 & KPID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
post() { curl -s -o /dev/null -w '%{http_code}\n' -F full_name=Ann -F email=ann@example.com -F position=Guide -F cover_letter=Hello -F "cv=@$1" "http://127.0.0.1:$PORT/f/job"; }
echo "warm-up: $(post "$here/../../tests/fixtures/cv/cv.pdf")"
echo 5 > /proc/$KPID/clear_refs
idle=$(awk '/VmRSS/ {print $2}' /proc/$KPID/status)
echo "post: $(post scan.pdf)"
peak=$(awk '/VmHWM/ {print $2}' /proc/$KPID/status)
echo "idle RSS $((idle / 1024)) MiB, peak $((peak / 1024)) MiB: one CV post costs $(((peak - idle) / 1024)) MiB"
