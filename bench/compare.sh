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
#      Besides bench.sh's tests, TESTS may name lease-keepalive-100c (etcd's benchmark
#      lease-keepalive with 100 clients; N_KEEPALIVE requests).
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

# run_extra OUT_DIR "PIDS" NAME BENCH-ARGS...: one benchmark run with server CPU, in bench.sh's format
run_extra() {
  local out=$1 pids=$2 name=$3; shift 3
  mkdir -p "$out"
  local tck t0 t1 g=(--endpoints="$eps" --precise)
  if [ "$MODE" = tls ]; then g+=(--cacert "${REF_HOME:-/tmp/tsetcd-ref}/pki/ca.pem" --cert "${REF_HOME:-/tmp/tsetcd-ref}/pki/client.pem" --key "${REF_HOME:-/tmp/tsetcd-ref}/pki/client-key.pem"); fi
  tck=$(getconf CLK_TCK)
  ticks() { local t=0 p; for p in $pids; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
  echo "== $name: benchmark ${g[*]} $*" > "$out/$name.txt"
  t0=$(ticks)
  "$BENCH" "${g[@]}" "$@" 2>&1 | tr '\r' '\n' | grep -v -E '^\s*[0-9]+ / [0-9]+ |^\s*$' >> "$out/$name.txt" || true
  t1=$(ticks)
  echo "server-cpu: $(awk -v a="$t0" -v b="$t1" -v t="$tck" 'BEGIN{printf "%.2f", (b-a)/t}') s (all members)" >> "$out/$name.txt"
  grep -E "Requests/sec|99% in|server-cpu" "$out/$name.txt" | tr -s ' \t' ' ' | paste -sd' ' | sed "s/^/   $name: /"
}

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
  ref_tests=""
  for t in $TESTS; do
    case $t in
      lease-keepalive-100c) run_extra "$dir/results" "$pids" "$t" --conns=10 --clients=100 lease-keepalive --total="${N_KEEPALIVE:-50000}" ;;
      *) ref_tests+="$t " ;;
    esac
  done
  [ -n "$ref_tests" ] && TESTS=$ref_tests SERVER_PIDS=$pids BENCH=$BENCH "$REF/bench.sh" "$dir/results" "$eps" "$MODE" || true
  "$REF/cluster.sh" stop "$dir/cluster"
done

node "$REPO/dist/bench/summarize.js" "$OUT" | tee "$OUT/summary.md"
