#!/usr/bin/env bash
# Builds the image manifests/ runs (the webhook Deployment and the backup CronJob) and smoke-runs it.
#   scripts/build-image.sh [IMAGE]     (default IMAGE: ghcr.io/logbackup/kubectl-logbackup:v<version>)
# No Docker engine and no registry pulls: the binaries are static glibc (-C target-feature=+crt-static,
# static-pie), the image is FROM scratch, and buildah builds it daemonless (vfs storage, chroot
# isolation). Name resolution needs no NSS module: glibc 2.34+ has `files` and `dns` built in, and
# the smoke run proves the plugin resolves a name from the image's /etc/hosts and reaches it.
# env: CARGO_TARGET_DIR (where the static build goes; default target/), KEEP_WORK=1 keeps the work dir.
set -euo pipefail
cd "$(dirname "$0")/.."

version="v$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
image=${1:-ghcr.io/logbackup/kubectl-logbackup:$version}
target=x86_64-unknown-linux-gnu
target_dir=${CARGO_TARGET_DIR:-target}
buildah=(buildah --storage-driver vfs)

say() { printf '== %s\n' "$*" >&2; }

say "static build ($target, crt-static) into $target_dir"
# --target keeps RUSTFLAGS off build scripts and proc macros, which cannot be static. The plugin is
# built as it ships (profile release-plugin: panic = "abort", Cargo.toml says why), the webhook with
# release-webhook (opt-level 3, unwind: a panic in one review costs that request, not the replica).
RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR=$target_dir \
  cargo build --profile release-plugin --locked --target "$target" -p kubectl-logbackup >&2
RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR=$target_dir \
  cargo build --profile release-webhook --locked --target "$target" -p logbackup-webhook >&2
bin=$target_dir/$target/release-webhook
plugin=$target_dir/$target/release-plugin/kubectl-logbackup

work=$(mktemp -d)
ctr=
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  [ -n "$ctr" ] && "${buildah[@]}" rm "$ctr" >/dev/null 2>&1 || true
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
  rm -rf image-root
}
trap cleanup EXIT

say "root filesystem"
rm -rf image-root
install -D -m 0755 "$bin/logbackup-webhook" image-root/usr/local/bin/logbackup-webhook
install -D -m 0755 "$plugin" image-root/usr/local/bin/kubectl-logbackup
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt image-root/etc/ssl/certs/ca-certificates.crt
install -D -m 0644 LICENSE image-root/usr/share/doc/kubectl-logbackup/LICENSE
mkdir -p image-root/tmp && chmod 1777 image-root/tmp
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > image-root/etc/passwd
printf 'root:x:0:\nnonroot:x:65532:\n' > image-root/etc/group
# Kubernetes mounts its own /etc/hosts and /etc/resolv.conf over these.
printf '127.0.0.1 localhost\n::1 localhost\n' > image-root/etc/hosts
printf 'hosts: files dns\n' > image-root/etc/nsswitch.conf
for b in image-root/usr/local/bin/*; do
  file "$b" | grep -q 'static-pie linked\|statically linked' || { echo "build-image: $b is not static" >&2; exit 1; }
done

say "buildah bud -> $image"
"${buildah[@]}" bud --isolation chroot --quiet -f Dockerfile -t "$image" . >&2
size=$("${buildah[@]}" inspect --type image --format '{{.FromImage}}' "$image" >/dev/null 2>&1; "${buildah[@]}" images --format '{{.Size}}' "$image" | head -1)
echo "image: $image"
echo "image size: $size (logbackup-webhook $(stat -c %s "$bin/logbackup-webhook") bytes, kubectl-logbackup $(stat -c %s "$plugin") bytes)"

say "smoke: the plugin"
ctr=$("${buildah[@]}" from --quiet "$image")
run() { "${buildah[@]}" run --isolation chroot --user 65532:65532 "$ctr" -- "$@"; }
run /usr/local/bin/kubectl-logbackup --version
# A host name only the image's /etc/hosts knows, served on 127.0.0.1 (chroot isolation shares the
# host's network): the plugin must resolve it with no NSS modules in the image, and reach it.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/es"
printf '{"name":"smoke","cluster_name":"smoke","version":{"number":"7.17.25","build_flavor":"default"},"tagline":"You Know, for Search"}' > "$work/es/index.html"
(cd "$work/es" && exec python3 -m http.server "$port" --bind 127.0.0.1) 2> "$work/es.log" &
server=$!
printf '127.0.0.1 localhost\n127.0.0.1 es.logbackup.test\n' > "$work/hosts"
"${buildah[@]}" copy --quiet "$ctr" "$work/hosts" /etc/hosts >/dev/null
for _ in $(seq 50); do grep -q . <(python3 -c "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:$port/').status)" 2>/dev/null) && break; sleep 0.1; done
run /usr/local/bin/kubectl-logbackup snapshot list --es-url "http://es.logbackup.test:$port" > "$work/plugin.out" 2>&1 || true
if ! grep -q '"GET / HTTP/1.1" 200' "$work/es.log"; then
  echo "build-image: the plugin in the image did not reach es.logbackup.test:" >&2
  cat "$work/plugin.out" >&2
  exit 1
fi
echo "smoke: kubectl-logbackup resolved es.logbackup.test from the image's /etc/hosts and reached it"

say "smoke: the webhook"
RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR=$target_dir \
  cargo build --profile release-webhook --locked -q --target "$target" -p logbackup-webhook --example loadgen >&2
"$bin/examples/loadgen" certs "$work" >&2
"$bin/examples/loadgen" body tests/fixtures/inject/webhook-smoke.yaml > "$work/review.json"
"${buildah[@]}" copy --quiet --chown 65532:65532 "$ctr" "$work/tls.crt" "$work/tls.key" /tmp/ >/dev/null
admission=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ops=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# In a process group of its own, so stopping it stops buildah's chroot helper and the webhook too.
setsid "${buildah[@]}" run --isolation chroot --user 65532:65532 "$ctr" -- /usr/local/bin/logbackup-webhook \
  --listen "127.0.0.1:$admission" --ops-listen "127.0.0.1:$ops" \
  --tls-cert-file /tmp/tls.crt --tls-key-file /tmp/tls.key --shutdown-delay 0s --log-level warn &
webhook=$!
stop_webhook() { kill -- "-$webhook" 2>/dev/null || true; wait "$webhook" 2>/dev/null || true; }
ready=
for _ in $(seq 100); do
  if curl -fsS "http://127.0.0.1:$ops/readyz" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.1
done
[ -n "$ready" ] || { echo "build-image: the webhook in the image never became ready" >&2; stop_webhook; exit 1; }
answer=$(curl -fsS --cacert "$work/ca.crt" --resolve "localhost:$admission:127.0.0.1" \
  -H 'content-type: application/json' --data-binary @"$work/review.json" "https://localhost:$admission/mutate")
stop_webhook
echo "$answer" | python3 -c '
import json, sys
r = json.load(sys.stdin)["response"]
assert r["allowed"] is True and r.get("patchType") == "JSONPatch", r
print("smoke: logbackup-webhook served /readyz and patched one review")'
