#!/usr/bin/env bash
# The README's gallery: each content photo, scaled to 320 px on its longer side, stylised by each
# shipped model (models/*.safetensors), written as small JPEGs into docs/images/gallery/
# (<photo>.jpg and <photo>_<model>.jpg). Needs build/examples/stylize (scripts/run.sh builds it;
# STYLIZE names another), ffmpeg for the scaling, and ../shared/data (PERCEPTUAL_DATA) for the
# photos.
#   scripts/gallery.sh [PHOTO...]   (default: chicago, golden_gate and brad_pitt from the shared
#                                    content images, and assets/chelsea.png)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${PERCEPTUAL_DATA:-../shared/data}"
stylize="${STYLIZE:-build/examples/stylize}"
out=docs/images/gallery
[ -x "$stylize" ] || { echo "gallery.sh: no $stylize: run scripts/run.sh first" >&2; exit 2; }
command -v ffmpeg >/dev/null || { echo "gallery.sh: needs ffmpeg (scripts/install_deps.sh --with-video)" >&2; exit 2; }
if [ $# -eq 0 ]; then
  set -- "$data/images/content/chicago.jpg" "$data/images/content/golden_gate.jpg" \
    "$data/images/content/brad_pitt.jpg" assets/chelsea.png
fi
mkdir -p "$out"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for photo in "$@"; do
  [ -f "$photo" ] || { echo "gallery.sh: no such photo: $photo" >&2; exit 2; }
  name=$(basename "${photo%.*}")
  # The longer side to 320 px, the other even and in proportion.
  ffmpeg -loglevel error -y -i "$photo" -vf "scale='if(gt(iw,ih),320,-2)':'if(gt(iw,ih),-2,320)':flags=lanczos" \
    "$scratch/$name.png"
  ffmpeg -loglevel error -y -i "$scratch/$name.png" -q:v 4 "$out/$name.jpg"
  for model in models/*.safetensors; do
    [[ "$model" == *.ckpt.safetensors ]] && continue  # a training run's checkpoint
    style=$(basename "$model" .safetensors)
    "$stylize" -m "$model" -o "$scratch" "$scratch/$name.png" 2>"$scratch/log" ||
      { cat "$scratch/log" >&2; exit 1; }
    ffmpeg -loglevel error -y -i "$scratch/${name}_$style.png" -q:v 4 "$out/${name}_$style.jpg"
  done
done
du -ch "$out"/*.jpg | tail -1
