#!/usr/bin/env bash
# Builds the CUDA backend's tests and programs on the GPU machine and runs the tests: no network
# there, so the Debian packages come from .deps/ (scripts/fetch_device_deps.sh, run beforehand
# where apt works, writes .deps/device.tar.xz: carry that file, unpacked here on first use) and
# cuDNN from PyTorch's nvidia-cudnn wheel (or from $CUDNN_ROOT when set). Writes
# build-device/env.sh (library paths, and PERCEPTUAL_DATA when .deps/device-data.tar came along:
# scripts/pack_device_data.sh) for the programs it built.
# Usage: scripts/device_build.sh [--no-tests] [ctest args...] [--bench [device_bench.sh args...]]
set -euo pipefail
cd "$(dirname "$0")/.."
run_tests=1
ctest_args=()
bench_args=()
bench=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-tests) run_tests=0 ;;
    --bench) bench=1; shift; bench_args=("$@"); break ;;
    *) ctest_args+=("$1") ;;
  esac
  shift
done

if [[ ! -d .deps/usr && -f .deps/device.tar.xz ]]; then tar -C .deps -xJf .deps/device.tar.xz; fi
# The shared data, when carried (scripts/pack_device_data.sh): the programs' PERCEPTUAL_DATA.
if [[ -f .deps/device-data.tar ]]; then mkdir -p .deps/data && tar -C .deps/data -xf .deps/device-data.tar; fi
deps="$PWD/.deps/usr"
if [[ ! -d "$deps" ]]; then
  echo "device_build.sh: no .deps/usr or .deps/device.tar.xz; run scripts/fetch_device_deps.sh where apt" \
    "works and carry .deps/device.tar.xz" >&2
  exit 2
fi
if [[ -z "${CUDNN_ROOT:-}" ]]; then
  # nvidia.cudnn is a namespace package in recent wheels (no __file__): take its path.
  wheel="$(python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])')"
  # The wheel ships lib/libcudnn.so.9 but no libcudnn.so for find_library: link both into .device/.
  mkdir -p .device/cudnn/lib
  ln -sfn "$wheel/include" .device/cudnn/include
  ln -sf "$wheel/lib/libcudnn.so.9" .device/cudnn/lib/libcudnn.so
  export CUDNN_ROOT="$PWD/.device/cudnn"  # read by cmake/perceptualCuda.cmake
  cudnn_lib="$wheel/lib"  # libcudnn.so.9 loads its sub-libraries (libcudnn_cnn.so.9, ...) from there
else
  cudnn_lib="$CUDNN_ROOT/lib"
fi

# stb: its implementation compiled here (Debian's libstb.so may need a newer glibc than the machine has).
mkdir -p .device/stb
printf '#define STB_IMAGE_IMPLEMENTATION\n#include <stb_image.h>\n#define STB_IMAGE_WRITE_IMPLEMENTATION\n#include <stb_image_write.h>\n' \
  > .device/stb/stb.c
cc -O2 -fPIC -I"$deps/include/stb" -c .device/stb/stb.c -o .device/stb/stb.o
ar rcs .device/stb/libstb.a .device/stb/stb.o

# OpenBLAS from the .deb (dpkg -x sets up no alternatives, so name the library and cblas.h directly);
# it needs libgfortran5 (also in .deps) at run time.
blas_dir="$deps/lib/x86_64-linux-gnu/openblas-pthread"
export LD_LIBRARY_PATH="$blas_dir:$deps/lib/x86_64-linux-gnu:$cudnn_lib:${LD_LIBRARY_PATH:-}"
cmake -S . -B build-device -DCMAKE_BUILD_TYPE=Release -DPERCEPTUAL_BUILD_EXAMPLES=ON \
  -DPERCEPTUAL_BUILD_BENCHMARKS=ON -DPERCEPTUAL_CUDA=ON -DPERCEPTUAL_CUDA_ARCHITECTURES=native \
  -DCMAKE_PREFIX_PATH="$deps" -DBLAS_LIBRARIES="$blas_dir/libopenblas.so" \
  -DCMAKE_CXX_FLAGS="-I$deps/include/x86_64-linux-gnu/openblas-pthread" \
  -DCMAKE_CUDA_FLAGS="-I$deps/include/x86_64-linux-gnu/openblas-pthread" \
  -DPERCEPTUAL_STB_INCLUDE_DIR="$deps/include/stb" -DPERCEPTUAL_STB_LIBRARY="$PWD/.device/stb/libstb.a"
printf 'export LD_LIBRARY_PATH="%s"\n' "$LD_LIBRARY_PATH" > build-device/env.sh
if [[ -d .deps/data ]]; then printf 'export PERCEPTUAL_DATA="%s"\n' "$PWD/.deps/data" >> build-device/env.sh; fi
# Only the CUDA tests and the CUDA programs, and the CPU training programs that
# tests/cuda/train_programs_test.cu compares the GPU's with: the rest is CI's.
targets=()
for source in tests/cuda/*_test.cu; do
  name="${source##*/}"
  targets+=("cuda_${name%.cu}")
done
cmake --build build-device -j"$(nproc)" --target "${targets[@]}" transform_benchmark speed_table_cuda objective_cuda \
  train_style_cuda train_sr_cuda train_style train_sr
if [[ $run_tests == 1 ]]; then
  ctest --test-dir build-device -R '^cuda/' --output-on-failure "${ctest_args[@]}"
fi
if [[ $bench == 1 ]]; then
  bash scripts/device_bench.sh --built "${bench_args[@]}"
fi
