#!/usr/bin/env bash
# Unpacks the Debian packages the GPU machine lacks into .deps/ (ignored by git): run here, where
# apt works; the device machine has no network. Nothing is installed: `apt-get download` fetches
# the .deb files and `dpkg -x` unpacks each one under .deps/. Then packs what the device needs
# (headers, CMake files, OpenBLAS's and libgfortran's shared libraries: no static libraries,
# LAPACK or docs) into .deps/device.tar.xz, about 7 MB: the device tool carries at most 64 MiB
# and .deps/usr is over 100 MB. Carry .deps/device.tar.xz; scripts/device_build.sh unpacks it.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(libxtensor-dev xtl-dev doctest-dev nlohmann-json3-dev libcli11-dev libstb-dev
          libopenblas-dev libopenblas-pthread-dev libopenblas0-pthread libgfortran5)
if [[ ! -d .deps/usr ]]; then
  mkdir -p .deps/debs
  (cd .deps/debs && apt-get download "${packages[@]}")
  for deb in .deps/debs/*.deb; do dpkg -x "$deb" .deps; done
  echo "fetch_device_deps.sh: unpacked ${#packages[@]} packages into .deps/usr"
fi
tar -C .deps -cJf .deps/device.tar.xz --exclude='*.a' --exclude='liblapack*' --exclude='usr/share/doc' \
  --exclude='usr/share/lintian' usr
echo "fetch_device_deps.sh: wrote .deps/device.tar.xz ($(du -h .deps/device.tar.xz | cut -f1)); carry it to the device"
