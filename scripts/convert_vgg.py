#!/usr/bin/env python3
"""Convert torchvision's VGG-16 / VGG-19 convolution weights to perceptual's safetensors format.

torchvision names the convolutions by their index in `features` ("features.0.weight", ...); we
name them as the papers do: convB_I is the I-th convolution of block B (blocks end at the max
pools), so VGG-16 has conv1_1..conv5_3 and VGG-19 conv1_1..conv5_4. Each becomes
`convB_I.weight` (float32, OIHW) and `convB_I.bias` (float32, [out]). The header's metadata says
how inputs are normalised, on the 0..255 RGB scale: the network expects (x - input_mean) /
input_std, and torchvision's mean/std (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225) times 255
give input_mean = 123.675,116.28,103.53 and input_std = 58.395,57.12,57.375.

The file is written with the standard library and numpy only (no `safetensors` package): an
8-byte little-endian header length, the JSON header (padded with spaces so the data is 8-byte
aligned), then the raw little-endian float32 data.

Examples:
  convert_vgg.py --arch vgg16 --pretrained --output vgg16.safetensors   # downloads (internet)
  convert_vgg.py --arch vgg16 --weights vgg16-397923af.pth --output vgg16.safetensors
  convert_vgg.py --arch vgg19 --random-init --seed 1 --last conv3_4 --output test.safetensors
"""
import argparse
import json
import os
import struct
import sys

CONVS_PER_BLOCK = {"vgg16": [2, 2, 3, 3, 3], "vgg19": [2, 2, 4, 4, 4]}
BLOCK_CHANNELS = [64, 128, 256, 512, 512]
TORCHVISION_CFG = {"vgg16": "D", "vgg19": "E"}
INPUT_MEAN = "123.675,116.28,103.53"
INPUT_STD = "58.395,57.12,57.375"


class ConversionError(Exception):
    pass


def feature_layout(arch):
    """[(index in torchvision's `features`, our name, out channels, in channels)] for each conv."""
    layout, index, in_channels = [], 0, 3
    for block, (count, out_channels) in enumerate(zip(CONVS_PER_BLOCK[arch], BLOCK_CHANNELS), start=1):
        for i in range(1, count + 1):
            layout.append((index, f"conv{block}_{i}", out_channels, in_channels))
            in_channels = out_channels
            index += 2  # Conv2d, ReLU
        index += 1  # MaxPool2d
    return layout


def convert(state_dict, arch, last=None):
    """Maps a torchvision state dict to {our name: float32 numpy array}, checking every shape."""
    import numpy as np
    import torch

    state = {}
    for key, value in state_dict.items():
        key = key[len("module."):] if key.startswith("module.") else key  # DataParallel checkpoints
        state[key] = value
    layout = feature_layout(arch)
    names = [name for _, name, _, _ in layout]
    if last is not None:
        if last not in names:
            raise ConversionError(f"--last {last}: {arch} has no such layer (it has {names[0]}..{names[-1]})")
        layout = layout[: names.index(last) + 1]

    tensors, missing = {}, []
    for index, name, out_channels, in_channels in layout:
        for suffix, shape in (("weight", (out_channels, in_channels, 3, 3)), ("bias", (out_channels,))):
            key = f"features.{index}.{suffix}"
            if key not in state:
                missing.append(key)
                continue
            array = state[key].detach().cpu().to(dtype=torch.float32).numpy()
            if tuple(array.shape) != shape:
                raise ConversionError(
                    f"{key} (our {name}.{suffix}) has shape {list(array.shape)}, expected {list(shape)}: "
                    f"is this really {arch}?")
            tensors[f"{name}.{suffix}"] = np.ascontiguousarray(array, dtype="<f4")
    if missing:
        raise ConversionError(f"the state dict lacks {len(missing)} {arch} tensors: {', '.join(missing[:4])}"
                              + (" ..." if len(missing) > 4 else "") + " (is it a torchvision VGG state dict?)")
    return tensors


