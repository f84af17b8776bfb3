#!/usr/bin/env python3
"""lengstrom/fast-style-transfer's evaluate.py, redone in PyTorch from TensorFlow's definitions,
to check `stylize --preset engstrom` against an implementation that shares no code with ours.

The network runs at the image's own size: tf.nn.conv2d(padding="SAME") pads max((out - 1) s + k - n,
0) zeros, the smaller half before; tf.nn.conv2d_transpose(padding="SAME") with output s * n is the
adjoint of that convolution; instance norm eps 1e-3 over H and W; 150 tanh(x) + 127.5; and the file
is written as evaluate.py does, np.clip(y, 0, 255).astype(np.uint8) (truncation). With --compare,
prints the largest and mean difference (gray levels) and the PSNR against our output file.

  torch_engstrom_reference.py --model udnie.safetensors --input chicago.jpg --output ref.png \\
      --compare chicago_udnie.png
Used only to check; never a dependency of the library."""
import argparse
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            sys.exit(f"{path}: {name} is {t['dtype']}, expected F32")
        begin, end = t["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(data[begin:end], dtype="<f4").reshape(t["shape"]).copy())
    return tensors


def same_padding(n, k, s):
    out = (n + s - 1) // s
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def conv(x, w, s):
    k = w.shape[-1]
    top, bottom = same_padding(x.shape[2], k, s)
    left, right = same_padding(x.shape[3], k, s)
    return F.conv2d(F.pad(x, (left, right, top, bottom)), w, stride=s)


def deconv(x, w, s):
    # The adjoint of the SAME convolution from s * n to n: transpose with no padding, then drop the
    # padding that convolution would have added before (top/left) and after (bottom/right).
    k = w.shape[-1]
    h, wd = x.shape[2] * s, x.shape[3] * s
    top, _ = same_padding(h, k, s)
    left, _ = same_padding(wd, k, s)
    y = F.conv_transpose2d(x, w, stride=s)
    return y[:, :, top:top + h, left:left + wd]


def norm(x, t, name, relu):
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = x.var(dim=(2, 3), unbiased=False, keepdim=True)
    y = (x - mean) / torch.sqrt(var + 1e-3) * t[name + ".norm.scale"].view(1, -1, 1, 1) + t[
        name + ".norm.shift"].view(1, -1, 1, 1)
    return F.relu(y) if relu else y


def forward(t, x):
    def layer(x, name, s, relu=True, transpose=False):
        y = (deconv if transpose else conv)(x, t[name + ".weight"], s)
        return norm(y, t, name, relu)

    x = layer(x, "conv1", 1)
    x = layer(x, "conv2", 2)
    x = layer(x, "conv3", 2)
    for b in range(1, 6):
        r = f"res{b}"
        x = x + layer(layer(x, r + ".conv1", 1), r + ".conv2", 1, relu=False)
    x = layer(x, "deconv1", 2, transpose=True)
    x = layer(x, "deconv2", 2, transpose=True)
    x = layer(x, "conv_out", 1, relu=False)
    return 150 * torch.tanh(x) + 127.5


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="converted lengstrom checkpoint (safetensors)")
    p.add_argument("--input", required=True, help="image file")
    p.add_argument("--output", help="where to write the reference (PNG)")
    p.add_argument("--compare", help="our output file to compare with")
    p.add_argument("--crop", help="HxW: use the top-left HxW of the input")
    a = p.parse_args()

    t = read_safetensors(a.model)
    image = np.asarray(Image.open(a.input).convert("RGB"), dtype=np.float64)
    if a.crop:
        h, w = (int(v) for v in a.crop.split("x"))
        image = image[:h, :w]
    x = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0)
    with torch.no_grad():
        y = forward({k: v.double() for k, v in t.items()}, x)
    out = np.clip(y[0].permute(1, 2, 0).numpy(), 0, 255).astype(np.uint8)
    print(f"input {image.shape[0]}x{image.shape[1]} -> output {out.shape[0]}x{out.shape[1]}")
    if a.output:
        Image.fromarray(out).save(a.output)
    if a.compare:
        ours = np.asarray(Image.open(a.compare).convert("RGB"), dtype=np.float64)
        if ours.shape != out.shape:
            print(f"sizes differ: ours {ours.shape[0]}x{ours.shape[1]}, reference {out.shape[0]}x{out.shape[1]}")
            return 1
        d = np.abs(ours - out)
        mse = float(np.mean(d * d))
        psnr = math.inf if mse == 0 else 10 * math.log10(255 * 255 / mse)
        print(f"difference: largest {d.max():.0f}, mean {d.mean():.4f} gray levels, "
              f"{100 * np.mean(d > 1):.3f}% of values over 1, PSNR {psnr:.1f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
