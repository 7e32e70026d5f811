#!/usr/bin/env bash
# The log-file collector against a crontab's `rsync -a` every minute, in the same run: MIB of
# numbered log lines appended across FILES files (10 pods on one node, laid out as the injection
# and the kubelet lay them out), each file rotated at 10 MiB as logback would. Reports, for each:
# CPU seconds per GiB, peak memory, lag; and checks that the archive holds every line once.
#
# The collector's CPU is split: copying (while the pods run) and the final pass (the pods are
# deleted: their remaining files are copied and every copy is compressed with gzip). rsync
# neither compresses nor copies a rotated file's new name without copying it again.
#
# Usage: bash bench/files.sh [MIB] [FILES] [SECONDS]   (defaults: 1024 MiB, 50 files, 150 s)
# Needs: a release build (cargo build --release), rsync, python3, GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
MIB="${1:-1024}"
FILES="${2:-50}"
SECONDS_TO_WRITE="${3:-150}"
BIN="${LOGBACKUP_BIN:-target/release/kubectl-logbackup}"
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
WORK="$(mktemp -d)"
COLLECTOR=""
trap '[ -n "$COLLECTOR" ] && kill "$COLLECTOR" 2>/dev/null; rm -rf "$WORK"' EXIT
NODE="$WORK/node"
ARCHIVE="$WORK/archive"
mkdir -p "$NODE/files" "$NODE/kubelet/pods" "$ARCHIVE" "$WORK/rsync"
PODS=10
for p in $(seq 0 $((PODS - 1))); do
  uid="0000000$p-bench-4b5b-aed1-758139fc019c"
  mkdir -p "$NODE/kubelet/pods/$uid" "$NODE/files/bench/app/app-$p""_$uid/app/opt_logs"
done

# The collector, under GNU time for its peak RSS; its CPU read from /proc at phase ends.
/usr/bin/time -f "%U %S %M" -o "$WORK/collector.time" "$BIN" files collect --node bench-node \
  --archive "$ARCHIVE" --root "$NODE/files" --kubelet-root "$NODE/kubelet" --interval 1s \
  2>"$WORK/collector.log" &
TIMEPID=$!
sleep 0.5
COLLECTOR="$(pgrep -P "$TIMEPID")"
cpu_of() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }

# The application: numbered lines, round-robin over the files, paced to last SECONDS_TO_WRITE.
python3 - "$NODE/files/bench/app" "$MIB" "$FILES" "$SECONDS_TO_WRITE" >"$WORK/written" <<'PY' &
import os, sys, time
root, mib, nfiles, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
dirs = sorted(os.path.join(root, d, "app/opt_logs") for d in os.listdir(root))
paths = [os.path.join(dirs[i % len(dirs)], f"app{i // len(dirs)}.log") for i in range(nfiles)]
outs = [open(p, "a") for p in paths]
sizes = [0] * nfiles
rotations = [0] * nfiles
pad = "x" * 120
total, n, chunk = mib << 20, 0, 64 << 10
start, done = time.time(), 0
while done < total:
    i = (n // 400) % nfiles
    lines = "".join(f"{n + k} {pad}\n" for k in range(400))
    n += 400
    outs[i].write(lines)
    outs[i].flush()
    done += len(lines)
    sizes[i] += len(lines)
    if sizes[i] >= 10 << 20:
        outs[i].close()
        rotations[i] += 1
        os.rename(paths[i], f"{paths[i]}.{rotations[i]}")
        outs[i] = open(paths[i], "a")
        sizes[i] = 0
    ahead = done / total * seconds - (time.time() - start)
    if ahead > 0:
        time.sleep(ahead)
for o in outs:
    o.close()
print(n, done, sum(rotations))
PY
WRITER=$!

# rsync -a every minute, as a hand-made crontab does, while the application writes.
RSYNC_CPU=0; RSYNC_MAX_KB=0; RSYNC_RUNS=0
rsync_once() {
  /usr/bin/time -f "%U %S %M" -o "$WORK/rsync.time" rsync -a "$NODE/files/" "$WORK/rsync/"
  read -r u s kb <"$WORK/rsync.time"
  RSYNC_CPU=$(echo "$RSYNC_CPU + $u + $s" | bc)
  [ "$kb" -gt "$RSYNC_MAX_KB" ] && RSYNC_MAX_KB=$kb
  RSYNC_RUNS=$((RSYNC_RUNS + 1))
}
MAX_LAG=0
NEXT_RSYNC=$((SECONDS + 60))
while kill -0 "$WRITER" 2>/dev/null; do
  sleep 1
  lag=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['lag_ms'])" "$ARCHIVE/.collectors/bench-node/report.json" 2>/dev/null || echo 0)
  [ "$lag" -gt "$MAX_LAG" ] && MAX_LAG=$lag
  if [ "$SECONDS" -ge "$NEXT_RSYNC" ]; then rsync_once; NEXT_RSYNC=$((SECONDS + 60)); fi