def write_safetensors(path, tensors, metadata):
    """Writes {name: float32 array} with string metadata; atomically (temporary file, rename)."""
    header, offset = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}, 0
    for name, array in tensors.items():
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    temporary = str(path) + ".partial"
    with open(temporary, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for array in tensors.values():
            f.write(array.astype("<f4", copy=False).tobytes(order="C"))
    os.replace(temporary, path)


def load_state_dict(path):
    import torch

    if not os.path.isfile(path):
        raise ConversionError(f"--weights {path}: no such file")
    try:
        loaded = torch.load(path, map_location="cpu")
    except Exception as e:  # torch raises many kinds for a bad file
        raise ConversionError(f"--weights {path}: cannot load it with torch.load: {e}") from e
    if isinstance(loaded, torch.nn.Module):
        loaded = loaded.state_dict()
    if isinstance(loaded, dict) and "state_dict" in loaded and isinstance(loaded["state_dict"], dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict):
        raise ConversionError(f"--weights {path}: holds a {type(loaded).__name__}, not a state dict")
    return loaded


def random_state_dict(arch, seed):
    """torchvision's VGG feature layers with its initialisation (Kaiming normal, fan-out), from a
    seed; biases are drawn from U(-0.1, 0.1) instead of zero so that tests see them."""
    import torch
    from torchvision.models import vgg

    torch.manual_seed(seed)
    features = vgg.make_layers(vgg.cfgs[TORCHVISION_CFG[arch]])
    for module in features.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            torch.nn.init.uniform_(module.bias, -0.1, 0.1)
    return {f"features.{key}": value for key, value in features.state_dict().items()}


def pretrained_state_dict(arch):
    import torchvision

    builder = getattr(torchvision.models, arch)
    try:
        return builder(weights="IMAGENET1K_V1").state_dict()
    except Exception as e:
        raise ConversionError(f"--pretrained: could not get torchvision's {arch} weights (this downloads them, so it "
                              f"needs internet access; or pass a saved state dict with --weights): {e}") from e


def summary(tensors):
    """Per tensor: shape, float64 sum and first values, for tests to compare against."""
    return {name: {"shape": list(a.shape), "sum": float(a.astype("float64").sum()),
                   "first": [float(v) for v in a.reshape(-1)[:4]]} for name, a in tensors.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="See the top of this file for the format and examples.")
    parser.add_argument("--arch", choices=sorted(CONVS_PER_BLOCK), default="vgg16", help="network (default vgg16)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--weights", metavar="PATH", help="a torchvision VGG state dict saved with torch.save (.pth)")
    source.add_argument("--pretrained", action="store_true",
                        help="torchvision's ImageNet weights (IMAGENET1K_V1); downloads them, needs internet")
    source.add_argument("--random-init", action="store_true", help="random weights from --seed (for tests)")
    parser.add_argument("--seed", type=int, default=0, help="seed for --random-init (default 0)")
    parser.add_argument("--last", metavar="LAYER", help="keep the convolutions up to this one, e.g. conv3_3")
    parser.add_argument("--output", required=True, metavar="PATH", help="the .safetensors file to write")
    parser.add_argument("--summary", metavar="PATH", help="also write each tensor's shape, sum and first values "
                        "as JSON (for tests)")
    args = parser.parse_args(argv)

    try:
        if args.weights:
            state, source_text = load_state_dict(args.weights), f"torchvision state dict {os.path.basename(args.weights)}"
        elif args.pretrained:
            state, source_text = pretrained_state_dict(args.arch), "torchvision IMAGENET1K_V1"
        else:
            state, source_text = random_state_dict(args.arch, args.seed), f"random init, seed {args.seed}"
        tensors = convert(state, args.arch, args.last)
        names = [name for name in tensors if name.endswith(".weight")]
        metadata = {
            "format": "perceptual-vgg",
            "arch": args.arch,  # the name the shared VGG-19 file uses
            "architecture": args.arch,
            "layers": f"{names[0][:-7]}..{names[-1][:-7]}",
            "input": "RGB, values in [0,255], normalised as (x - mean) / std",
            "input_mean": INPUT_MEAN,
            "input_std": INPUT_STD,
            "source": source_text,
        }
        write_safetensors(args.output, tensors, metadata)
        if args.summary:
            with open(args.summary, "w") as f:
                json.dump(summary(tensors), f)
    except ConversionError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}: {len(tensors)} tensors ({metadata['layers']}) of {args.arch}, from {source_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
