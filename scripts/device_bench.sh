#!/usr/bin/env bash
# On the GPU machine: times Johnson's style transformation network and a training step with our
# CUDA backend (benchmarks/transform_benchmark) and with PyTorch on the same GPU
# (benchmarks/torch_transform_reference.py: eager fp32, eager TF32, eager AMP channels-last and
# torch.compile where it works), measures the GPU's GEMM rates, and prints the comparison table
# last: our time, PyTorch's, the ratios, and the physical floor (the nets' FLOPs over the
# measured peak). Writes ours.txt, torch.txt and table.md to $OUT when set (the device tool's
# folder that comes back), else to build-device/bench/.
# Usage: scripts/device_bench.sh [--quick] [--no-compile]
#   --quick       20 timed runs instead of 50 (training: 10), 3 warm-up, no torch.compile
#   --no-compile  leave out the torch.compile variants (their compilation takes minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
built=0
iterations=(--iterations 50 --warmup 5)
torch_iterations=(--iterations 50 --train-iterations 20 --warmup 5)
variants=eager_fp32,eager_tf32,eager_amp_cl,compile_fp32,compile_amp_cl
for arg in "$@"; do
  case "$arg" in
    --built) built=1 ;;  # from device_build.sh: already built
    --quick)
      iterations=(--iterations 20 --warmup 3)
      torch_iterations=(--iterations 20 --train-iterations 10 --warmup 3)
      variants=eager_fp32,eager_tf32,eager_amp_cl ;;
    --no-compile) variants=eager_fp32,eager_tf32,eager_amp_cl ;;
    *) echo "device_bench.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
[[ $built == 1 ]] || bash scripts/device_build.sh --no-tests
# shellcheck disable=SC1091
source build-device/env.sh
out="${OUT:-build-device/bench}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu --format=csv || true
# A failure on one side still leaves the other side's rows for the table.
./build-device/benchmarks/transform_benchmark "${iterations[@]}" | tee "$out/ours.txt" ||
  echo "device_bench.sh: transform_benchmark failed (status $?)" >&2
python3 benchmarks/torch_transform_reference.py --peaks 8192 --variants "$variants" "${torch_iterations[@]}" \
  | tee "$out/torch.txt" || echo "device_bench.sh: torch_transform_reference.py failed" >&2
python3 benchmarks/torch_transform_reference.py --table "$out/ours.txt" "$out/torch.txt" | tee "$out/table.md"
