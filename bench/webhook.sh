#!/usr/bin/env bash
# Benchmarks logbackup-webhook over TLS on 127.0.0.1 against a reference measured in the same run:
# nginx serving the webhook's exact response to the same review as a static body, over TLS. Each
# server is pinned to one core (SERVER_CPU), the load generators to the other (CLIENT_CPU).
#   - throughput: wrk, CONNECTIONS keep-alive connections, SECONDS_SAT s; the ratio to nginx;
#   - p50/p99 at a fixed RATE req/s (loadgen run, open loop);
#   - first-response latency on FRESH new connections (loadgen first);
#   - the server-side review time from /metrics, RSS, and (MEMORY=1) VmHWM for the large reviews
#     (20k and 100k containers, 50k volumes) on a fresh process each, and 8 at once;
#   - the review alone, without TLS or HTTP (webhook/examples/reviewbench.rs, on SERVER_CPU).
# Goals: >= 0.25x nginx, p99 <= 1 ms at 2,000 req/s, first response < 5 ms.
#   bench/webhook.sh   (env: RATE=2000 SECONDS_FIXED=10 SECONDS_SAT=10 CONNECTIONS=32 FRESH=200 MEMORY=1 WORKERS= TCACHE=128
#                       REVIEWBENCH=path, to time the review with a reviewbench built elsewhere)
set -euo pipefail
cd "$(dirname "$0")/.."

RATE=${RATE:-2000}
SECONDS_FIXED=${SECONDS_FIXED:-10}
SECONDS_SAT=${SECONDS_SAT:-10}
CONNECTIONS=${CONNECTIONS:-32}
FRESH=${FRESH:-200}
MEMORY=${MEMORY:-1}
# Empty: the webhook's default, as the Deployment runs it (2 workers, but no more than the cores it
# may use: 1 on the pinned core).
WORKERS=${WORKERS:-}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(port); OPS_PORT=$(port); NGINX_PORT=$(port)

# The binary that ships: static glibc, as scripts/build-image.sh builds it (and sharing its artifacts).
# BIN=... LOADGEN=... use binaries built elsewhere (the dynamic `cargo build --release` ones, say).
target=x86_64-unknown-linux-gnu
if [ -z "${BIN:-}" ] || [ -z "${LOADGEN:-}" ]; then
  RUSTFLAGS="-C target-feature=+crt-static" cargo build --profile release-webhook -q --target "$target" \
    -p logbackup-webhook --bin logbackup-webhook --example loadgen --example reviewbench
  BIN=${CARGO_TARGET_DIR:-target}/$target/release-webhook/logbackup-webhook
  LOADGEN=${CARGO_TARGET_DIR:-target}/$target/release-webhook/examples/loadgen
  REVIEWBENCH=${REVIEWBENCH:-${CARGO_TARGET_DIR:-target}/$target/release-webhook/examples/reviewbench}
