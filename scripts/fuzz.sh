#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (ASan + UBSan) in build-fuzz/ and runs each on a
# fresh copy of its seed corpus (fuzz/corpus/<target>/ is never written), then prints per target the
# executions, their rate, the time, the corpus it ended with and whether it found anything.
# Exits non-zero when any target found a crash, leak, timeout or out-of-memory; the input that
# caused it stays in build-fuzz/fuzz/findings/ (<target>-crash-<sha1>, ...), replayed by
# running the target on that file.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
usage: scripts/fuzz.sh [--seconds N] [--runs N] [--jobs N] [target...]
  targets: safetensors image checkpoint model_metadata (default: all)
  --seconds N   fuzz each target for N seconds (default 30, or no time limit with --runs)
  --runs N      stop each target after N executions (with --seconds: whichever comes first)
  --jobs N      build jobs (default 2)
Environment: FUZZ_CC, FUZZ_CXX (default clang-19, clang++-19), FUZZ_FLAGS (more libFuzzer flags).
USAGE
}

seconds="" runs="" jobs=2 targets=()
all_targets=(safetensors image checkpoint model_metadata)
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
    --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
    --jobs) jobs="${2:?--jobs needs a number}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "fuzz.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    *)
      [[ " ${all_targets[*]} " == *" $1 "* ]] || { echo "fuzz.sh: unknown target '$1' (${all_targets[*]})" >&2; exit 2; }
      targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for n in "$seconds" "$runs" "$jobs"; do
  [[ -z "$n" || "$n" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: '$n' is not a whole number" >&2; exit 2; }
done
[ -n "$seconds" ] || [ -n "$runs" ] || seconds=30

bash scripts/install_deps.sh --with-fuzz
build=build-fuzz
CC="${FUZZ_CC:-clang-19}" CXX="${FUZZ_CXX:-clang++-19}" cmake -S . -B "$build" -DPERCEPTUAL_FUZZ=ON \
  -DPERCEPTUAL_BUILD_TESTS=OFF -DPERCEPTUAL_BUILD_EXAMPLES=OFF -DPERCEPTUAL_BUILD_BENCHMARKS=OFF \
  -DPERCEPTUAL_CUDA=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]/%/_fuzzer}"

# Stack traces with function names and lines.
for s in llvm-symbolizer-19 /usr/lib/llvm-19/bin/llvm-symbolizer llvm-symbolizer; do
  if command -v "$s" >/dev/null; then export ASAN_SYMBOLIZER_PATH="$(command -v "$s")"; break; fi
done
work="$PWD/$build/fuzz/work" findings="$PWD/$build/fuzz/findings"
mkdir -p "$findings"
flags=(-print_final_stats=1 -timeout=10 -rss_limit_mb=2048)
[ -n "$seconds" ] && flags+=(-max_total_time="$seconds")
[ -n "$runs" ] && flags+=(-runs="$runs")
# shellcheck disable=SC2206
flags+=(${FUZZ_FLAGS:-})

status=0 rows=()
for t in "${targets[@]}"; do
  corpus="$work/$t/corpus" log="$work/$t/fuzz.log"
  rm -rf "${work:?}/$t" && mkdir -p "$corpus"
  cp fuzz/corpus/"$t"/* "$corpus"/
  ls "$findings" >"$work/$t/findings.before"
  echo "fuzz.sh: $t: ${flags[*]} (log: $log)"
  start=$(date +%s.%N) rc=0
  "$build/fuzz/${t}_fuzzer" "${flags[@]}" -artifact_prefix="$findings/$t-" "$corpus" >"$log" 2>&1 || rc=$?
  elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  execs=$(stat number_of_executed_units) rate=$(stat average_exec_per_sec) rss=$(stat peak_rss_mb)
  files=$(find "$corpus" -type f | wc -l) bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }')
  found=$(ls "$findings" | comm -13 "$work/$t/findings.before" - | sed "s|^|$build/fuzz/findings/|" | tr '\n' ' ')
  if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
    status=1
    reason=$(grep -m1 -E '^==[0-9]+==ERROR|runtime error|fuzz: broken|uncaught|deadly signal' "$log" || true)
    result="FOUND (exit $rc): ${reason:-see the log} ${found}"
  else
    result="nothing found"
  fi
  rows+=("$(printf '%-15s %12s %8s %8s %7s %9s %7s  %s' "$t" "${execs:-?}" "${rate:-?}" "$elapsed" "$files" "$bytes" \
    "${rss:-?}" "$result")")
done

printf '\n%-15s %12s %8s %8s %7s %9s %7s  %s\n' target executions exec/s seconds files bytes rss_mb result
printf '%s\n' "${rows[@]}"
echo "(corpora in $work/<target>/corpus, logs in $work/<target>/fuzz.log, findings in $findings/)"
exit "$status"
