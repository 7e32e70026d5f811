#!/usr/bin/env bash
# Benchmark: `etcd save` and `etcd verify` on an etcd holding 100,000 keys, side by side with
# etcd's own `etcdctl snapshot save` and `etcdctl snapshot status` (and `etcdctl snapshot restore`,
# the first half of the drill), in the same run against the same etcd.
#
# etcd (Debian's etcd-server) runs on a free loopback port with a data directory in a temporary
# directory; KEYS keys (default 100,000) of VALUE bytes (default 512) are written straight into it
# through its JSON gateway, 1,000 puts per transaction (under etcd's 1.5 MiB request limit), spread over five /registry/<resource>/
# prefixes. Each command runs RUNS times (default 3), alternating ours and etcd's, under
# /usr/bin/time (wall seconds, peak RSS).
#
# Needs etcd, etcdctl, curl, python3 and /usr/bin/time (.ci/run installs them; this is not run in CI).
# PLUGIN=path runs that binary instead of building the release one.
set -euo pipefail

cd "$(dirname "$0")/.."
KEYS=${KEYS:-100000}
VALUE=${VALUE:-512}
RUNS=${RUNS:-3}
WORK=$(mktemp -d)
ETCD_PID=
trap '[ -n "$ETCD_PID" ] && kill "$ETCD_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

for tool in etcd etcdctl curl python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing" >&2; exit 2; }
done
if [ -z "${PLUGIN:-}" ]; then
  cargo build --profile release-plugin -q -p kubectl-logbackup
  PLUGIN=target/release-plugin/kubectl-logbackup
fi

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
CLIENT=$(port); PEER=$(port)
URL="http://127.0.0.1:$CLIENT"
etcd --name bench --data-dir "$WORK/data" --listen-client-urls "$URL" --advertise-client-urls "$URL" \
  --listen-peer-urls "http://127.0.0.1:$PEER" --initial-advertise-peer-urls "http://127.0.0.1:$PEER" \
  --initial-cluster "bench=http://127.0.0.1:$PEER" --max-txn-ops 1000 --quota-backend-bytes 8589934592 \
  --log-level warn >"$WORK/etcd.log" 2>&1 &
ETCD_PID=$!
for _ in $(seq 1 100); do curl -sf -X POST "$URL/v3/maintenance/status" -d '{}' >/dev/null && break; sleep 0.1; done

echo "writing $KEYS keys of $VALUE bytes into etcd $(etcd --version | head -1 | awk '{print $3}') at $URL" >&2
python3 - "$URL" "$KEYS" "$VALUE" <<'PY'
import base64, json, sys, urllib.request
url, keys, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
prefixes = ["pods", "configmaps", "secrets", "events", "leases"]
value = base64.b64encode(b"v" * size).decode()
batch = []
def flush():
    body = json.dumps({"success": [{"request_put": {"key": k, "value": value}} for k in batch]}).encode()
    urllib.request.urlopen(urllib.request.Request(url + "/v3/kv/txn", body)).read()
    batch.clear()
for i in range(keys):
    key = f"/registry/{prefixes[i % 5]}/bench/obj-{i:07d}".encode()
    batch.append(base64.b64encode(key).decode())
    if len(batch) == 1000:
        flush()
if batch:
    flush()
PY

measure() { # LABEL COMMAND...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || { echo "bench: $label failed:" >&2; cat "$WORK/err" >&2; exit 1; }
  read -r wall rss <"$WORK/time"
  awk -v l="$label" -v w="$wall" -v r="$rss" 'BEGIN { printf "%-44s %8.2f s %9.1f MiB\n", l, w, r / 1024 }'
}

export ETCDCTL_API=3
printf '%-44s %10s %13s\n' "command" "wall" "peak RSS"
for run in $(seq 1 "$RUNS"); do
  rm -rf "$WORK/repo" "$WORK/ctl.db" "$WORK/restored"
  measure "etcdctl snapshot save" etcdctl --endpoints "$URL" snapshot save "$WORK/ctl.db"
  measure "kubectl-logbackup etcd save" "$PLUGIN" etcd save --repo "$WORK/repo" --endpoints "$URL" --snapshot-only --node bench -o json
  rm -rf "$WORK/repo-gz"
  measure "kubectl-logbackup etcd save --compress" "$PLUGIN" etcd save --repo "$WORK/repo-gz" --endpoints "$URL" --snapshot-only --node bench --compress -o json
  measure "etcdctl snapshot status" etcdctl snapshot status -w json "$WORK/ctl.db"
  measure "etcdctl snapshot restore (drill's first half)" etcdctl snapshot restore "$WORK/ctl.db" --data-dir "$WORK/restored" \
    --name drill --initial-cluster "drill=http://127.0.0.1:1" --initial-advertise-peer-urls "http://127.0.0.1:1"
  measure "kubectl-logbackup etcd verify (whole drill)" "$PLUGIN" etcd verify --repo "$WORK/repo" --scratch-dir "$WORK" -o json
done
size=$(stat -c %s "$WORK/ctl.db")
gz=$(stat -c %s "$(ls -d "$WORK"/repo-gz/logbackup-etcd/*/)snapshot.db.gz")
echo "snapshot: $size bytes ($gz compressed); record: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["total_keys"], "keys at revision", r["revision"])' "$(ls -d "$WORK"/repo/logbackup-etcd/*/)record.json")"
