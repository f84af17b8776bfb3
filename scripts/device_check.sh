#!/usr/bin/env bash
# The one command of a GPU lease (see scripts/device_bundle.sh, which builds what it runs, here):
#   run(command="bash scripts/device_check.sh", carry=[".device/perceptual-device.tar.xz"], timeout_s=560)
# then give_back. It unpacks the bundle and runs four steps, each under its own time budget, none
# stopping the next (the budgets sum to 525 s, under 9 minutes):
#   a. tests    (150 s) every CUDA test with PERCEPTUAL_REQUIRE_GPU=1: no device is a failure;
#                       nccl_tests as one rank of the bundle's mpirun first (at most 30 s), and
#                       train_programs_test runs train_style_cuda so too (NCCL against the GPU alone
#                       and the CPU)
#   b. speed    (220 s) transform_benchmark (60 s: it times cuDNN's algorithms per shape first),
#                       then PyTorch on the same GPU: eager fp32, TF32 and bf16 autocast
#                       channels-last (75 s), torch.compile (85 s); the comparison table with
#                       ratios and the physical floor
#   c. table1   (50 s)  Johnson et al.'s Table 1 on the GPU at 256 and 512 px
#   d. train    (rest)  train_style_cuda at 256 px, batch 4, with the shipped model's settings
#                       (models/README.md) for the time left, then its model, loss CSV and a sample;
#                       back here, models/README.md says how to measure it against the shipped Candy
#                       (benchmarks/objective --baseline) and ship whichever is better
# Results go to $OUT (the device tool's folder that comes back; build/device-check here): at most
# 8 files: summary.md (every table), logs.tar.gz (every step's output), candy_gpu.safetensors,
# candy_gpu.csv and candy_gpu_sample.png.
#
# --dry-run (here, and in CI after device_bundle.sh) checks the bundle without a GPU: it unpacks
# into an empty folder and, in an environment holding only the bundle's paths and the folders of
# the CUDA libraries the device supplies (cuBLAS, cuDNN, NCCL), every binary must load (ldd:
# nothing missing, nothing taken from this machine's Debian libraries) and say that it has no
# device; the bundle's mpirun must run nccl_tests and the CPU train_style (which initialises MPI)
# as one rank, loading nothing from this machine's Debian libraries either (LD_DEBUG).
# Usage: scripts/device_check.sh [--dry-run] [--bundle FILE]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
bundle=.device/perceptual-device.tar.xz
dry_run=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --bundle) bundle="$2"; shift ;;
    -h | --help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "device_check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ -f "$bundle" ]] || { echo "device_check.sh: no bundle at $bundle: run scripts/device_bundle.sh here and carry it" >&2; exit 2; }

start=$SECONDS
work="$(mktemp -d "${TMPDIR:-/tmp}/perceptual-device.XXXXXX")"
# tar needs the xz program for -J; Python's lzma module stands in where the image lacks it.
if ! tar -C "$work" -xJf "$bundle" 2>/dev/null &&
  ! python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$bundle" "$work"; then
  echo "device_check.sh: cannot unpack $bundle" >&2
  exit 2
fi
B="$work/perceptual-device"
out="${OUT:-build/device-check}"
logs="$work/logs"
mkdir -p "$out" "$logs"
out="$(cd "$out" && pwd)"
summary="$out/summary.md"

# The folder holding each library the device supplies: the CUDA toolkit's, or PyTorch's nvidia
# wheels' (cuDNN 9 is only there on the device, NCCL maybe only there: nvidia-nccl-cu13), whose
# folders Python is asked for once.
wheels="$(python3 -c 'import nvidia; print("\n".join(nvidia.__path__))' 2>/dev/null || true)"
find_lib() {
  local name="$1" dir
  for dir in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do
    [[ -e "$dir/$name" ]] && { echo "$dir"; return; }
  done
  if [[ -n "$wheels" ]]; then
    while IFS= read -r dir; do
      find "$dir" -name "$name" -printf '%h\n' 2>/dev/null | head -1
    done <<< "$wheels" | head -1
  fi
}
lib_path="$B/lib"
for name in libcublas.so.13 libcublasLt.so.13 libcudnn.so.9 libnccl.so.2; do
  dir="$(find_lib "$name")"
  if [[ -z "$dir" ]]; then
    echo "device_check.sh: $name not found (looked in /usr/local/cuda and PyTorch's nvidia wheels)" | tee -a "$summary" >&2
  elif [[ ":$lib_path:" != *":$dir:"* ]]; then
    lib_path="$lib_path:$dir"
  fi
done

