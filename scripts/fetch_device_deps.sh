#!/usr/bin/env bash
# Unpacks the Debian packages the GPU machine lacks into .deps/ (ignored by git): run here, where
# apt works; the device machine has no network. Nothing is installed: `apt-get download` fetches
# the .deb files and `dpkg -x` unpacks each one under .deps/.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(libxtensor-dev xtl-dev doctest-dev nlohmann-json3-dev libcli11-dev libstb-dev
          libopenblas-dev libopenblas-pthread-dev libopenblas0-pthread libgfortran5)
mkdir -p .deps/debs
(cd .deps/debs && apt-get download "${packages[@]}")
for deb in .deps/debs/*.deb; do dpkg -x "$deb" .deps; done
echo "fetch_device_deps.sh: unpacked ${#packages[@]} packages into .deps/usr"
