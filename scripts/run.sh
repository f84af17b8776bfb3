#!/usr/bin/env bash
# The README's main job: installs what is missing, builds stylize, and stylises the bundled photo
# (assets/chelsea.png) with the shipped style network (models/candy.safetensors, see
# models/README.md), writing out/chelsea_candy.png. Extra arguments go to stylize.
# It shares build/ with scripts/test.sh and sets the options it relies on itself, so the two run in
# either order: it configures with the project's defaults and builds only the stylize target.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPERCEPTUAL_BUILD_EXAMPLES=ON >/dev/null
cmake --build build -j "$(nproc)" --target stylize
./build/examples/stylize --model models/candy.safetensors --suffix _candy --output-dir out assets/chelsea.png "$@"
