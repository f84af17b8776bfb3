#!/usr/bin/env bash
# Runs every randomly seeded test (the test files that call testing::test_seed or check_gradients)
# with N seeds, to
# show that none is flaky: each seed is set through PERCEPTUAL_SEED, and a failing seed is printed
# with the command that replays it. Needs a build from scripts/test.sh (build/).
#   scripts/seed_sweep.sh [N]      (default 50; the seeds come from a fixed generator, so two
#                                   sweeps with the same N try the same seeds)
# The kill test (tests/examples/train_style_test.cpp, 30-60 s a run, 21 random kills each) is left
# out unless SEED_SWEEP_EXCLUDE names another pattern (e.g. SEED_SWEEP_EXCLUDE='^$').
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-50}"
case "$n" in '' | *[!0-9]*) echo "seed_sweep.sh: N must be a number (got '$n')" >&2; exit 2 ;; esac
[ -d build/tests ] || { echo "seed_sweep.sh: no build/tests: run scripts/test.sh first" >&2; exit 2; }

tests=()  # "executable file": each test file runs alone from its folder's executable (cmake/perceptualTests.cmake)
while IFS= read -r source; do
  rel="${source#tests/}"
  folder="${rel%/*}"
  target="${folder//\//_}_tests"
  [ -x "build/tests/$target" ] || { echo "seed_sweep.sh: build/tests/$target is not built" >&2; exit 2; }
  tests+=("$target $rel")
done < <(grep -rlE --include='*_test.cpp' 'test_seed\(\)|check_gradients|support/fdcheck.hpp' tests |
  grep -v -e '^tests/cuda/' -e "${SEED_SWEEP_EXCLUDE:-^tests/examples/train_style_test.cpp}" | sort)
echo "seed_sweep: ${#tests[@]} test programs x $n seeds: ${tests[*]}"

# ctest's environment for the program tests.
export PERCEPTUAL_SOURCE_DIR="$PWD" PERCEPTUAL_EXAMPLES_DIR="$PWD/build/examples"
failures=0
seed=20261130
for ((i = 1; i <= n; ++i)); do
  seed=$(( (seed * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff ))
  for entry in "${tests[@]}"; do
    read -r t rel <<<"$entry"
    run=(build/tests/"$t" --source-file="*/tests/$rel")
    log="/tmp/seed_sweep_${rel//\//_}.log"
    if ! PERCEPTUAL_SEED="$seed" "${run[@]}" >"$log" 2>&1; then
      failures=$((failures + 1))
      echo "FAILED: $rel with seed $seed (replay: PERCEPTUAL_SEED=$seed ${run[*]})"
      grep -E "ERROR|CHECK|with expansion|analytic|seed" "$log" | head -20
    fi
  done
  echo "seed $i/$n ($seed): $failures failures so far"
done
echo "seed_sweep: $((n * ${#tests[@]})) runs, $failures failed"
[ "$failures" -eq 0 ]
