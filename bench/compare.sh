#!/usr/bin/env bash
# Runs etcd's own benchmark tool against real etcd and against tsetcd, one after the
# other on the same machine and ports, and writes a table of ratios.
#
#   bench/compare.sh [OUT_DIR]
#
# env: SIZE (1|3, default 1), MODE (plain|tls, default plain), TESTS (bench.sh test
#      names, default: put-seq put-100c-leader range-l-100c range-s-100c),
#      N_PUT, N_RANGE, N_PUT_SEQ (request counts, bench.sh's defaults otherwise),
#      REF (the reference kit, default ../shared/reference next to the repository).
# Needs: etcd/etcdctl on PATH, and the benchmark tool built by
#        $REF/build-benchmark.sh (in ${REF_HOME:-/tmp/tsetcd-ref}/bin/benchmark).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REF=${REF:-$(cd "$REPO/../shared/reference" 2>/dev/null && pwd || echo /work/shared/reference)}
OUT=${1:-/tmp/tsetcd-bench/$(date +%Y%m%d-%H%M%S)}
SIZE=${SIZE:-1}
MODE=${MODE:-plain}
export TESTS=${TESTS:-"put-seq put-100c-leader range-l-100c range-s-100c"}
BENCH=${BENCH:-${REF_HOME:-/tmp/tsetcd-ref}/bin/benchmark}
[ -x "$BENCH" ] || { echo "benchmark tool missing: run $REF/build-benchmark.sh" >&2; exit 2; }
[ -f "$REPO/dist/src/cli/tsetcd.js" ] || { echo "build first: npm run build" >&2; exit 2; }
if [ "$MODE" = tls ] && [ ! -f "${REF_HOME:-/tmp/tsetcd-ref}/pki/ca.pem" ]; then "$REF/pki.sh"; fi

scheme=http; [ "$MODE" = tls ] && scheme=https
eps="$scheme://127.0.0.1:2379"
[ "$SIZE" = 3 ] && eps="$eps,$scheme://127.0.0.1:22379,$scheme://127.0.0.1:32379"

mkdir -p "$OUT"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
  echo "etcd: $(etcd --version | head -n1)"
  echo "tsetcd: $(cd "$REPO" && git describe --always --dirty 2>/dev/null || echo unknown), node $(node --version)"
  echo "size: $SIZE, mode: $MODE, tests: $TESTS"
} > "$OUT/run.txt"

for impl in etcd tsetcd; do
  bin=etcd; [ "$impl" = tsetcd ] && bin="$REPO/bin/tsetcd"
  dir="$OUT/$impl"
  rm -rf "$dir/cluster"
  ETCD_BIN=$bin "$REF/cluster.sh" start "$dir/cluster" "$MODE" "$SIZE"
  pids=$(cat "$dir"/cluster/pids/*.pid | tr '\n' ' ')
  SERVER_PIDS=$pids BENCH=$BENCH "$REF/bench.sh" "$dir/results" "$eps" "$MODE" || true
  "$REF/cluster.sh" stop "$dir/cluster"
done

node "$REPO/dist/bench/summarize.js" "$OUT" | tee "$OUT/summary.md"
