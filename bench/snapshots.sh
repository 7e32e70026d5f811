#!/usr/bin/env bash
# Benchmark: `snapshot list` and `prune --dry-run` over 10,000 snapshots, against Curator's
# delete_snapshots selection with the same policy (older than 45 days, by creation date), all
# against the same release-built Elasticsearch 7.17 test double. Wall time and peak RSS from
# /usr/bin/time -v; the median of RUNS runs.
#
# Needs: /usr/bin/time (apt-get install time), and Curator 5.8.4 in a virtualenv:
#   python3 -m venv target/curator-venv
#   target/curator-venv/bin/pip install 'cython<3' wheel setuptools
#   target/curator-venv/bin/pip install --no-build-isolation 'pyyaml==5.4.1'
#   target/curator-venv/bin/pip install 'elasticsearch-curator==5.8.4' 'elasticsearch>=7.12,<8'
# (Curator 5.8.4 pins PyYAML 5.4.1, whose sdist does not build with Cython 3 on Python 3.11.)
set -euo pipefail

cd "$(dirname "$0")/.."
SNAPSHOTS=${SNAPSHOTS:-10000}
RUNS=${RUNS:-3}
PORT=${PORT:-19299}
CURATOR=${CURATOR:-target/curator-venv/bin/curator}
KEEP_DAYS=45
REPO=ks-log-snapshots
WORK=$(mktemp -d)
trap 'kill "$DOUBLE_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing (apt-get install time)" >&2; exit 2; }
[ -x "$CURATOR" ] || { echo "bench: Curator missing at $CURATOR (see the header of this script)" >&2; exit 2; }

cargo build --release -q -p kubectl-logbackup -p es-double
PLUGIN=target/release/kubectl-logbackup

target/release/es-double --version 7.17.0 --flavour elasticsearch --port "$PORT" \
  --seed-snapshots "$SNAPSHOTS" --seed-repository "$REPO" >"$WORK/double.log" 2>&1 &
DOUBLE_PID=$!
for _ in $(seq 1 100); do
  grep -q listening "$WORK/double.log" 2>/dev/null && break
  sleep 0.1
done
grep -q listening "$WORK/double.log" || { echo "bench: the double did not start" >&2; cat "$WORK/double.log" >&2; exit 1; }
URL="http://127.0.0.1:$PORT"

cat >"$WORK/curator.yml" <<YAML
client:
  hosts: ["127.0.0.1"]
  port: $PORT
  timeout: 600
logging:
  loglevel: INFO
YAML
cat >"$WORK/action.yml" <<YAML
actions:
  1:
    action: delete_snapshots
    description: "older than $KEEP_DAYS days by creation date"
    options:
      repository: $REPO
    filters:
    - filtertype: age
      source: creation_date
      direction: older
      unit: days
      unit_count: $KEEP_DAYS
YAML

# measure NAME OUTFILE CMD...: prints "wall_seconds max_rss_kb" of the median run (by wall time).
measure() {
  local name=$1 out=$2
  shift 2
  for i in $(seq 1 "$RUNS"); do
    /usr/bin/time -v -o "$WORK/$name.$i.time" "$@" >"$out" 2>"$WORK/$name.$i.err"
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(j=1;j<=n;j++) s=s*60+p[j]; print s}' "$WORK/$name.$i.time")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/$name.$i.time")
    echo "$wall $rss"
  done | sort -n | awk -v m=$(((RUNS + 1) / 2)) 'NR==m'
}

read -r LIST_S LIST_KB < <(measure list "$WORK/list.txt" "$PLUGIN" snapshot list -r "$REPO" --es-url "$URL")
read -r PRUNE_S PRUNE_KB < <(measure prune "$WORK/prune.json" "$PLUGIN" prune -r "$REPO" --keep-days "$KEEP_DAYS" --min-count 0 --dry-run -o json --es-url "$URL")
read -r CUR_S CUR_KB < <(measure curator "$WORK/curator.out" "$CURATOR" --dry-run --config "$WORK/curator.yml" "$WORK/action.yml")

LISTED=$(($(wc -l <"$WORK/list.txt") - 1))
OURS=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for x in d["plan"]["decisions"] if x["action"]=="delete"))' "$WORK/prune.json")
# Curator logs to stdout or stderr depending on its logging setup: count the last run's both.
THEIRS=$(cat "$WORK/curator.out" "$WORK/curator.$RUNS.err" | grep -c "DRY-RUN: delete_snapshot:" || true)

echo "snapshots in the repository: $SNAPSHOTS (runs: $RUNS, median shown)"
echo "snapshot list printed $LISTED rows"
echo "selected for deletion (older than $KEEP_DAYS days): ours $OURS, Curator $THEIRS"
printf '%-38s %10s %14s\n' "command" "wall (s)" "peak RSS (MB)"
printf '%-38s %10.2f %14.1f\n' "kubectl-logbackup snapshot list" "$LIST_S" "$(echo "$LIST_KB/1024" | bc -l)"
printf '%-38s %10.2f %14.1f\n' "kubectl-logbackup prune --dry-run" "$PRUNE_S" "$(echo "$PRUNE_KB/1024" | bc -l)"
printf '%-38s %10.2f %14.1f\n' "curator delete_snapshots --dry-run" "$CUR_S" "$(echo "$CUR_KB/1024" | bc -l)"
printf 'Curator / prune: %.1fx the wall time, %.1fx the peak memory\n' \
  "$(echo "$CUR_S/$PRUNE_S" | bc -l)" "$(echo "$CUR_KB/$PRUNE_KB" | bc -l)"
[ "$OURS" = "$THEIRS" ] || { echo "bench: the selections differ" >&2; exit 1; }
