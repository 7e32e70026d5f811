#!/usr/bin/env bash
# The latency admission adds, as a user sees it: `kubectl apply` of N labelled StatefulSets through
# the real API server, with our webhook called through its Service (its pods on the real node), and
# without it (the same objects, not labelled, so the API server calls no webhook), alternating one
# with and one without so the machine's noise falls on both alike. Prints p50/p99 of each and the
# difference. Compare: Kyverno publishes 35-43 ms of added admission latency.
#   scripts/real-node.sh run $(scripts/build-test-images.sh target/node-images) -- bench/admission.sh
# env: N=200, PLUGIN=path to kubectl-logbackup (default target/debug/kubectl-logbackup)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200}
PLUGIN=${PLUGIN:-target/debug/kubectl-logbackup}
: "${LOGBACKUP_NODE_KUBECONFIG:?run under scripts/real-node.sh run ... -- bench/admission.sh}"
export KUBECONFIG=$LOGBACKUP_NODE_KUBECONFIG
ns=logbackup-bench
work=$(mktemp -d)
trap 'rm -rf "$work"; kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true' EXIT

"$PLUGIN" webhook install >/dev/null
for _ in $(seq 120); do "$PLUGIN" webhook status >/dev/null 2>&1 && break; sleep 2; done
"$PLUGIN" webhook status >/dev/null
kubectl create namespace "$ns" >/dev/null

sts() { # name labelled(yes|no)
  local label=""
  [ "$2" = yes ] && label='    logbackup.io/inject: enabled'
  cat <<YAML
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: $1
  namespace: $ns
  labels:
    app: bench
$label
spec:
  serviceName: $1
  replicas: 0
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      containers:
      - name: elasticsearch
        image: localhost/logbackup-test/elasticsearch:7.17.0
YAML
}

ms() { date +%s%N; }
: > "$work/with"; : > "$work/without"
for i in $(seq "$N"); do
  sts "with-$i" yes > "$work/a.yaml"
  sts "without-$i" no > "$work/b.yaml"
  t0=$(ms); kubectl apply -f "$work/a.yaml" >/dev/null; t1=$(ms)
  kubectl apply -f "$work/b.yaml" >/dev/null; t2=$(ms)
  echo $(( (t1 - t0) / 1000 )) >> "$work/with"
  echo $(( (t2 - t1) / 1000 )) >> "$work/without"
done
# Every labelled one was injected: the webhook answered, none were let through unchanged.
injected=$(kubectl get sts -n "$ns" -l logbackup.io/inject=enabled -o json \
  | python3 -c 'import json,sys; print(sum(1 for s in json.load(sys.stdin)["items"] if "logbackup.io/injected" in s["spec"]["template"]["metadata"].get("annotations",{})))')
python3 - "$work/with" "$work/without" "$N" "$injected" <<'PY'
import sys
def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]
w = [int(x) / 1000 for x in open(sys.argv[1])]
wo = [int(x) / 1000 for x in open(sys.argv[2])]
print(f"kubectl apply of {sys.argv[3]} StatefulSets each, alternating ({sys.argv[4]} of the labelled ones injected)")
print(f"  with the webhook:    p50 {pct(w,50):7.1f} ms  p99 {pct(w,99):7.1f} ms")
print(f"  without (unlabelled): p50 {pct(wo,50):7.1f} ms  p99 {pct(wo,99):7.1f} ms")
print(f"  added by admission:  p50 {pct(w,50)-pct(wo,50):+7.1f} ms  p99 {pct(w,99)-pct(wo,99):+7.1f} ms  (Kyverno publishes 35-43 ms)")
PY
