#!/usr/bin/env bash
# Benchmark: what listing costs the server and the client, at 10,000 and 100,000 snapshots, ours
# against Curator 5.8.4 on the same release-built Elasticsearch 7.17 test double, in the same run.
#
# For each command a fresh double is seeded (one snapshot an hour, three daily indices each), the
# command runs under /usr/bin/time -v (wall, user+system CPU, peak RSS), then the double is stopped
# with SIGINT and prints the requests it answered and its modelled metadata reads (one
# `snap-UUID.dat` blob per snapshot a verbose answer or `_cat/snapshots` row carries; see
# tests/es-double/src/listing.rs).
#
# Needs /usr/bin/time and Curator in target/curator-venv (the header of bench/snapshots.sh says how).
# SIZES="10000 100000" by default.
set -euo pipefail

cd "$(dirname "$0")/.."
SIZES=${SIZES:-"10000 100000"}
PORT=${PORT:-19399}
CURATOR=${CURATOR:-target/curator-venv/bin/curator}
KEEP_DAYS=45
REPO=ks-log-snapshots
WORK=$(mktemp -d)
DOUBLE_PID=
trap '[ -n "$DOUBLE_PID" ] && kill "$DOUBLE_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing (apt-get install time)" >&2; exit 2; }
[ -x "$CURATOR" ] || { echo "bench: Curator missing at $CURATOR (see bench/snapshots.sh)" >&2; exit 2; }

[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p kubectl-logbackup -p es-double
PLUGIN=target/release/kubectl-logbackup
URL="http://127.0.0.1:$PORT"

cat >"$WORK/curator.yml" <<YAML
client:
  hosts: ["127.0.0.1"]
  port: $PORT
  timeout: 600
logging:
  loglevel: INFO
YAML
curator_action() { # SOURCE (creation_date|name)
  local extra=""
  [ "$1" = name ] && extra="      timestring: '%Y%m%d%H%M%S'"
  cat <<YAML
actions:
  1:
    action: delete_snapshots
    description: "older than $KEEP_DAYS days by $1"
    options:
      repository: $REPO
    filters:
    - filtertype: age
      source: $1
$extra
      direction: older
      unit: days
      unit_count: $KEEP_DAYS
YAML
}
curator_action creation_date >"$WORK/by-date.yml"
curator_action name >"$WORK/by-name.yml"

RUN=0
start_double() { # SNAPSHOTS
  RUN=$((RUN + 1))
  target/release/es-double --version 7.17.0 --flavour elasticsearch --port "$PORT" \
    --seed-snapshots "$1" --seed-repository "$REPO" >"$WORK/double.$RUN.log" 2>&1 &
  DOUBLE_PID=$!
  for _ in $(seq 1 200); do
    grep -q listening "$WORK/double.$RUN.log" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench: the double did not start" >&2
  cat "$WORK/double.$RUN.log" >&2
  exit 1
}

stop_double() { # sets SERVED to "requests reads"; not in a subshell, so `wait` sees the child
  kill -INT "$DOUBLE_PID"
  wait "$DOUBLE_PID" 2>/dev/null || true
  DOUBLE_PID=
  SERVED=$(awk '/^requests:/ {print $2, $4}' "$WORK/double.$RUN.log")
}

# row SIZE LABEL CMD...: one measured run on a fresh double.
row() {
  local size=$1 label=$2
  shift 2
  start_double "$size"
  /usr/bin/time -v -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || {
    echo "bench: $label failed:" >&2
    tail -5 "$WORK/err" >&2
    exit 1
  }
  local wall cpu rss requests reads
  stop_double
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(j=1;j<=n;j++) s=s*60+p[j]; print s}' "$WORK/time")
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u+s}' "$WORK/time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time")
  read -r requests reads <<<"$SERVED"
  printf '| %s | %s | %s | %s | %.2f s | %.2f s | %.1f MiB |\n' \
    "$size" "$label" "$requests" "$reads" "$wall" "$cpu" "$(echo "$rss/1024" | bc -l)"
}

DAY=$(date -u -d "-3 days" +%Y.%m.%d)
echo "| snapshots | command | requests | modelled metadata reads | wall | CPU (user+sys) | peak RSS |"
echo "|---|---|---|---|---|---|---|"
for n in $SIZES; do
  row "$n" "Curator delete_snapshots, age by creation_date (--dry-run)" \
    "$CURATOR" --dry-run --config "$WORK/curator.yml" "$WORK/by-date.yml"
  row "$n" "prune --keep-days $KEEP_DAYS --dry-run (start time)" \
    "$PLUGIN" prune -r "$REPO" --keep-days "$KEEP_DAYS" --min-count 0 --dry-run -o json --es-url "$URL"
  row "$n" "Curator delete_snapshots, age by name (--dry-run)" \
    "$CURATOR" --dry-run --config "$WORK/curator.yml" "$WORK/by-name.yml"
  row "$n" "prune --keep-days $KEEP_DAYS --age-from name --dry-run" \
    "$PLUGIN" prune -r "$REPO" --keep-days "$KEEP_DAYS" --min-count 0 --age-from name --dry-run -o json --es-url "$URL"
  row "$n" "coverage --days 45" \
    "$PLUGIN" coverage -r "$REPO" --days 45 --color never --es-url "$URL"
  row "$n" "restore --date $DAY --dry-run" \
    "$PLUGIN" restore -r "$REPO" --date "$DAY" --rename-prefix bench- --dry-run --es-url "$URL"
  row "$n" "snapshot list" \
    "$PLUGIN" snapshot list -r "$REPO" --es-url "$URL"
done
