#!/usr/bin/env bash
# Builds, here, everything one GPU lease runs (scripts/device_check.sh) and packs it into one file
# for the device tool to carry: the CUDA tests (cuda_tests; cuda_header_only_test, nvcc's
# header-only route; nccl_tests), transform_benchmark, speed_table_cuda, train_style_cuda and
# train_sr_cuda (and the CPU train_style and train_sr that tests/cuda/train_programs_test.cpp
# compares them with), their kernels compiled for Hopper (sm_90 machine code plus compute 7.5 PTX);
# the shared libraries they need that the device lacks (OpenBLAS, libgfortran, libquadmath, stb,
# Open MPI's: the device has the driver, cuBLAS, cuDNN and NCCL, the last three in PyTorch's
# wheels, and nothing from Debian); Open MPI's mpirun with its plugins, for the NCCL runs as ranks
# (mpi/); the PyTorch reference script; and the data the run reads (the shared VGG-19, the Table 1
# images, a training subset, the shipped model).
# Compiling on the device would spend minutes of a 15-minute lease; this machine and the device are
# both x86-64, and this glibc (2.36) is older than the device's.
#
# Shares build/ with scripts/test.sh (the same options, so neither rebuilds the other's work) and
# writes .device/perceptual-device.tar.xz (ignored by git). Then, here:
#   bash scripts/device_check.sh --dry-run   # unpacks it, checks every binary loads and finds no device
# and with a GPU lease: run `bash scripts/device_check.sh` with carry [".device/perceptual-device.tar.xz"].
# Usage: scripts/device_bundle.sh [--train-images N]   (bsds500 images packed for training; default 120)
set -euo pipefail
cd "$(dirname "$0")/.."
train_images=120
while [[ $# -gt 0 ]]; do
  case "$1" in
    --train-images) train_images="$2"; shift ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "device_bundle.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$train_images" =~ ^[0-9]+$ ]] || { echo "device_bundle.sh: --train-images takes a count, not \"$train_images\"" >&2; exit 2; }
data="${PERCEPTUAL_DATA:-../shared/data}"
[[ -f "$data/weights/vgg19_conv1_1-conv3_4.safetensors" ]] ||
  { echo "device_bundle.sh: no shared data at $data (set PERCEPTUAL_DATA): the bundle carries its VGG-19 and images" >&2; exit 2; }

bash scripts/install_deps.sh --with-mpi
# PERCEPTUAL_CUDA=ON and PERCEPTUAL_NCCL=ON: a missing nvcc, cuDNN, MPI or NCCL stops here rather
# than building a bundle without them. The architectures are the default's, named in case build/
# was configured before it included sm_90.
archs="75-virtual;90-real"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPERCEPTUAL_BUILD_TESTS=ON -DPERCEPTUAL_BUILD_EXAMPLES=ON \
  -DPERCEPTUAL_BUILD_BENCHMARKS=ON -DPERCEPTUAL_CUDA=ON -DPERCEPTUAL_CUDA_ARCHITECTURES="$archs" \
  -DPERCEPTUAL_MPI=ON -DPERCEPTUAL_NCCL=ON >/dev/null

tests=()  # the CUDA test files, all in one executable (cuda_tests; cmake/perceptualTests.cmake)
for source in tests/cuda/*_test.cpp; do
  name="${source##*/}"
  tests+=("${name%.cpp}")
done
programs=(examples/train_style_cuda examples/train_sr_cuda examples/train_style examples/train_sr
          benchmarks/transform_benchmark benchmarks/speed_table_cuda)
cmake --build build -j "$(nproc)" --target cuda_tests cuda_header_only_test nccl_tests "${programs[@]##*/}"

