#!/usr/bin/env bash
# Builds (once) the real Kubernetes components that the real-Kubernetes test tier runs, from Debian's
# `kubernetes` source package, and prints the directory that holds them with etcd:
#   control plane: kube-apiserver, kube-controller-manager, kube-scheduler
#   node:          kubelet (cgo, dynamically linked, as upstream ships it), kube-proxy, and `pause`
#                  (build/pause/linux/pause.c, compiled static: the sandbox image, since no registry
#                  is reachable here)
#
#   KUBE_ASSETS=DIR   use existing binaries (kube-apiserver, kube-controller-manager, etcd) and build nothing,
#                     as envtest's KUBEBUILDER_ASSETS does
#   KUBE_CACHE=DIR    where built binaries are kept between runs (default /var/cache/logbackup/kube)
#
# Nothing built goes into the repository. Progress goes to stderr; the directory alone goes to stdout.
set -euo pipefail

log() { echo "kube-binaries: $*" >&2; }

if [ -n "${KUBE_ASSETS:-}" ]; then
  for b in kube-apiserver kube-controller-manager etcd; do
    [ -x "$KUBE_ASSETS/$b" ] || { log "KUBE_ASSETS=$KUBE_ASSETS has no executable $b"; exit 1; }
  done
  echo "$KUBE_ASSETS"
  exit 0
fi

cache="${KUBE_CACHE:-/var/cache/logbackup/kube}"
# Bumped when the way the binaries are built changes, so an older cache is rebuilt once.
recipe="3: node components (kubelet, kube-scheduler, kube-proxy, pause)"
if [ -x "$cache/kube-apiserver" ] && [ -x "$cache/kube-controller-manager" ] && [ -x "$cache/etcd" ] \
  && [ -x "$cache/kubelet" ] && [ -x "$cache/kube-scheduler" ] && [ -x "$cache/kube-proxy" ] && [ -x "$cache/pause" ] \
  && [ "$(cat "$cache/recipe" 2>/dev/null)" = "$recipe" ]; then
  echo "$cache"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if [ ! -f /etc/apt/sources.list.d/logbackup-src.sources ]; then
  # The same archive as the binary packages, for `apt-get source`.
  cat > /etc/apt/sources.list.d/logbackup-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
log "installing the build tools (golang-go, rsync, etcd-server, reflect2 1.0.2)"
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends golang-go rsync etcd-server dpkg-dev make \
  golang-github-modern-go-reflect2-dev >&2

work="$cache.build"
rm -rf "$work"
mkdir -p "$work/src" "$cache"
log "fetching Debian's kubernetes source package"
(cd "$work/src" && apt-get source -qq --download-only kubernetes >&2 && dpkg-source -x --skip-patches kubernetes_*.dsc kubernetes >&2 \
  || dpkg-source -x kubernetes_*.dsc kubernetes >&2)

gopath="$work/gopath"
mkdir -p "$gopath/src/k8s.io"
mv "$work/src/kubernetes" "$gopath/src/k8s.io/kubernetes"
k8s="$gopath/src/k8s.io/kubernetes"

# The vendored reflect2 1.0.1 crashes under Go 1.18+; Debian ships the fixed 1.0.2.
rm -rf "$k8s/vendor/github.com/modern-go/reflect2"
cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$k8s/vendor/github.com/modern-go/reflect2"

export GOPATH="$gopath" GO111MODULE=off GOFLAGS=-mod=vendor GOCACHE="$work/gocache"
unset GOFLAGS
cd "$k8s"
log "generating OpenAPI definitions (make gen_openapi)"
make gen_openapi >&2
# The version the servers report on /version, as the release build stamps it: clients (kubectl, our
# discovery) read it, and a bare `go build` would say v0.0.0-master.
version=$(dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null | sed -E 's/.*really//; s/-[^-]*$//')
version=${version:-1.20.2}
# Both packages, as hack/lib/version.sh does: `--version` reads component-base, the API server's
# /version reads client-go's.
ldflags=""
for pkg in k8s.io/kubernetes/vendor/k8s.io/component-base/version k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $pkg.gitVersion=v$version -X $pkg.gitMajor=${version%%.*} -X $pkg.gitMinor=$(echo "$version" | cut -d. -f2)"
  ldflags="$ldflags -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
for cmd in kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet; do
  cached_recipe="$(cat "$cache/$cmd.recipe" 2>/dev/null || true)"
  if [ -x "$cache/$cmd" ] && [ "$cached_recipe" = "$recipe" ]; then continue; fi
  # kubelet needs cgo (its cAdvisor and the host's user lookups); the rest link statically.
  cgo=0; [ "$cmd" = kubelet ] && cgo=1
  log "building $cmd v$version (CGO_ENABLED=$cgo; about 3-8 minutes each on 2 cores)"
  CGO_ENABLED=$cgo go build -ldflags "$ldflags" -o "$cache/$cmd.new" "./cmd/$cmd" >&2
  mv "$cache/$cmd.new" "$cache/$cmd"
  echo "$recipe" > "$cache/$cmd.recipe"
done
log "building pause (static)"
gcc -Os -static -DVERSION="v$version" -o "$cache/pause" build/pause/linux/pause.c >&2
strip "$cache/pause" 2>/dev/null || true
ln -sf "$(command -v etcd || echo /usr/bin/etcd)" "$cache/etcd"
echo "$recipe" > "$cache/recipe"
rm -rf "$work"
log "built into $cache"
echo "$cache"
