#!/usr/bin/env bash
# Builds the project and runs every test (the README's test command; .ci/run calls it).
# Tests that need the shared data read PERCEPTUAL_DATA (default ../shared/data when present).
# Every option the tests need is set here, whatever build/ was configured with before (scripts/run.sh
# shares it), and a run in which no test ran is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh --with-python --with-mpi --with-video
if [ -z "${PERCEPTUAL_DATA:-}" ] && [ -d ../shared/data ]; then export PERCEPTUAL_DATA="$(cd ../shared/data && pwd)"; fi
echo "perceptual: PERCEPTUAL_DATA=${PERCEPTUAL_DATA:-<unset: tests that need the shared data will skip>}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPERCEPTUAL_BUILD_TESTS=ON -DPERCEPTUAL_BUILD_EXAMPLES=ON \
  -DPERCEPTUAL_BUILD_BENCHMARKS=ON
cmake --build build -j "$(nproc)"
cd build && ctest --output-on-failure --no-tests=error -j "$(nproc)"