# Open MPI from the bundle (device_bundle.sh's mpi/) wherever it was installed: its plugins, help
# texts and settings, PMIx's, and hwloc's plugins (none: the device has none, and this machine's
# must not be found in the dry run); as root, which mpirun refuses unless asked.
mpi_env=(OPAL_PREFIX="$B/mpi" OPAL_BINDIR="$B/mpi/bin" OPAL_LIBDIR="$B/lib" OPAL_PKGLIBDIR="$B/mpi/lib/openmpi"
         OPAL_PKGDATADIR="$B/mpi/share/openmpi" OPAL_SYSCONFDIR="$B/mpi/etc" PMIX_PREFIX="$B/mpi"
         PMIX_PKGLIBDIR="$B/mpi/lib/pmix" PMIX_PKGDATADIR="$B/mpi/share/pmix" PMIX_SYSCONFDIR="$B/mpi/etc"
         HWLOC_PLUGINS_PATH="$B/mpi/lib/hwloc" OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
         PERCEPTUAL_MPIEXEC="$B/mpi/bin/mpirun")

# ---- dry run: every binary loads from the bundle alone and finds no device
if [[ $dry_run == 1 ]]; then
  export CUDA_VISIBLE_DEVICES=""  # no device, even where there is one
  clean=(env -i PATH=/usr/bin:/bin HOME="$work" TMPDIR="$work" CUDA_VISIBLE_DEVICES="" LD_LIBRARY_PATH="$lib_path"
         PERCEPTUAL_DATA="$B/data" PERCEPTUAL_EXAMPLES_DIR="$B/bin")
  failures=0
  fail() { echo "dry run: FAIL: $*"; failures=$((failures + 1)); }
  system='^/(usr/)?lib(64|/x86_64-linux-gnu)?/(ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s)\.so'
  for bin in "$B"/bin/*; do
    name="${bin##*/}"
    deps="$("${clean[@]}" ldd "$bin" 2>&1)"
    grep -q "not found" <<< "$deps" && fail "$name: $(grep 'not found' <<< "$deps" | tr -s ' \t\n' ' ')"
    # Each library from the bundle, a CUDA library folder or the C/C++ runtime; nothing else.
    while read -r path; do
      [[ "$path" == "$B/lib/"* || "$path" =~ $system ]] && continue
      [[ ":$lib_path:" == *":${path%/*}:"* ]] && continue
      fail "$name loads $path from this machine: the device would not have it"
    done < <(awk '$2 == "=>" && $3 ~ /^\// {print $3}' <<< "$deps")
  done
  data="$B/data"
  train=(--style "$data/images/styles/candy.jpg" --weights "$data/weights/vgg19_conv1_1-conv3_4.safetensors"
         --data "$data/train" -n 1 -o "$work/never.safetensors")
  device_free=(cuda_compose_test)
  declare -A no_device=(
    [transform_benchmark]="--iterations 1"
    [speed_table_cuda]="--weights $data/weights/vgg19_conv1_1-conv3_4.safetensors --sizes 16 --iterations 1"
    [train_style_cuda]="${train[*]}"
    [train_sr_cuda]="--data $data/train --loss pixel -n 1 -o $work/never.safetensors"
  )
  for bin in "$B"/bin/*; do
    name="${bin##*/}"
    if [[ "$name" == cuda_*_test ]]; then
      # Without a device each case skips; with PERCEPTUAL_REQUIRE_GPU=1 the same is a failure,
      # except in the tests that need no device (compose_test: compiling is the test).
      "${clean[@]}" "$bin" > "$logs/$name.log" 2>&1 || fail "$name failed without a device: $(tail -3 "$logs/$name.log")"
      if [[ " ${device_free[*]} " == *" $name "* ]]; then
        "${clean[@]}" PERCEPTUAL_REQUIRE_GPU=1 "$bin" > "$logs/$name.require.log" 2>&1 ||
          fail "$name needs no device but failed with PERCEPTUAL_REQUIRE_GPU=1: $(tail -3 "$logs/$name.require.log")"
      elif "${clean[@]}" PERCEPTUAL_REQUIRE_GPU=1 "$bin" > "$logs/$name.require.log" 2>&1; then
        fail "$name passed with PERCEPTUAL_REQUIRE_GPU=1 and no device"
      elif ! grep -q "no CUDA device" "$logs/$name.require.log"; then
        fail "$name with PERCEPTUAL_REQUIRE_GPU=1 did not say \"no CUDA device\": $(tail -3 "$logs/$name.require.log")"
      fi
    elif [[ -n "${no_device[$name]:-}" ]]; then
      # shellcheck disable=SC2086  # the options are words
      if "${clean[@]}" "$bin" ${no_device[$name]} > "$logs/$name.log" 2>&1; then
        fail "$name ran without a device"
      elif ! grep -q "no CUDA device" "$logs/$name.log"; then
        fail "$name did not say \"no CUDA device\": $(tail -3 "$logs/$name.log")"
      fi
    elif [[ "$name" == cuda_tests ]]; then
      continue  # run above, file by file, through the cuda_*_test scripts
    elif [[ "$name" == nccl_tests ]]; then
      continue  # run below, as a rank of mpirun
    else  # the CPU programs that train_programs_test compares with
      "${clean[@]}" "$bin" --help > "$logs/$name.log" 2>&1 || fail "$name --help: $(tail -3 "$logs/$name.log")"
    fi
  done
  # Open MPI from the bundle alone: one rank of nccl_tests (each case skips without a device, and
  # fails with PERCEPTUAL_REQUIRE_GPU=1), then of the CPU train_style, whose MPI_Init loads the
  # ranks' plugins; LD_DEBUG names every library either process loads.
  mpirun=("${clean[@]}" "${mpi_env[@]}")
  "${mpirun[@]}" "$B/mpi/bin/mpirun" -np 1 "$B/bin/nccl_tests" > "$logs/nccl_tests.log" 2>&1 ||
    fail "mpirun -np 1 nccl_tests failed without a device: $(tail -3 "$logs/nccl_tests.log")"
  if "${mpirun[@]}" PERCEPTUAL_REQUIRE_GPU=1 "$B/mpi/bin/mpirun" -np 1 "$B/bin/nccl_tests" \
    > "$logs/nccl_tests.require.log" 2>&1; then
    fail "mpirun -np 1 nccl_tests passed with PERCEPTUAL_REQUIRE_GPU=1 and no device"
  elif ! grep -q "no CUDA device" "$logs/nccl_tests.require.log"; then
    fail "mpirun -np 1 nccl_tests with PERCEPTUAL_REQUIRE_GPU=1 did not say \"no CUDA device\""
  fi
  "${mpirun[@]}" LD_DEBUG=files "$B/mpi/bin/mpirun" -np 1 "$B/bin/train_style" "${train[@]:0:6}" -n 1 \
    --style-layers relu1_2,relu2_2,relu3_4 --image-size 32 --batch-size 1 -o "$work/mpi.safetensors" \
    > "$logs/mpirun.log" 2>&1 ||
    fail "mpirun -np 1 train_style: $(grep -v 'calling \|file=\|^ *[0-9]*:\s*$' "$logs/mpirun.log" | tail -3)"
  while read -r path; do
    [[ "$path" == "$B/"* || "$path" =~ $system ]] && continue
    [[ ":$lib_path:" == *":${path%/*}:"* ]] && continue
    fail "mpirun -np 1 train_style loads $path from this machine: the device would not have it"
  done < <(grep -o 'calling init: /.*' "$logs/mpirun.log" | cut -d' ' -f3 | sort -u)
  python3 -m py_compile "$B/torch_transform_reference.py" || fail "torch_transform_reference.py does not compile"
  count=$(find "$B/bin" -type f | wc -l)
  echo "dry run of $bundle: $count binaries, library path $lib_path: $failures failure(s)"
  rm -rf "$work"
  exit $((failures > 0))
