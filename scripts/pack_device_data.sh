#!/usr/bin/env bash
# Packs the shared data a GPU run needs into .deps/device-data.tar (ignored by git): ../shared does
# not travel to the device machine, and the device tool carries at most 64 MiB per call together
# with .deps/device.tar.xz (about 6 MB). scripts/device_build.sh unpacks it to .deps/data and
# exports PERCEPTUAL_DATA there. The sets (paths under ../shared/data; JPEG/PNG do not compress):
#   table1  VGG-19 weights, chicago.jpg, candy.jpg (speed_table_cuda; about 10 MB)
#   sr      Set5 and Set14 x4, t91 (SR training and evaluation; about 16 MB)
#   style   bsds500 and coco_sample (style training data; about 32 MB)
#   fig5    the first 50 BSD100 HR images (objective; about 15 MB)
# Usage: scripts/pack_device_data.sh [SET...]   (default: table1 sr)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${PERCEPTUAL_DATA:-../shared/data}"
[[ -d "$data" ]] || { echo "pack_device_data.sh: no shared data at $data (set PERCEPTUAL_DATA)" >&2; exit 2; }
sets=("$@")
[[ ${#sets[@]} -gt 0 ]] || sets=(table1 sr)
files=()
for set in "${sets[@]}"; do
  case "$set" in
    table1) files+=(weights/vgg19_conv1_1-conv3_4.safetensors images/content/chicago.jpg images/styles/candy.jpg) ;;
    sr) files+=(sr/Set5 sr/Set14 train/t91) ;;
    style) files+=(train/bsds500 train/coco_sample) ;;
    fig5) mapfile -t hr < <(cd "$data" && ls sr/BSD100/x4/*_HR.png | head -50); files+=("${hr[@]}") ;;
    *) echo "pack_device_data.sh: unknown set \"$set\" (table1, sr, style, fig5)" >&2; exit 2 ;;
  esac
done
mkdir -p .deps
tar -C "$data" -cf .deps/device-data.tar "${files[@]}"
size=$(du -m .deps/device-data.tar | cut -f1)
echo "pack_device_data.sh: wrote .deps/device-data.tar (${size} MB: ${sets[*]}); carry it with .deps/device.tar.xz"
if (( size + 6 > 64 )); then echo "pack_device_data.sh: warning: over the device tool's 64 MiB carry limit" >&2; fi