fi
echo "webhook: $BIN ($(file -b "$BIN" | grep -o 'static-pie linked\|statically linked\|dynamically linked' | head -1))"
for tool in wrk nginx taskset curl; do
  command -v "$tool" >/dev/null || { echo "bench/webhook.sh needs $tool (apt-get install wrk nginx-light util-linux curl)" >&2; exit 2; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

"$LOADGEN" certs "$work"
"$LOADGEN" body tests/fixtures/inject/kubesphere-data.yaml > "$work/review.json"

# The allocator setting the Deployment sets (manifests/webhook/base/deployment.yaml); TCACHE=7 is
# glibc's default.
TCACHE=${TCACHE:-128}
start_webhook() { # extra flags...; sets pid
  GLIBC_TUNABLES="glibc.malloc.tcache_count=$TCACHE" taskset -c "$SERVER_CPU" "$BIN" --listen "127.0.0.1:$PORT" --ops-listen "127.0.0.1:$OPS_PORT" \
    --tls-cert-file "$work/tls.crt" --tls-key-file "$work/tls.key" --shutdown-delay 0s --log-level error ${WORKERS:+--worker-threads "$WORKERS"} "$@" &
  pid=$!
  pids+=("$pid")
  for i in $(seq 100); do
    curl -fsS "http://127.0.0.1:$OPS_PORT/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "webhook not ready after 10 s" >&2; exit 1
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null || true; }
rss() { awk -v k="$2" '$1 == k":" { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
post() { # port file -> response body
  curl -fsS --cacert "$work/ca.crt" --resolve "localhost:$1:127.0.0.1" -H 'content-type: application/json' \
    --data-binary @"$2" "https://localhost:$1/mutate"
}

start_webhook
webhook=$pid
mkdir -p "$work/www" "$work/nginx"
# nginx's workers drop root privileges and must still read the response file.
chmod 755 "$work" "$work/www"
post "$PORT" "$work/review.json" > "$work/www/mutate"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body; proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi; uwsgi_temp_path $work/nginx/uwsgi; scgi_temp_path $work/nginx/scgi;
  keepalive_requests 1000000;
  client_body_buffer_size 64k;
  server {
    listen 127.0.0.1:$NGINX_PORT ssl;
    ssl_certificate $work/tls.crt;
    ssl_certificate_key $work/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    root $work/www;
    # A static file answers POST through the 405 error page, with status 200.
    location = /mutate { default_type application/json; error_page 405 =200 \$uri; }
  }
}
CONF
taskset -c "$SERVER_CPU" nginx -e "$work/nginx/error.log" -c "$work/nginx.conf" &
pids+=($!)
for i in $(seq 50); do post "$NGINX_PORT" "$work/review.json" > "$work/nginx.out" 2>/dev/null && break; sleep 0.1; done
cmp -s "$work/nginx.out" "$work/www/mutate" || { echo "nginx does not serve the webhook's response" >&2; exit 1; }

cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$work/review.json", "rb"); wrk.body = f:read("*a"); f:close()
LUA

echo "started $(date -u '+%Y-%m-%d %H:%M UTC'); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), shared; servers on cpu $SERVER_CPU, clients on cpu $CLIENT_CPU"
echo "webhook: --worker-threads ${WORKERS:-unset (its default: 1 on the one pinned core)}, GLIBC_TUNABLES=glibc.malloc.tcache_count=$TCACHE"
echo "body: $(wc -c < "$work/review.json") bytes AdmissionReview (KubeSphere elasticsearch-logging-data, CREATE); response $(wc -c < "$work/www/mutate") bytes"
echo "rss idle (webhook): $(rss "$webhook" VmRSS) MiB"
if [ -n "${REVIEWBENCH:-}" ] && [ -x "$REVIEWBENCH" ]; then
  echo "the review alone (reviewbench, best of 3 rounds, on cpu $SERVER_CPU):"
  taskset -c "$SERVER_CPU" "$REVIEWBENCH" "$work/review.json" 3 | sed 's/^/  /'
fi

measure() { # name port
  "$LOADGEN" run --ca "$work/ca.crt" --body "$work/review.json" --port "$2" --rate 0 --seconds 2 --connections 4 > /dev/null # warm-up
  local rps fixed first
  rps=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_SAT}s" -s "$work/post.lua" "https://127.0.0.1:$2/mutate" | awk '/^Requests\/sec/ { print $2 }')
  fixed=$(taskset -c "$CLIENT_CPU" "$LOADGEN" run --ca "$work/ca.crt" --body "$work/review.json" --port "$2" \
    --rate "$RATE" --seconds "$SECONDS_FIXED" --connections "$CONNECTIONS")
  first=$(taskset -c "$CLIENT_CPU" "$LOADGEN" first --ca "$work/ca.crt" --body "$work/review.json" --port "$2" --count "$FRESH")
  printf '%-8s wrk c%s: %s req/s\n%-8s %s\n%-8s %s\n' "$1" "$CONNECTIONS" "$rps" "$1" "$fixed" "$1" "$first"
  eval "${1}_rps=$rps"
}
measure nginx "$NGINX_PORT"
measure webhook "$PORT"
awk -v w="$webhook_rps" -v n="$nginx_rps" 'BEGIN { printf "throughput ratio webhook/nginx: %.3f (goal >= 0.25)\n", w / n }'
echo "rss after load (webhook): $(rss "$webhook" VmRSS) MiB, peak (VmHWM) $(rss "$webhook" VmHWM) MiB"
echo "server-side review time (parse + plan + encode; small reviews on the I/O worker), from /metrics:"
curl -fsS "http://127.0.0.1:$OPS_PORT/metrics" | tr -d '\r' | awk '
  /^logbackup_webhook_admission_review_duration_seconds_bucket/ {
    match($0, /le="[^"]+"/); le = substr($0, RSTART + 4, RLENGTH - 5); n++; les[n] = le; cum[n] = $NF }
  /^logbackup_webhook_admission_review_duration_seconds_sum/ { sum = $NF }
  /^logbackup_webhook_admission_review_duration_seconds_count/ { count = $NF }
  END {
    printf "  reviews=%d mean_ms=%.3f", count, 1000 * sum / count
    for (q = 1; q <= 2; q++) { target = (q == 1 ? 0.5 : 0.99) * count
      for (i = 1; i <= n; i++) if (cum[i] >= target) { printf " p%d_ms<=%s", (q == 1 ? 50 : 99), (les[i] == "+Inf" ? "inf" : 1000 * les[i]); break } }
    printf "\n" }'
stop "$webhook"

if [ "$MEMORY" = 1 ]; then
  echo "memory (VmHWM of a fresh webhook per input; goal <= 32 MiB):"
  python3 - "$work" <<'PY'
import json, sys, copy
work = sys.argv[1]
base = json.load(open(f"{work}/review.json"))
def review(name, containers=0, volumes=0, labelled=True):
    r = copy.deepcopy(base)
    obj = r["request"]["object"]
    if not labelled:
        obj["metadata"]["labels"].pop("logbackup.io/inject", None)
    pod = obj["spec"]["template"]["spec"]
    c0 = pod["containers"][0]
    pod["containers"] += [{"name": f"c{i}", "image": "busybox"} for i in range(containers)]
    pod.setdefault("volumes", [])
    pod["volumes"] += [{"name": f"v{i}", "emptyDir": {}} for i in range(volumes)]
    json.dump(r, open(f"{work}/{name}.json", "w"))
review("sts-20k-containers", containers=20_000)
review("sts-100k-containers", containers=100_000)
review("allowed-50k-volumes", volumes=50_000, labelled=False)
review("sts-2mib", containers=50_000)
# The largest object still under --max-object-values (10,000): about 9,000 values, reviewed and patched.
def values(v):
    return 1 + (sum(values(x) for x in v.values()) if isinstance(v, dict) else sum(values(x) for x in v) if isinstance(v, list) else 0)
obj = base["request"]["object"]
n = (9_000 - values(obj)) // 3
review("sts-9k-values", containers=n)
print(f"  (sts-9k-values: {values(json.load(open(f'{work}/sts-9k-values.json'))['request']['object'])} values in the object)")
PY
  for input in sts-20k-containers sts-100k-containers allowed-50k-volumes; do
    start_webhook
    code=$(curl -sS -o "$work/out.json" -w '%{http_code}' --cacert "$work/ca.crt" --resolve "localhost:$PORT:127.0.0.1" \
      -H 'content-type: application/json' --data-binary @"$work/$input.json" "https://localhost:$PORT/mutate")
    verdict=$(python3 -c "import json,sys; r=json.load(open('$work/out.json')).get('response',{}); print('allowed' if r.get('allowed') else 'denied: '+r.get('status',{}).get('message','')[:90])" 2>/dev/null || echo "http $code")
    printf '  %-22s %5.2f MiB body  VmHWM %5s MiB  VmRSS after %5s MiB  %s\n' "$input" \
      "$(awk -v b="$(wc -c < "$work/$input.json")" 'BEGIN { print b / 1048576 }')" "$(rss "$pid" VmHWM)" "$(rss "$pid" VmRSS)" "$verdict"
    stop "$pid"
  done
  start_webhook
  big=()
  for i in $(seq 8); do post "$PORT" "$work/sts-2mib.json" > /dev/null 2>&1 & big+=($!); done
  sleep 0.05
  small=$(curl -sS -o /dev/null -w '%{time_total}' --cacert "$work/ca.crt" --resolve "localhost:$PORT:127.0.0.1" \
    -H 'content-type: application/json' --data-binary @"$work/review.json" "https://localhost:$PORT/mutate")
  wait "${big[@]}" 2>/dev/null || true
  printf '  8 x %.2f MiB at once     VmHWM %5s MiB; a small review sent behind them took %s s\n' \
    "$(awk -v b="$(wc -c < "$work/sts-2mib.json")" 'BEGIN { print b / 1048576 }')" "$(rss "$pid" VmHWM)" "$small"
  stop "$pid"
  # The mix the API server could send at worst: 8 reviews just under the value limit (reviewed and
  # patched) and 8 of 1.9 MiB (denied by the limit), all at once.
  start_webhook
  jobs=()
  for i in $(seq 8); do
    post "$PORT" "$work/sts-9k-values.json" > "$work/mix-$i.json" 2>&1 & jobs+=($!)
    post "$PORT" "$work/sts-2mib.json" > /dev/null 2>&1 & jobs+=($!)
  done
  wait "${jobs[@]}" 2>/dev/null || true
  patched=$(grep -l '"patch"' "$work"/mix-*.json 2>/dev/null | wc -l)
  printf '  8 x 9k values + 8 x %.2f MiB at once: VmHWM %5s MiB, VmRSS after %5s MiB; %s of 8 large-but-allowed reviews patched\n' \
    "$(awk -v b="$(wc -c < "$work/sts-2mib.json")" 'BEGIN { print b / 1048576 }')" "$(rss "$pid" VmHWM)" "$(rss "$pid" VmRSS)" "$patched"
  stop "$pid"
fi

for b in "${CARGO_TARGET_DIR:-target}/$target/release-plugin/kubectl-logbackup" "${CARGO_TARGET_DIR:-target}/release/kubectl-logbackup"; do
  [ -f "$b" ] && echo "plugin binary: $b $(stat -c %s "$b") bytes ($(file -b "$b" | grep -o 'not stripped\|stripped' | head -1); goal <= 15 MB; built $(date -u -r "$b" +%H:%M))"
done
echo "finished $(date -u '+%Y-%m-%d %H:%M UTC'); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
