#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine, for the tests that need pods to run:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd + runc + the CNI bridge,
# kubelet and kube-proxy, all v1.20 from scripts/kube-binaries.sh, with images imported locally
# (no registry is reachable). Started once per test run; `down` puts the host back as `up` found it.
#
#   scripts/real-node.sh up [IMAGE.tar ...]   start, import the image archives, wait for a Ready node
#   scripts/real-node.sh import IMAGE.tar ... import more images into the running node
#   scripts/real-node.sh down                 stop everything, restore sysctls, iptables, links, mounts
#   scripts/real-node.sh run [IMAGE.tar ...] -- CMD ...
#                                             up, run CMD with the node's environment, down (always);
#                                             a second `run` on the machine waits for the first
#   scripts/real-node.sh env                  print the environment the tests read (source it)
#   scripts/real-node.sh restart NAME         stop a component (kubelet, containerd, ...) and start it again
#
# The tests read: LOGBACKUP_NODE_KUBECONFIG (cluster-admin), LOGBACKUP_NODE_IP (the node's address:
# pods reach host services there), LOGBACKUP_NODE_DIR (state, logs, the hostPath volumes' root).
#
# Traffic stays on this machine. Before the API server starts, a packet to the Service range that no
# kube-proxy rule DNATed is rejected instead of following the default route, and pods may forward only
# to the pod network (two iptables rules), so nothing a pod sends leaves the machine. DNS: no CoreDNS (not packaged); dnsmasq answers on the node's address
# from a hosts file regenerated from the Services and Endpoints every second, and forwards nothing.
#
# Facts this depends on (checked on these machines): the capability bounding set lacks
# CAP_SYS_RESOURCE, so runc cannot lower oom_score_adj: containerd's restrict_oom_score_adj and
# --oom-score-adj=0 for kubelet and kube-proxy. kubelet 1.20 speaks CRI v1alpha2 (containerd 1.6).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

STATE=${LOGBACKUP_NODE_DIR:-/var/lib/logbackup-node}
RUN=/run/logbackup-node
NODE_NAME=${LOGBACKUP_NODE_NAME:-logbackup-node}
SERVICE_CIDR=10.96.0.0/16
KUBERNETES_SVC_IP=10.96.0.1
POD_CIDR=10.88.0.0/16
BRIDGE=lbk0
API_PORT=6443
PAUSE_IMAGE=localhost/logbackup/pause:3.4
SOCK=$RUN/containerd/containerd.sock
# Host settings kubelet and kube-proxy change, saved by `up` and put back by `down`.
SYSCTLS=(kernel.panic_on_oops kernel.panic vm.overcommit_memory net.ipv4.ip_forward
  net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait)

log() { echo "real-node: $*" >&2; }
die() { log "error: $*"; exit 1; }

node_ip() {
  # The address of the default route's interface: where pods reach the API server and host services.
  ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -1
}

print_env() {
  echo "export LOGBACKUP_NODE_KUBECONFIG=$STATE/admin.kubeconfig"
  echo "export LOGBACKUP_NODE_IP=$(cat "$STATE/node-ip" 2>/dev/null || node_ip)"
  echo "export LOGBACKUP_NODE_DIR=$STATE"
  echo "export LOGBACKUP_NODE_CONTAINERD=$SOCK"
  echo "export LOGBACKUP_NODE_SCRIPT=$repo/scripts/real-node.sh"
}

# --- certificates (openssl; one CA signs everything) ---------------------------------------------
cert() { # name cn org sans(comma list or "") usage(server|client)
  local name=$1 cn=$2 org=$3 sans=$4 usage=$5 pki=$STATE/pki subj="/CN=$2"
  [ -n "$org" ] && subj="/O=$org/CN=$cn"
  openssl genrsa -out "$pki/$name.key" 2048 2>/dev/null
  openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=digitalSignature,keyEncipherment"
    if [ "$usage" = server ]; then echo "extendedKeyUsage=serverAuth,clientAuth"; else echo "extendedKeyUsage=clientAuth"; fi
    [ -n "$sans" ] && echo "subjectAltName=$sans"
  } > "$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
}

