#!/usr/bin/env bash
# Installs the Debian packages the project builds with, when run as root; otherwise names the
# missing ones in one message. --with-python adds PyTorch (CPU), used only to test
# scripts/convert_vgg.py and as the CPU reference in benchmarks; the library never needs it.
# --with-fuzz adds clang 19 and its libFuzzer runtime, for scripts/fuzz.sh only (clang 14, Debian's
# default, cannot compile the library's floating-point template arguments). --with-mpi adds Open MPI,
# for data parallelism (the build turns it on when it is there; the tests run 2 ranks). --with-video adds
# OpenCV's flow (core, imgproc, video) and FFmpeg, for stylize_video and flicker (on when there).
set -euo pipefail

packages=(cmake g++ make doctest-dev libstb-dev libpng-dev libjpeg62-turbo-dev libopenblas-dev libdnnl-dev nlohmann-json3-dev libcli11-dev)
for arg in "$@"; do
  case "$arg" in
    --with-python) packages+=(python3 python3-numpy python3-torch python3-torchvision) ;;
    --with-fuzz) packages+=(clang-19 libclang-rt-19-dev libfuzzer-19-dev) ;;
    --with-mpi) packages+=(libopenmpi-dev openmpi-bin) ;;
    --with-video) packages+=(libopencv-video-dev ffmpeg) ;;
    -h | --help)
      echo "usage: scripts/install_deps.sh [--with-python] [--with-fuzz] [--with-mpi] [--with-video]"
      echo "Installs (as root) or lists the missing Debian packages: ${packages[*]}"
      exit 0 ;;
    *) echo "install_deps.sh: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "perceptual: missing Debian packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "perceptual: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
