#!/usr/bin/env bash
# Builds the krew archives and the filled-in krew manifest.
#   scripts/release.sh [TARGET...]   (default: the host's target only)
# Each archive is kubectl-logbackup_<version>_<os>_<arch>.tar.gz holding the binary and LICENSE, as
# krew-index requires. dist/logbackup.yaml is krew/logbackup.yaml with the sha256 of every archive
# built; platforms not built keep their old sha256 and are listed as not built. Cross targets need
# their Rust target (rustup target add) and linker installed. DIST_DIR changes the output folder;
# RELEASE_BIN packages a binary that is already built (tests use it).
set -euo pipefail
cd "$(dirname "$0")/.."
version="v$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="kubectl-logbackup"))')"
host=$(rustc -vV | sed -n 's/^host: //p')
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=("$host")
dist=${DIST_DIR:-dist}
mkdir -p "$dist"
cp krew/logbackup.yaml "$dist/logbackup.yaml"
for target in "${targets[@]}"; do
  case "$target" in
    x86_64-unknown-linux-*) os=linux; arch=amd64 ;;
    aarch64-unknown-linux-*) os=linux; arch=arm64 ;;
    x86_64-apple-darwin) os=darwin; arch=amd64 ;;
    aarch64-apple-darwin) os=darwin; arch=arm64 ;;
    *) echo "release: no krew platform for target $target" >&2; exit 2 ;;
  esac
  if [ -n "${RELEASE_BIN:-}" ]; then
    bin=$RELEASE_BIN   # tests package an already built binary
  elif [ "$target" = "$host" ]; then
    cargo build --profile release-plugin --locked -p kubectl-logbackup >&2
    bin=target/release-plugin/kubectl-logbackup
  else
    cargo build --profile release-plugin --locked -p kubectl-logbackup --target "$target" >&2
    bin=target/$target/release-plugin/kubectl-logbackup
  fi
  stage=$(mktemp -d)
  cp "$bin" LICENSE "$stage/"
  archive="$dist/kubectl-logbackup_${version}_${os}_${arch}.tar.gz"
  # Fixed owner and mtime, sorted names: the same binary gives the same archive and sha256.
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2000-01-01 00:00Z' -C "$stage" -cf - LICENSE kubectl-logbackup | gzip -n > "$archive"
  rm -rf "$stage"
  sum=$(sha256sum "$archive" | cut -d' ' -f1)
  python3 - "$dist/logbackup.yaml" "$os" "$arch" "$sum" <<'PY'
import re, sys
manifest, os_, arch, digest = sys.argv[1:]
text = open(manifest).read()
pattern = re.compile(r'(os: %s\n\s+arch: %s\n\s+uri: \S+\n\s+sha256: )"?[0-9a-f]{64}"?' % (os_, arch))
text, n = pattern.subn(lambda m: m.group(1) + '"' + digest + '"', text)
if n != 1:
    sys.exit(f"release: no platform {os_}/{arch} in krew/logbackup.yaml")
open(manifest, "w").write(text)
PY
  echo "$archive $sum"
done