done
wait "$WRITER"
WROTE_AT=$(date +%s.%N)
read -r LINES BYTES ROTATIONS <"$WORK/written"
# Caught up: the first pass after the last write that copied nothing.
while true; do
  r=$(python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print(d['bytes_copied'], d['finished_at'])" "$ARCHIVE/.collectors/bench-node/report.json")
  set -- $r
  finished=$(date -d "$2" +%s.%N)
  if [ "$1" = 0 ] && [ "$(echo "$finished > $WROTE_AT + 1" | bc)" = 1 ]; then break; fi
  sleep 0.2
done
CAUGHT_UP=$(echo "$(date +%s.%N) - $WROTE_AT" | bc)
COPY_CPU=$(cpu_of "$COLLECTOR")
rsync_once   # the crontab's next run, catching up
# The pods are deleted: the final pass copies what is left and compresses every copy.
FINAL_START=$(date +%s.%N)
rm -rf "$NODE/kubelet/pods/"*
while [ -n "$(ls "$NODE/files/bench/app")" ]; do sleep 0.2; done
FINAL_S=$(echo "$(date +%s.%N) - $FINAL_START" | bc)
TOTAL_CPU=$(cpu_of "$COLLECTOR")
kill -TERM "$COLLECTOR"; wait "$TIMEPID" || true; COLLECTOR=""
read -r _ _ PEAK_KB <"$WORK/collector.time"

ARCHIVED_LINES=$("$BIN" files get --archive "$ARCHIVE" | wc -l)
UNIQUE_LINES=$("$BIN" files get --archive "$ARCHIVE" | cut -d' ' -f1 | sort -u | wc -l)
RSYNC_LINES=$(cat "$WORK"/rsync/bench/app/*/app/opt_logs/* | wc -l)
GIB=$(echo "scale=4; $BYTES / 1073741824" | bc)
ARCHIVE_MB=$(du -sm "$ARCHIVE" | cut -f1)
echo "written: $LINES lines, $BYTES bytes ($GIB GiB) in $FILES files over ${SECONDS_TO_WRITE}s, $ROTATIONS rotations"
echo "collector: copy CPU $(echo "scale=2; $COPY_CPU / $GIB" | bc) s/GiB; with the final pass's compression $(echo "scale=2; $TOTAL_CPU / $GIB" | bc) s/GiB (final pass ${FINAL_S}s)"
echo "collector: peak RSS $((PEAK_KB / 1024)) MiB; lag max ${MAX_LAG} ms (reported), caught up ${CAUGHT_UP}s after the last write"
echo "collector: archive $ARCHIVED_LINES lines, $UNIQUE_LINES distinct, $ARCHIVE_MB MB compressed"
echo "rsync -a every 60s: $RSYNC_RUNS runs, CPU $(echo "scale=2; $RSYNC_CPU / $GIB" | bc) s/GiB, peak RSS $((RSYNC_MAX_KB / 1024)) MiB, lag up to 60 s + a run; copy holds $RSYNC_LINES lines"
[ "$ARCHIVED_LINES" = "$LINES" ] && [ "$UNIQUE_LINES" = "$LINES" ] || { echo "FAIL: the archive does not hold every line once" >&2; exit 1; }