fi

# ---- on the GPU machine
# Our binaries find the bundle's libraries and the device's cuBLAS and cuDNN first; the machine's
# own LD_LIBRARY_PATH stays after them (the driver may be found through it).
export LD_LIBRARY_PATH="$lib_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PERCEPTUAL_DATA="$B/data" PERCEPTUAL_EXAMPLES_DIR="$B/bin" PERCEPTUAL_REQUIRE_GPU=1 PYTHONUNBUFFERED=1
export "${mpi_env[@]}"
data="$B/data"
deadline=$((start + 525))
left() { echo $((deadline - SECONDS)); }
# Runs "$@" for at most $1 seconds (and never past the deadline), its output into logs/$2.log.
step() {
  local budget="$1" name="$2"
  shift 2
  ((budget > $(left))) && budget=$(left)
  if ((budget < 5)); then
    echo "$name: not run (no time left)" | tee "$logs/$name.log"
    return 124
  fi
  local t0=$SECONDS
  timeout --kill-after=5 "$budget" "$@" > "$logs/$name.log" 2>&1
  local status=$?
  echo "$name: status $status after $((SECONDS - t0)) s (budget $budget s)" >> "$logs/steps.txt"
  return $status
}

{
  echo "# GPU lease check, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo '```'
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,temperature.gpu --format=csv 2>&1
  head -5 "$B/MANIFEST"
  echo "library path: $lib_path"
  echo '```'
} >> "$summary"
ldd "$B"/bin/* > "$logs/ldd.txt" 2>&1

# a. tests: each binary gets what is left of the step's 150 s.
tests_end=$((SECONDS + 150))
{
  echo
  echo "## a. CUDA tests (PERCEPTUAL_REQUIRE_GPU=1)"
  echo
  echo "| test | status | seconds | doctest |"
  echo "| --- | --- | --- | --- |"
} >> "$summary"
# nccl_tests first, as one rank of the bundle's mpirun (at most 30 s: a launcher that hangs must
# leave the other tests their time).
for bin in "$B"/bin/nccl_tests "$B"/bin/cuda_*_test; do
  name="${bin##*/}"
  t0=$SECONDS
  launcher=()
  [[ "$name" == nccl_tests ]] && launcher=("$PERCEPTUAL_MPIEXEC" -np 1)
  budget=$((tests_end - SECONDS))
  [[ "$name" == nccl_tests ]] && ((budget > 30)) && budget=30
  step $budget "$name" "${launcher[@]}" "$bin"
  status=$?
  case $status in 0) verdict=pass ;; 124 | 137) verdict="TIMEOUT" ;; *) verdict="FAIL ($status)" ;; esac
  cases="$(grep -a '^\[doctest\] test cases' "$logs/$name.log" | tail -1 | sed 's/^\[doctest\] //; s/ *| */, /g')"
  echo "| $name | $verdict | $((SECONDS - t0)) | $cases |" >> "$summary"
