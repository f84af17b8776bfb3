#!/usr/bin/env bash
# On the GPU machine: times Johnson's style transformation network and a training step with our
# CUDA backend (benchmarks/transform_benchmark) and with PyTorch on the same GPU
# (benchmarks/torch_transform_reference.py: eager fp32, eager TF32, eager AMP channels-last and
# torch.compile where it works), measures the GPU's GEMM rates, and prints the comparison table
# last: our time, PyTorch's, the ratios, and the physical floor (the nets' FLOPs over the
# measured peak); then Table 1 and figure 5 on the GPU (speed_table_cuda, objective_cuda) when the
# shared data came along. Writes ours.txt, torch.txt, table.md, speed_gpu.{md,csv} and
# objective{.md,.csv,_summary.csv} to $OUT when set (the device tool's
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
# Table 1 on the GPU, as docs/RESULTS.md runs it on the CPU, when the data came along
# (scripts/pack_device_data.sh table1).
data="${PERCEPTUAL_DATA:-}"
if [[ -n "$data" && -f "$data/weights/vgg19_conv1_1-conv3_4.safetensors" && -f "$data/images/content/chicago.jpg" ]]; then
  ./build-device/benchmarks/speed_table_cuda -m models/candy.safetensors \
    --weights "$data/weights/vgg19_conv1_1-conv3_4.safetensors" \
    --content "$data/images/content/chicago.jpg" --style "$data/images/styles/candy.jpg" \
    --style-layers relu1_2,relu2_2,relu3_4 --style-weight 1.5e-7 --tv-weight 1e-5 \
    --sizes 256,512,1024 --iterations 100,300,500 --frame 1920x1080 --warmup 3 --reps 20 --budget-seconds 300 \
    --csv "$out/speed_gpu.csv" | tee "$out/speed_gpu.md" || echo "device_bench.sh: speed_table_cuda failed" >&2
else
  echo "device_bench.sh: Table 1 skipped: no shared data (carry .deps/device-data.tar from scripts/pack_device_data.sh)"
fi
# Figure 5 on the GPU (scripts/pack_device_data.sh fig5): 50 BSD100 images at 256 and 512 px.
if [[ -n "$data" && -d "$data/sr/BSD100/x4" && -f "$data/images/styles/candy.jpg" ]]; then
  ./build-device/benchmarks/objective_cuda -m models/candy.safetensors \
    --weights "$data/weights/vgg19_conv1_1-conv3_4.safetensors" --style "$data/images/styles/candy.jpg" \
    "$data/sr/BSD100/x4" --match _HR --limit 50 --sizes 256,512 --iterations 300 \
    --csv "$out/objective.csv" --summary "$out/objective_summary.csv" | tee "$out/objective.md" ||
    echo "device_bench.sh: objective_cuda failed" >&2
else
  echo "device_bench.sh: figure 5 skipped: no BSD100 images (scripts/pack_device_data.sh fig5)"
fi