stage=build/bundle/perceptual-device
rm -rf build/bundle && mkdir -p "$stage"/{bin,lib,data/weights,data/images/content,data/images/styles,data/train}
cp build/tests/cuda/cuda_tests build/tests/cuda/cuda_header_only_test build/tests/nccl_tests "$stage/bin/"
for p in "${programs[@]}"; do cp build/"$p" "$stage/bin/"; done
strip --strip-unneeded "$stage"/bin/*

# Open MPI, for the NCCL runs as ranks (the device has none): mpirun (orterun), the plugins of
# Open MPI and PMIx but those of the network fabrics (UCX, libfabric, PSM, verbs: of no use on one
# machine, with libraries and plugins of their own) and OpenSHMEM's, the help texts and Debian's
# settings, under mpi/. device_check.sh's mpi_env points Open MPI, PMIx and hwloc there.
mpi_plugins="$(ompi_info --parsable --path pkglibdir | cut -d: -f3)"
pmix_lib="$(dirname "$(readlink -f "$(ldd "$mpi_plugins"/*.so | awk '$1 ~ /^libpmix\./ {p = $3} END {print p}')")")"
mkdir -p "$stage"/mpi/{bin,lib/openmpi,lib/pmix,share,etc}
cp -L "$(command -v orterun)" "$stage/mpi/bin/mpirun"
fabrics='lib(ucp|ucs|uct|ucm|fabric|psm[a-z_0-9]*|ibverbs|rdmacm|efa|infinipath|nl-[a-z-]*|oshmem|mca_common_(ucx|ofi|verbs))\.so'
for plugin in "$mpi_plugins"/*.so; do
  grep -qE "$fabrics" <<< "$(ldd "$plugin")" || cp "$plugin" "$stage/mpi/lib/openmpi/"
done
cp "$pmix_lib"/pmix/*.so "$stage/mpi/lib/pmix/"
cp -r "$(ompi_info --parsable --path pkgdatadir | cut -d: -f3)" "$stage/mpi/share/openmpi"
cp -r "$pmix_lib/../share/pmix" "$stage/mpi/share/pmix"
cp /etc/openmpi/openmpi-mca-params.conf "$stage/mpi/etc/"
cp "$pmix_lib/../share/pmix-mca-params.conf" "$stage/mpi/etc/"

# The libraries the binaries and Open MPI's plugins load that are neither the C/C++ runtime (on
# every Linux) nor what the device supplies (driver, cuBLAS, cuDNN, NCCL: NCCL's 208 MiB would not
# fit the 60 MiB the bundle may have): copied, links resolved, under their sonames.
provided='^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|libcuda|libcublas|libcublasLt|libcudnn[a-z_]*|libnccl)\.so'
ldd "$stage"/bin/* "$stage"/mpi/bin/* "$stage"/mpi/lib/*/*.so | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u |
  while read -r soname path; do
    [[ "$soname" =~ $provided ]] || cp -L "$path" "$stage/lib/$soname"
  done
# Each CUDA test file as a program of its own, cuda_<file> (its cases in cuda_tests, chosen by
# doctest's --source-file), as device_check.sh runs and reports them.
for t in "${tests[@]}"; do
  printf '#!/bin/sh\nexec "$(dirname "$0")/cuda_tests" --source-file="*/cuda/%s.cpp" "$@"\n' "$t" >"$stage/bin/cuda_$t"
  chmod +x "$stage/bin/cuda_$t"
done

cp "$data/weights/vgg19_conv1_1-conv3_4.safetensors" "$stage/data/weights/"
cp "$data/images/content/chicago.jpg" "$stage/data/images/content/"
cp "$data/images/styles/candy.jpg" "$stage/data/images/styles/"
mkdir -p "$stage/data/train/bsds500"
find "$data/train/bsds500" -maxdepth 1 -type f | sort | head -n "$train_images" | xargs -r cp -t "$stage/data/train/bsds500/"
cp assets/chelsea.png "$stage/data/images/content/"
cp benchmarks/torch_transform_reference.py "$stage/"
{
  echo "perceptual device bundle"
  echo "commit: $(git rev-parse HEAD)$(git diff --quiet HEAD -- include tests examples benchmarks || echo ' (with uncommitted changes)')"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m), $(ldd --version | head -1);" \
    "the binaries need $(objdump -T "$stage"/bin/* "$stage"/lib/* | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
  echo "CUDA architectures: $archs; nvcc: $(/usr/local/cuda/bin/nvcc --version | tail -1)"
  echo "training images: $(find "$stage/data/train" -type f | wc -l); $(mpirun --version | sed -n 1p)"
  (cd "$stage" && find . -type f -printf '%s %p\n' | sort -k2)
} > "$stage/MANIFEST"

mkdir -p .device
bundle=.device/perceptual-device.tar.xz
tar -C build/bundle -cf - perceptual-device | xz -T0 -6 > "$bundle.tmp"
mv "$bundle.tmp" "$bundle"
size=$(stat -c %s "$bundle")
tree=$(git ls-files -z | xargs -0 stat -c %s | awk '{s += $1} END {print s}')
echo "device_bundle.sh: wrote $bundle: $((size / 1048576)) MiB ($(du -sm "$stage" | cut -f1) MiB unpacked)" \
  "with $((${#tests[@]} + 2)) tests, ${#programs[@]} programs, $(find "$stage/lib" -type f | wc -l) libraries, $(find "$stage/data" -type f | wc -l) data files"
# The device tool carries at most 64 MiB: the bundle and the tracked working tree together.
if (( size > 60 * 1048576 || size + tree > 64 * 1048576 )); then
  echo "device_bundle.sh: too large to carry: bundle $((size / 1048576)) MiB + working tree $((tree / 1048576)) MiB" \
    "(the device tool carries 64 MiB in all; the bundle may be 60): lower --train-images" >&2
  exit 1
fi
