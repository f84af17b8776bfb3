#!/usr/bin/env python3
"""PyTorch CPU reference for benchmarks/conv_benchmark: the same 3x3 128->128 convolution on a
1x128x64x64 float input (zero padding 1, bias), forward, backward-data and backward-filter,
median milliseconds and GFLOP/s. Used only to compare; never a dependency of the library."""
import argparse
import statistics
import time

import torch


def median_ms(fn, reps):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(1, 128, 64, 64)
    conv = torch.nn.Conv2d(128, 128, 3, padding=1)
    y = conv(x)
    dy = torch.randn_like(y)
    w, b = conv.weight, conv.bias
    flops = 2 * 128 * 128 * 9 * 64 * 64

    def forward():
        with torch.no_grad():
            torch.nn.functional.conv2d(x, w, b, padding=1)

    def backward_data():
        torch.nn.grad.conv2d_input(x.shape, w, dy, padding=1)

    def backward_filter():
        torch.nn.grad.conv2d_weight(x, w.shape, dy, padding=1)
        dy.sum(dim=(0, 2, 3))

    print(f"PyTorch {torch.__version__} CPU, {torch.get_num_threads()} threads, median of {args.reps}")
    for name, fn in [("conv forward (+bias)", forward), ("conv backward-data", backward_data),
                     ("conv backward-filter (+bias)", backward_filter)]:
        ms = median_ms(fn, args.reps)
        print(f"{name:<32}{ms:9.3f} ms {flops / ms / 1e6:9.1f} GFLOP/s")


if __name__ == "__main__":
    main()
