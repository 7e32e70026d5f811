#!/usr/bin/env bash
# Benchmarks logbackup-webhook over TLS on 127.0.0.1 with a realistic KubeSphere StatefulSet
# AdmissionReview: requests/s, p50/p99 at a fixed 1,000 req/s and at saturation, RSS idle and
# under load. Bar: p99 <= 2 ms at 1,000 req/s, RSS <= 30 MiB.
#   bench/webhook.sh            (env: RATE=1000 SECONDS_FIXED=20 SECONDS_SAT=10 CONNECTIONS=32)
set -euo pipefail
cd "$(dirname "$0")/.."

RATE=${RATE:-1000}
SECONDS_FIXED=${SECONDS_FIXED:-20}
SECONDS_SAT=${SECONDS_SAT:-10}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18443}
OPS_PORT=${OPS_PORT:-18080}

cargo build --release -q -p logbackup-webhook --bin logbackup-webhook --example loadgen
BIN=target/release/logbackup-webhook
LOADGEN=target/release/examples/loadgen

work=$(mktemp -d)
pid=
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$LOADGEN" certs "$work"
"$LOADGEN" body tests/fixtures/inject/webhook-smoke.yaml > "$work/review.json"

"$BIN" --listen "127.0.0.1:$PORT" --ops-listen "127.0.0.1:$OPS_PORT" \
  --tls-cert-file "$work/tls.crt" --tls-key-file "$work/tls.key" \
  --shutdown-delay 0s --log-level warn &
pid=$!

# Poll readiness with a deadline (10 s).
http_get() { # PATH -> response on stdout (plain HTTP to the ops port)
  (exec 3<>"/dev/tcp/127.0.0.1/$OPS_PORT" && printf 'GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' "$1" >&3 && cat <&3) 2>/dev/null
}
for i in $(seq 100); do
  if http_get /readyz | head -1 | grep -q ' 200'; then break; fi
  if [[ $i == 100 ]]; then echo "webhook not ready after 10 s" >&2; exit 1; fi
  sleep 0.1
done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
rss() { awk -v k="$1" '$1 == k":" { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), shared"
echo "body: $(wc -c < "$work/review.json") bytes AdmissionReview (KubeSphere elasticsearch-logging-data, CREATE)"
echo "rss idle: $(rss VmRSS) MiB"

"$LOADGEN" run --ca "$work/ca.crt" --body "$work/review.json" --port "$PORT" --rate 0 --seconds 2 --connections 4 > /dev/null # warm-up
timeout $((SECONDS_FIXED + 30)) "$LOADGEN" run --ca "$work/ca.crt" --body "$work/review.json" --port "$PORT" \
  --rate "$RATE" --seconds "$SECONDS_FIXED" --connections "$CONNECTIONS" &
lg=$!
t0=$(cpu_ticks); s0=$(date +%s.%N)
sleep $((SECONDS_FIXED / 2))
echo "rss at ${RATE} req/s: $(rss VmRSS) MiB"
echo "cpu at ${RATE} req/s: $(awk -v t="$(( $(cpu_ticks) - t0 ))" -v hz="$(getconf CLK_TCK)" -v s0="$s0" -v s1="$(date +%s.%N)" 'BEGIN { printf "%.2f", t / hz / (s1 - s0) }') cores"
wait "$lg"

timeout $((SECONDS_SAT + 30)) "$LOADGEN" run --ca "$work/ca.crt" --body "$work/review.json" --port "$PORT" \
  --rate 0 --seconds "$SECONDS_SAT" --connections "$CONNECTIONS" &
lg=$!
sleep $((SECONDS_SAT / 2))
echo "rss at saturation: $(rss VmRSS) MiB"
wait "$lg"
echo "rss peak (VmHWM): $(rss VmHWM) MiB"
echo "server-side review time (parse + plan + encode), from /metrics:"
http_get /metrics | tr -d '\r' | awk '
  /^logbackup_webhook_admission_review_duration_seconds_bucket/ {
    match($0, /le="[^"]+"/); le = substr($0, RSTART + 4, RLENGTH - 5); n++; les[n] = le; cum[n] = $NF }
  /^logbackup_webhook_admission_review_duration_seconds_sum/ { sum = $NF }
  /^logbackup_webhook_admission_review_duration_seconds_count/ { count = $NF }
  END {
    printf "  reviews=%d mean_ms=%.3f", count, 1000 * sum / count
    for (q = 1; q <= 2; q++) { target = (q == 1 ? 0.5 : 0.99) * count
      for (i = 1; i <= n; i++) if (cum[i] >= target) { printf " p%d_ms<=%s", (q == 1 ? 50 : 99), (les[i] == "+Inf" ? "inf" : 1000 * les[i]); break } }
    printf "\n" }'
