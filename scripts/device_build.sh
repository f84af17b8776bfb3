#!/usr/bin/env bash
# Builds the CUDA backend's tests on the GPU machine and runs them: no network there, so the
# Debian packages come unpacked in .deps/ (scripts/fetch_device_deps.sh, run beforehand where
# apt works) and cuDNN from PyTorch's nvidia-cudnn wheel. Usage: scripts/device_build.sh [ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
deps="$PWD/.deps/usr"
[[ -d "$deps" ]] || { echo "device_build.sh: no .deps/usr; run scripts/fetch_device_deps.sh first" >&2; exit 2; }
wheel="$(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))')"
# The wheel ships lib/libcudnn.so.9 but no libcudnn.so for find_library: link both into .device/.
mkdir -p .device/cudnn/lib
ln -sfn "$wheel/include" .device/cudnn/include
ln -sf "$wheel/lib/libcudnn.so.9" .device/cudnn/lib/libcudnn.so
export CUDNN_ROOT="$PWD/.device/cudnn"  # read by cmake/perceptualCuda.cmake

# stb: its implementation compiled here (Debian's libstb.so may need a newer glibc than the machine has).
mkdir -p .device/stb
printf '#define STB_IMAGE_IMPLEMENTATION\n#include <stb_image.h>\n#define STB_IMAGE_WRITE_IMPLEMENTATION\n#include <stb_image_write.h>\n' \
  > .device/stb/stb.c
cc -O2 -fPIC -I"$deps/include/stb" -c .device/stb/stb.c -o .device/stb/stb.o
ar rcs .device/stb/libstb.a .device/stb/stb.o

# OpenBLAS from the .deb (dpkg -x sets up no alternatives, so name the library and cblas.h directly);
# it needs libgfortran5 (also in .deps) at run time.
blas_dir="$deps/lib/x86_64-linux-gnu/openblas-pthread"
export LD_LIBRARY_PATH="$blas_dir:$deps/lib/x86_64-linux-gnu:$wheel/lib:${LD_LIBRARY_PATH:-}"
cmake -S . -B build-device -DCMAKE_BUILD_TYPE=Release -DPERCEPTUAL_BUILD_EXAMPLES=OFF \
  -DPERCEPTUAL_BUILD_BENCHMARKS=OFF -DPERCEPTUAL_CUDA=ON -DPERCEPTUAL_CUDA_ARCHITECTURES=native \
  -DCMAKE_PREFIX_PATH="$deps" -DBLAS_LIBRARIES="$blas_dir/libopenblas.so" \
  -DCMAKE_CXX_FLAGS="-I$deps/include/x86_64-linux-gnu/openblas-pthread" \
  -DCMAKE_CUDA_FLAGS="-I$deps/include/x86_64-linux-gnu/openblas-pthread" \
  -DPERCEPTUAL_STB_INCLUDE_DIR="$deps/include/stb" -DPERCEPTUAL_STB_LIBRARY="$PWD/.device/stb/libstb.a"
targets=$(cd tests/cuda && ls *_test.cu | sed 's/^/cuda_/; s/\.cu$//')
cmake --build build-device -j"$(nproc)" --target $targets
ctest --test-dir build-device -R '^cuda/' --output-on-failure "$@"
