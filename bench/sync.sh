#!/usr/bin/env bash
# repo sync throughput: a repository-shaped tree (many small blobs plus some large segment files)
# from a directory to a real S3 server (moto on 127.0.0.1), side by side with a reference in the
# same run: the AWS SDK for Python (boto3) uploading the same files one after the other, as a
# hand-written script would. Then an incremental run with nothing to send.
#
# Usage: bash bench/sync.sh [FILES] [BIG_MIB]    (defaults: 2000 small files, 4 x 32 MiB)
# Needs: a release build (cargo build --release), pip install 'moto[server]' (brings boto3).
set -euo pipefail
cd "$(dirname "$0")/.."
FILES="${1:-2000}"
BIG_MIB="${2:-32}"
BIN="${LOGBACKUP_BIN:-target/release/kubectl-logbackup}"
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
WORK="$(mktemp -d)"
PORT=45699
moto_server -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO=$!
trap 'kill $MOTO 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.2; done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
EP="http://127.0.0.1:$PORT"

REPO="$WORK/repo"
python3 - "$REPO" "$FILES" "$BIG_MIB" <<'PY'
import os, sys
root, n, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(root)
for i in range(n):
    d = os.path.join(root, "indices", f"idx{i % 50:03d}", "0")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"__blob{i:05d}"), "wb") as f:
        f.write(os.urandom(4096 + (i * 37) % 60000))
for i in range(4):
    with open(os.path.join(root, "indices", f"idx{i:03d}", "0", f"__big{i}"), "wb") as f:
        f.write(os.urandom(big * 1024 * 1024))
with open(os.path.join(root, "index-0"), "w") as f:
    f.write('{"snapshots":[{"name":"bench","uuid":"u"}],"indices":{}}')
with open(os.path.join(root, "index.latest"), "wb") as f:
    f.write((0).to_bytes(8, "big"))
PY
BYTES=$(du -sb "$REPO" | cut -f1)
COUNT=$(find "$REPO" -type f | wc -l)
python3 -c "import boto3;c=boto3.client('s3',endpoint_url='$EP');[c.create_bucket(Bucket=b) for b in ('ours','ref')]"

timed() { /usr/bin/time -f "%e %M" "$@" 2>"$WORK/time" >/dev/null; tail -1 "$WORK/time"; }
read -r OURS_S OURS_KB < <(timed "$BIN" repo sync "$REPO" s3://ours/repo --endpoint "$EP")
read -r AGAIN_S AGAIN_KB < <(timed "$BIN" repo sync "$REPO" s3://ours/repo --endpoint "$EP")
cat >"$WORK/ref.py" <<PY
import os, boto3
c = boto3.client("s3", endpoint_url="$EP")
for d, _, files in os.walk("$REPO"):
    for f in files:
        p = os.path.join(d, f)
        c.upload_file(p, "ref", "repo/" + os.path.relpath(p, "$REPO"))
PY
read -r REF_S REF_KB < <(timed python3 "$WORK/ref.py")
echo "tree: $COUNT files, $((BYTES / 1024 / 1024)) MiB"
printf '%-40s %8s %10s\n' "run" "wall s" "peak RSS MiB"
printf '%-40s %8s %10s\n' "repo sync (first copy)" "$OURS_S" "$((OURS_KB / 1024))"
printf '%-40s %8s %10s\n' "repo sync (again, nothing to send)" "$AGAIN_S" "$((AGAIN_KB / 1024))"
printf '%-40s %8s %10s\n' "boto3 upload_file, one by one" "$REF_S" "$((REF_KB / 1024))"