kubeconfig() { # file user-cert-name server
  # Written by hand: Debian's kubectl 1.20 panics in `config set-credentials`.
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: node
  cluster:
    server: $3
    certificate-authority: $STATE/pki/ca.crt
users:
- name: $2
  user:
    client-certificate: $STATE/pki/$2.crt
    client-key: $STATE/pki/$2.key
contexts:
- name: node
  context: {cluster: node, user: $2, namespace: default}
current-context: node
EOF
}

start() { # name cmd...: a daemon in its own session, its log in $STATE/logs
  local name=$1; shift
  setsid "$@" >> "$STATE/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$RUN/$name.pid"
  disown  # `down` stops it; the shell need not report that
  printf '%q ' "$@" > "$RUN/$name.cmd"
}

restart() { # name: stop a component and start it again as it was started (the tests' faults)
  local name=$1 pid
  [ -f "$RUN/$name.cmd" ] || die "no component $name is running"
  pid=$(cat "$RUN/$name.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  eval "start $name $(cat "$RUN/$name.cmd")"
  log "restarted $name"
}

wait_for() { # what seconds cmd...
  local what=$1 secs=$2; shift 2
  for _ in $(seq $((secs * 5))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "$what not ready after ${secs}s (logs: $STATE/logs)"
}

kc() { kubectl --kubeconfig "$STATE/admin.kubeconfig" "$@"; }

save_host_state() {
  mkdir -p "$STATE/host"
  : > "$STATE/host/sysctl"
  for s in "${SYSCTLS[@]}"; do
    v=$(sysctl -n "$s" 2>/dev/null) && printf '%s=%s\n' "$s" "$v" >> "$STATE/host/sysctl"
  done
  iptables-save > "$STATE/host/iptables"
  ip6tables-save > "$STATE/host/ip6tables" 2>/dev/null || true
  for d in /var/log/pods /var/log/containers; do [ -e "$d" ] && echo "$d" >> "$STATE/host/existed"; done
  touch "$STATE/host/existed"
}

guard_network() {
  # A Service IP never leaves the machine: a packet still addressed to the Service range after the
  # nat table (no kube-proxy rule DNATed it) is rejected here, in filter OUTPUT and FORWARD, which
  # come after DNAT. Pods may forward to the pod network only (their traffic to the node itself is
  # INPUT, not FORWARD), so nothing a pod sends leaves either.
  iptables -N LOGBACKUP-NODE-GUARD 2>/dev/null || iptables -F LOGBACKUP-NODE-GUARD
  iptables -A LOGBACKUP-NODE-GUARD -d "$SERVICE_CIDR" -j REJECT
  iptables -A LOGBACKUP-NODE-GUARD -s "$POD_CIDR" ! -d "$POD_CIDR" -j DROP
  for chain in OUTPUT FORWARD; do
    iptables -C "$chain" -j LOGBACKUP-NODE-GUARD 2>/dev/null || iptables -I "$chain" 1 -j LOGBACKUP-NODE-GUARD
  done
  sysctl -qw net.ipv4.ip_forward=1
  # Pod-to-Service traffic between two pods on the bridge must cross iptables to be un-DNATed.
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
}

write_configs() {
  local ip=$1
  mkdir -p "$STATE/cni/net.d" "$STATE/containerd" "$STATE/kubelet" "$STATE/volumes"
  cat > "$STATE/cni/net.d/10-logbackup.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "logbackup",
 "plugins": [
  {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": "$STATE/cni/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF
  cat > "$STATE/containerd/config.toml" <<EOF
version = 2
root = "$STATE/containerd/root"
state = "$RUN/containerd/state"
[grpc]
  address = "$SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
EOF
  # Pods with dnsPolicy Default get no nameserver of the host's: nothing resolves outside.
  : > "$STATE/kubelet/resolv.conf"
  cat > "$STATE/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $ip
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $STATE/pki/ca.crt}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
clusterDNS: [$ip]
clusterDomain: cluster.local
resolvConf: $STATE/kubelet/resolv.conf
failSwapOn: false
# Small test disks and a busy machine must not evict the pods under test.
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
containerLogMaxSize: 10Mi
containerLogMaxFiles: 3
serializeImagePulls: false
EOF
}

import_images() {
  for archive in "$@"; do
    [ -f "$archive" ] || die "no image archive $archive"
    log "importing $(basename "$archive")"
    ctr --address "$SOCK" -n k8s.io images import --no-unpack=false "$archive" >&2 \
      || ctr --address "$SOCK" -n k8s.io images import "$archive" >&2
  done
}

build_pause_image() {
  # The sandbox image, from the same source as kubelet; no registry to pull it from.
  local bin=$1 work
  work=$(mktemp -d)
  install -D -m 0755 "$bin/pause" "$work/root/pause"
  printf 'FROM scratch\nCOPY root/ /\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' > "$work/Containerfile"
  buildah --storage-driver vfs bud --isolation chroot --quiet -f "$work/Containerfile" -t "$PAUSE_IMAGE" "$work" >/dev/null
  buildah --storage-driver vfs push --quiet "$PAUSE_IMAGE" "docker-archive:$STATE/images/pause.tar:$PAUSE_IMAGE" >/dev/null
  rm -rf "$work"
}

dns_feeder() {
  # The Services (ClusterIP), headless Services' pods (hostname.subdomain) and the API server, as a
  # hosts file for dnsmasq; dnsmasq re-reads it on SIGHUP.
  local hosts=$STATE/dns/hosts
  while [ -f "$RUN/up" ]; do
    if kc get services,endpoints -A -o json 2>/dev/null | python3 "$repo/scripts/real-node-dns.py" > "$hosts.new"; then
      if ! cmp -s "$hosts.new" "$hosts"; then
        mv "$hosts.new" "$hosts"
        kill -HUP "$(cat "$RUN/dnsmasq.pid")" 2>/dev/null || true
      fi
    fi
    sleep 1
  done
}

up() {
  [ "$(id -u)" = 0 ] || die "needs root (containerd, kubelet, iptables)"
  [ -f "$RUN/up" ] && die "already up (scripts/real-node.sh down first)"
  local bin ip
  bin=$(bash scripts/kube-binaries.sh)
  for b in kubelet kube-proxy kube-scheduler pause; do
    [ -x "$bin/$b" ] || die "$bin has no $b: run scripts/kube-binaries.sh"
  done
  for t in containerd runc ctr buildah dnsmasq iptables conntrack openssl; do
    command -v "$t" >/dev/null || die "$t is missing: apt-get install containerd runc containernetworking-plugins buildah dnsmasq-base iptables conntrack openssl"
  done
  [ -x /usr/lib/cni/bridge ] || die "/usr/lib/cni/bridge is missing: apt-get install containernetworking-plugins"
  ip=$(node_ip)
  [ -n "$ip" ] || die "no non-loopback address with a route: the API server must advertise one"
  local t0=$SECONDS
  rm -rf "$STATE"
  mkdir -p "$STATE"/{logs,pki,images,dns} "$RUN"
  echo "$ip" > "$STATE/node-ip"
  save_host_state
  touch "$RUN/up"
  guard_network

  log "certificates"
  local pki=$STATE/pki
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" -days 2 \
    -subj "/CN=logbackup-node-ca" 2>/dev/null
  cert apiserver kube-apiserver "" "IP:$ip,IP:127.0.0.1,IP:$KUBERNETES_SVC_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost" server
  cert admin logbackup-node-admin system:masters "" client
  cert node "system:node:$NODE_NAME" system:nodes "" client
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  local server=https://$ip:$API_PORT
  kubeconfig "$STATE/admin.kubeconfig" admin "$server"
  kubeconfig "$STATE/node.kubeconfig" node "$server"
  write_configs "$ip"

  log "etcd, kube-apiserver ($server)"
  start etcd "$bin/etcd" --name=node --data-dir="$STATE/etcd" \
    --listen-client-urls=http://127.0.0.1:12379 --advertise-client-urls=http://127.0.0.1:12379 \
    --listen-peer-urls=http://127.0.0.1:12380 --initial-advertise-peer-urls=http://127.0.0.1:12380 \
    --initial-cluster=node=http://127.0.0.1:12380 --log-level=warn
  start kube-apiserver "$bin/kube-apiserver" --etcd-servers=http://127.0.0.1:12379 \
    --bind-address="$ip" --advertise-address="$ip" --secure-port=$API_PORT \
    --cert-dir="$STATE/apiserver-certs" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --kubelet-client-certificate="$pki/admin.crt" --kubelet-client-key="$pki/admin.key" \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc \
    --kubelet-preferred-address-types=InternalIP \
    --service-cluster-ip-range=$SERVICE_CIDR --authorization-mode=Node,RBAC --allow-privileged=true --v=0
  wait_for kube-apiserver 120 kc get --raw /readyz

  log "controller-manager, scheduler"
  start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig="$STATE/admin.kubeconfig" \
    --port=0 --secure-port=0 --leader-elect=false \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --use-service-account-credentials=true --controllers='*,-nodeipam' --v=0
  start kube-scheduler "$bin/kube-scheduler" --kubeconfig="$STATE/admin.kubeconfig" \
    --port=0 --secure-port=0 --leader-elect=false --v=0

  log "containerd, pause image"
  mkdir -p "$RUN/containerd"
  start containerd containerd --config "$STATE/containerd/config.toml"
  wait_for containerd 30 ctr --address "$SOCK" version
  build_pause_image "$bin"
  import_images "$STATE/images/pause.tar" "$@"

  log "dnsmasq on $ip:53 (no upstream), kube-proxy, kubelet"
  touch "$STATE/dns/hosts"
  # --local: every name is ours to answer (NXDOMAIN, not REFUSED, for what the hosts file lacks),
  # so resolvers walking the search domains go on to the next one.
  start dnsmasq dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --bind-interfaces --local=/#/ \
    --listen-address="$ip" --port=53 --addn-hosts="$STATE/dns/hosts" --pid-file= --user=root --log-facility=-
  dns_feeder > "$STATE/logs/dns-feeder.log" 2>&1 &
  echo $! > "$RUN/dns-feeder.pid"
  disown
  start kube-proxy "$bin/kube-proxy" --kubeconfig="$STATE/admin.kubeconfig" --proxy-mode=iptables \
    --hostname-override="$NODE_NAME" --cluster-cidr=$POD_CIDR --masquerade-all \
    --conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 \
    --oom-score-adj=0 --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256 --v=0
  start kubelet "$bin/kubelet" --config="$STATE/kubelet/config.yaml" --kubeconfig="$STATE/node.kubeconfig" \
    --container-runtime=remote --container-runtime-endpoint="unix://$SOCK" \
    --root-dir="$STATE/kubelet/root" --cert-dir="$STATE/kubelet/pki" \
    --hostname-override="$NODE_NAME" --node-ip="$ip" --pod-infra-container-image="$PAUSE_IMAGE" \
    --oom-score-adj=0 --v=1
  wait_for "node $NODE_NAME Ready" 180 sh -c "kubectl --kubeconfig '$STATE/admin.kubeconfig' get node '$NODE_NAME' -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
  wait_for "the default ServiceAccount" 60 kc get serviceaccount default
  log "ready in $((SECONDS - t0))s: node $NODE_NAME at $ip"
}

down() {
  [ -d "$STATE" ] || [ -f "$RUN/up" ] || { log "not up"; return 0; }
  rm -f "$RUN/up"
  log "stopping"
  for p in dns-feeder kubelet kube-proxy; do
    [ -f "$RUN/$p.pid" ] && kill "$(cat "$RUN/$p.pid")" 2>/dev/null || true
  done
  # Every container, then containerd and its shims.
  if [ -S "$SOCK" ]; then
    for t in $(ctr --address "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$SOCK" -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true
    done
    sleep 1
    for t in $(ctr --address "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$SOCK" -n k8s.io tasks delete -f "$t" >/dev/null 2>&1 || true
    done
  fi
  for p in containerd dnsmasq kube-scheduler kube-controller-manager kube-apiserver etcd; do
    [ -f "$RUN/$p.pid" ] && kill "$(cat "$RUN/$p.pid")" 2>/dev/null || true
  done
  pkill -f "containerd-shim-runc-v2 -namespace k8s.io .*-address $SOCK" 2>/dev/null || true
  sleep 1
  for p in kubelet kube-proxy containerd dnsmasq kube-scheduler kube-controller-manager kube-apiserver etcd; do
    [ -f "$RUN/$p.pid" ] && kill -9 "$(cat "$RUN/$p.pid")" 2>/dev/null || true
  done
  # Mounts under our roots (pod volumes, sandboxes' /dev/shm, snapshots), deepest first.
  grep -E " ($STATE|$RUN)/" /proc/self/mounts | awk '{print $2}' | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  for ns in $(ip netns list 2>/dev/null | awk '/^cni-/{print $1}'); do ip netns delete "$ns" 2>/dev/null || true; done
  ip link delete "$BRIDGE" 2>/dev/null || true
  # The cgroups kubelet made (kubepods, and its pods' under it), deepest first.
  for h in /sys/fs/cgroup/*/; do
    [ -d "$h/kubepods" ] && find "$h/kubepods" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  if [ -f "$STATE/host/iptables" ]; then
    # iptables-restore rewrites only the tables the saved file names, and a host with no rules
    # saves none: empty every table first, then restore what was there.
    for cmd in iptables ip6tables; do
      for table in filter nat mangle raw; do
        "$cmd" -t "$table" -F 2>/dev/null || true
        "$cmd" -t "$table" -X 2>/dev/null || true
      done
    done
    iptables-restore < "$STATE/host/iptables" || log "could not restore iptables"
    if [ -s "$STATE/host/ip6tables" ]; then ip6tables-restore < "$STATE/host/ip6tables" || log "could not restore ip6tables"; fi
  fi
  if [ -f "$STATE/host/sysctl" ]; then
    while IFS= read -r kv; do sysctl -qw "$kv" 2>/dev/null || log "could not restore $kv"; done < "$STATE/host/sysctl"
  fi
  for d in /var/log/pods /var/log/containers; do
    grep -qx "$d" "$STATE/host/existed" 2>/dev/null || rm -rf "$d"
  done
  rm -rf "$RUN" "$STATE"
  log "down: host restored"
}

host_fingerprint() (
  # What `down` must put back: rules (without counters), the sysctls, links, routes, network
  # namespaces, mounts and cgroups of ours. (A subshell: an empty rule set is not a failure.)
  set +e +o pipefail
  iptables-save | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
  ip6tables-save 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
  for s in "${SYSCTLS[@]}"; do printf '%s=%s\n' "$s" "$(sysctl -n "$s" 2>/dev/null)"; done
  ip -o link | awk '{print $2}'
  ip route
  ip netns list 2>/dev/null
  grep -E " ($STATE|$RUN)" /proc/self/mounts || true
  ls -d /sys/fs/cgroup/*/kubepods 2>/dev/null || true
  ls -d /var/log/pods /var/log/containers 2>/dev/null || true
)

finish() { # the EXIT trap of `run`: down, then prove the host is as it was
  local rc=$? before=$1
  down
  if ! host_fingerprint | diff -u "$before" - >&2; then
    log "error: the host is not as it was before up (the diff above)"
    rc=1
  fi
  rm -f "$before"
  exit "$rc"
}

cmd=${1:-}
shift || true
case "$cmd" in
  up) up "$@" ;;
  down) down ;;
  env) print_env ;;
  import) import_images "$@" ;;
  restart) restart "$@" ;;
  run)
    # One node per machine (fixed ports and state directories): a second `run` waits for the first.
    exec 9>/run/logbackup-node.lock
    if ! flock -n 9; then
      log "another real node is running; waiting for it to finish"
      flock 9
    fi
    images=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do images+=("$1"); shift; done
    [ "${1:-}" = -- ] || die "usage: scripts/real-node.sh run [IMAGE.tar ...] -- CMD ..."
    shift
    before=$(mktemp)
    host_fingerprint > "$before"
    trap 'finish "$before"' EXIT
    up "${images[@]}"
    eval "$(print_env)"
    "$@"
    ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