done

# b. speed: ours, then PyTorch's variants, then the table.
step 60 ours "$B/bin/transform_benchmark" --iterations 20 --warmup 3
step 75 torch_eager python3 "$B/torch_transform_reference.py" --peaks 8192 --variants eager_fp32,eager_tf32,eager_amp_cl \
  --iterations 20 --train-iterations 10 --warmup 3
step 85 torch_compile python3 "$B/torch_transform_reference.py" --variants compile_fp32,compile_amp_cl \
  --iterations 20 --train-iterations 10 --warmup 3
{
  echo
  echo "## b. Style network: ours against PyTorch on this GPU"
  echo
  python3 "$B/torch_transform_reference.py" --table "$logs/ours.log" "$logs/torch_eager.log" "$logs/torch_compile.log" 2>&1
} >> "$summary"

# c. Table 1 at 256 and 512 px.
step 50 table1 "$B/bin/speed_table_cuda" -m models/candy.safetensors \
  --weights "$data/weights/vgg19_conv1_1-conv3_4.safetensors" --content "$data/images/content/chicago.jpg" \
  --style "$data/images/styles/candy.jpg" --style-layers relu1_2,relu2_2,relu3_4 --style-weight 1.5e-7 \
  --tv-weight 1e-5 --sizes 256,512 --iterations 100,300,500 --frame 1920x1080 --warmup 3 --reps 20 --budget-seconds 15
{
  echo
  echo "## c. Table 1 on the GPU"
  echo
  grep -a '^|' "$logs/table1.log" || echo "(no table: see logs/table1.log)"
} >> "$summary"

# d. training for the time left (15 s kept for writing the model and packing the results).
train_seconds=$(($(left) - 15))
step $((train_seconds + 10)) train "$B/bin/train_style_cuda" --style "$data/images/styles/candy.jpg" \
  --data "$data/train" --weights "$data/weights/vgg19_conv1_1-conv3_4.safetensors" \
  --style-layers relu1_2,relu2_2,relu3_4 --style-weight 1.5e-7 --tv-weight 1e-5 --image-size 256 --style-size 256 \
  --batch-size 4 -n 40000 --time-limit "$train_seconds" --sample "$data/images/content/chelsea.png" --sample-every 250 \
  --log "$out/candy_gpu.csv" -o "$out/candy_gpu.safetensors"
sample="$(ls -v "$out"/candy_gpu_sample_*.png 2>/dev/null | tail -1)"
[[ -n "$sample" ]] && mv "$sample" "$out/candy_gpu_sample.png"
rm -f "$out"/candy_gpu_sample_*.png "$out"/candy_gpu.ckpt.safetensors
{
  echo
  echo "## d. Training (train_style_cuda, 256 px, batch 4, ${train_seconds} s)"
  echo
  echo '```'
  tail -4 "$logs/train.log"
  echo "sample: ${sample##*/}"
  echo '```'
  echo
  echo "## Steps"
  echo
  echo '```'
  cat "$logs/steps.txt"
  echo "total: $((SECONDS - start)) s"
  echo '```'
} >> "$summary"
tar -C "$work" -czf "$out/logs.tar.gz" logs
cat "$summary"
