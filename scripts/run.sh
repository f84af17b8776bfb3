#!/usr/bin/env bash
# The README's main job: installs what is missing, builds the programs, and runs the default
# job on the bundled photo (assets/chelsea.png), writing its results under out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPERCEPTUAL_BUILD_TESTS=OFF -DPERCEPTUAL_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build -j "$(nproc)" --target demo
./build/examples/demo --input assets/chelsea.png --output-dir out "$@"
