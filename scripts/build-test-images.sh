#!/usr/bin/env bash
# Builds the images the real node runs and writes each as a docker-archive, ready for
# `scripts/real-node.sh up ARCHIVE...` (no registry here: images are imported, never pulled).
#   scripts/build-test-images.sh OUT_DIR
# Writes, and prints one path a line:
#   OUT_DIR/product.tar     the product image (scripts/build-image.sh), as the manifests name it
#   OUT_DIR/es-double.tar   localhost/logbackup-test/elasticsearch:7.17.0: the Elasticsearch double,
#                           static, FROM scratch, uid 1000, with busybox for the chown init container
#                           (the injection runs that container from the Elasticsearch image, as it
#                           would in a user's cluster) and the es-api definitions it answers from
#   OUT_DIR/busybox.tar     localhost/logbackup-test/busybox:1.35: the tests' own small workloads
# env: CARGO_TARGET_DIR (default target/), ES_API_ROOT (default ../shared/es-api).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/build-test-images.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
target=x86_64-unknown-linux-gnu
target_dir=${CARGO_TARGET_DIR:-target}
api_root=${ES_API_ROOT:-../shared/es-api}
buildah=(buildah --storage-driver vfs)
say() { printf '== %s\n' "$*" >&2; }
command -v busybox >/dev/null && file -L "$(command -v busybox)" | grep -q 'statically linked' \
  || { apt-get install -y -qq busybox-static >&2; }
busybox=$(command -v busybox)

version="v$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
product=ghcr.io/logbackup/kubectl-logbackup:$version
if ! "${buildah[@]}" inspect --type image "$product" >/dev/null 2>&1 || [ -n "${REBUILD:-}" ]; then
  bash scripts/build-image.sh "$product" >&2
fi
rm -f "$out/product.tar"
"${buildah[@]}" push --quiet "$product" "docker-archive:$out/product.tar:$product" >/dev/null

busybox_root() { # dir: busybox and the applets the chown script and the tests' pods use
  install -D -m 0755 "$busybox" "$1/bin/busybox"
  for a in sh chown chmod stat id ls cat echo sleep mkdir rm mv seq test printf date tail head wc kill touch; do
    ln -sf busybox "$1/bin/$a"
  done
  mkdir -p "$1/tmp" "$1/etc" && chmod 1777 "$1/tmp"
}

say "es-double (static)"
RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR=$target_dir \
  cargo build --release --locked --target "$target" -p es-double >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/es/root
busybox_root "$root"
install -D -m 0755 "$target_dir/$target/release/es-double" "$root/usr/local/bin/es-double"
mkdir -p "$root/usr/share/es-double" "$root/usr/share/elasticsearch/data"
cp -r "$api_root" "$root/usr/share/es-double/es-api"
printf 'root:x:0:0:root:/root:/bin/sh\nelasticsearch:x:1000:1000::/usr/share/elasticsearch:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\nelasticsearch:x:1000:\n' > "$root/etc/group"
chown -R 1000:1000 "$root/usr/share/elasticsearch"
cat > "$work/es/Containerfile" <<'CF'
FROM scratch
COPY root/ /
USER 1000:1000
WORKDIR /usr/share/elasticsearch
EXPOSE 9200
ENTRYPOINT ["/usr/local/bin/es-double", "--pod", "--api-root", "/usr/share/es-double/es-api"]
CF
es=localhost/logbackup-test/elasticsearch:7.17.0
"${buildah[@]}" bud --isolation chroot --quiet -f "$work/es/Containerfile" -t "$es" "$work/es" >/dev/null
rm -f "$out/es-double.tar"
"${buildah[@]}" push --quiet "$es" "docker-archive:$out/es-double.tar:$es" >/dev/null

say "busybox"
busybox_root "$work/bb/root"
printf 'FROM scratch\nCOPY root/ /\nENTRYPOINT ["/bin/sh"]\n' > "$work/bb/Containerfile"
bb=localhost/logbackup-test/busybox:1.35
"${buildah[@]}" bud --isolation chroot --quiet -f "$work/bb/Containerfile" -t "$bb" "$work/bb" >/dev/null
rm -f "$out/busybox.tar"
"${buildah[@]}" push --quiet "$bb" "docker-archive:$out/busybox.tar:$bb" >/dev/null

printf '%s\n' "$out/product.tar" "$out/es-double.tar" "$out/busybox.tar"
