#!/usr/bin/env python3
"""PyTorch reference for benchmarks/transform_benchmark: the same Johnson style transformation
network (random weights; reflection padding, instance norm, 127.5 * tanh + 127.5 clamped to
[0, 255]) at the same sizes, batch 1, and the same training step (transform net forward/backward,
VGG-16 to relu4_3 forward/backward, feature + style + TV losses, Adam; batch 4 at 256x256), in
the variants eager_fp32 (TF32 off: the arithmetic of our fp32 rows), eager_tf32 (our tf32 rows;
PyTorch's default for convolutions), eager_amp_cl (bfloat16 autocast, channels-last) and, where
torch.compile works, compile_fp32 and compile_amp_cl. Prints rows in transform_benchmark's
format; --peaks adds the measured GEMM rates that the physical floor uses; --table joins the two
programs' outputs into the comparison table (scripts/device_check.sh). Used only to compare;
never a dependency of the library."""
import argparse
import math
import re
import statistics
import sys
import time

# ---- FLOP counts (convolutions only: 2 * K^2 * C_in * C_out per output pixel; a transposed
# convolution counts per input pixel). Norms, pointwise layers and Grams are < 1% and left out.


def transform_convs(h, w):
    """(k, c_in, c_out, pixels) of each convolution of the style net on an h x w input."""
    def half(n):
        return (n + 1) // 2
    h2, w2, h4, w4 = half(h), half(w), half(half(h)), half(half(w))
    convs = [(9, 3, 32, h * w), (3, 32, 64, h2 * w2), (3, 64, 128, h4 * w4)]
    convs += [(3, 128, 128, h4 * w4)] * 10
    convs += [(3, 128, 64, h4 * w4), (3, 64, 32, 2 * h4 * 2 * w4)]  # transposed: per input pixel
    convs += [(9, 32, 3, 4 * h4 * 4 * w4)]
    return convs


def vgg16_relu4_3_convs(h, w):
    convs, channels = [], [(3, 64), (64, 64), None, (64, 128), (128, 128), None, (128, 256), (256, 256),
                           (256, 256), None, (256, 512), (512, 512), (512, 512)]
    for c in channels:
        if c is None:
            h, w = h // 2, w // 2
        else:
            convs.append((3, c[0], c[1], h * w))
    return convs


def flops(convs):
    return sum(2 * k * k * ci * co * p for k, ci, co, p in convs)


def stylize_flops(h, w):
    return flops(transform_convs(h, w))


def train_flops(batch, h, w):
    """Transform net forward + backward (data and filter: 2x forward); VGG forward on the input
    (content target) and on the output, and backward-data on the output (frozen: 1x forward)."""
    return batch * (3 * flops(transform_convs(h, w)) + 3 * flops(vgg16_relu4_3_convs(h, w)))


# ---- the networks


def build(torch, nn):
    class ConvLayer(nn.Sequential):
        def __init__(self, cin, cout, k, stride=1):
            super().__init__(nn.ReflectionPad2d(k // 2), nn.Conv2d(cin, cout, k, stride))

    class Residual(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.body = nn.Sequential(ConvLayer(c, c, 3), nn.InstanceNorm2d(c, affine=True), nn.ReLU(),
                                      ConvLayer(c, c, 3), nn.InstanceNorm2d(c, affine=True))

        def forward(self, x):
            return x + self.body(x)

    class ScaledTanh(nn.Module):
        def forward(self, x):
            return (127.5 * torch.tanh(x) + 127.5).clamp(0, 255)

    def norm_relu(c):
        return [nn.InstanceNorm2d(c, affine=True), nn.ReLU()]

    def style_net():
        return nn.Sequential(
            ConvLayer(3, 32, 9), *norm_relu(32), ConvLayer(32, 64, 3, 2), *norm_relu(64),
            ConvLayer(64, 128, 3, 2), *norm_relu(128), *[Residual(128) for _ in range(5)],
            nn.ConvTranspose2d(128, 64, 3, 2, padding=1, output_padding=1), *norm_relu(64),
            nn.ConvTranspose2d(64, 32, 3, 2, padding=1, output_padding=1), *norm_relu(32),
            ConvLayer(32, 3, 9), ScaledTanh())

    class Vgg16(nn.Module):
        """VGG-16 to relu4_3, returning relu1_2, relu2_2, relu3_3, relu4_3; frozen."""
        def __init__(self):
            super().__init__()
            layers, self.taps = [], []
            for c in [(3, 64), (64, 64), "tap", "M", (64, 128), (128, 128), "tap", "M", (128, 256), (256, 256),
                      (256, 256), "tap", "M", (256, 512), (512, 512), (512, 512), "tap"]:
                if c == "tap":
                    self.taps.append(len(layers) - 1)
                elif c == "M":
                    layers.append(nn.MaxPool2d(2))
                else:
                    layers += [nn.Conv2d(c[0], c[1], 3, padding=1), nn.ReLU()]
            self.layers = nn.Sequential(*layers)
            self.register_buffer("mean", torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1))
            for p in self.parameters():
                p.requires_grad_(False)

        def forward(self, x):
            h, out = (x - self.mean) / self.std, []
            for i, layer in enumerate(self.layers):
                h = layer(h)
                if i in self.taps:
                    out.append(h)
            return out

    return style_net, Vgg16


# ---- timing


def median_ms(torch, fn, device, warmup, iterations):
    for _ in range(warmup):
        fn()
    times = []
    if device == "cuda":
        torch.cuda.synchronize()
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        for _ in range(iterations):
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
    else:
        for _ in range(iterations):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def row(variant, task, h, w, batch, ms):
    print(f"{'pytorch':<11} {variant:<13} {task:<8} {h:4d}x{w:<5d} {batch:5d} {ms:11.3f} {1000 * batch / ms:12.1f}",
          flush=True)


VARIANTS = ["eager_fp32", "eager_tf32", "eager_amp_cl", "compile_fp32", "compile_amp_cl"]


def run_variant(torch, variant, args, device, style_net, Vgg16):
    import contextlib
    nn = torch.nn
    amp = variant.endswith("amp_cl")
    tf32 = variant == "eager_tf32"
    if device == "cuda":
        torch.backends.cudnn.benchmark = True  # timed algorithm choice, as ConvSearch::measured
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
    fmt = torch.channels_last if amp else torch.contiguous_format

    def autocast():
        return torch.autocast(device_type=device, dtype=torch.bfloat16) if amp else contextlib.nullcontext()

    def maybe_compile(module):
        return torch.compile(module) if variant.startswith("compile") else module

    torch.manual_seed(1)
    if not args.no_stylize:
        net = style_net().to(device, memory_format=fmt).eval()
        fwd = maybe_compile(net)
        for h, w in args.sizes:
            x = (torch.rand(1, 3, h, w, device=device) * 255).contiguous(memory_format=fmt)

            def stylize():
                with torch.inference_mode(), autocast():
                    fwd(x)
            row(variant, "stylize", h, w, 1, median_ms(torch, stylize, device, args.warmup, args.iterations))

    if not args.no_train:
        s, batch = args.train_size, args.train_batch
        net = style_net().to(device, memory_format=fmt).train()
        vgg = Vgg16().to(device, memory_format=fmt)
        for p in vgg.parameters():  # He-uniform, as transform_benchmark's random VGG
            bound = math.sqrt(6 / p[0].numel()) if p.dim() > 1 else 0.1
            with torch.no_grad():
                p.uniform_(-bound, bound)
        net_f, vgg_f = maybe_compile(net), maybe_compile(vgg)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        x = (torch.rand(batch, 3, s, s, device=device) * 255).contiguous(memory_format=fmt)

        def gram(f):
            n, c, hh, ww = f.shape
            f = f.reshape(n, c, hh * ww)
            return f @ f.transpose(1, 2) / (c * hh * ww)

        with torch.no_grad(), autocast():
            style_grams = [gram(f) for f in vgg_f(torch.rand(1, 3, s, s, device=device) * 255)]

        def step():
            opt.zero_grad(set_to_none=True)
            with autocast():
                y = net_f(x)
                with torch.no_grad():
                    content_target = vgg_f(x)[1]
                f = vgg_f(y)
                loss = nn.functional.mse_loss(f[1], content_target)
                for fi, g in zip(f, style_grams):
                    loss = loss + 5.0 * ((gram(fi) - g) ** 2).sum() / batch
                tv = ((y[:, :, 1:, :] - y[:, :, :-1, :]) ** 2).sum() + ((y[:, :, :, 1:] - y[:, :, :, :-1]) ** 2).sum()
                loss = loss + 1e-6 * tv / batch
            loss.backward()
            opt.step()
        row(variant, "train", s, s, batch, median_ms(torch, step, device, args.warmup, args.train_iterations))

    if args.gatys_size and variant in ("eager_fp32", "eager_tf32"):
        run_gatys(torch, variant, args, device, Vgg16)


def run_gatys(torch, variant, args, device, Vgg16):
    """transform_benchmark's Gatys row: the training step's objective on one SxS image from white
    noise, minimised by torch.optim.LBFGS (history 10, no line search, as Johnson's Torch code; one
    iteration and one evaluation per step()), projected to [0, 255] after each; the row is the time
    per L-BFGS iteration."""
    s, n = args.gatys_size, args.gatys_iterations
    vgg = Vgg16().to(device)
    for p in vgg.parameters():
        bound = math.sqrt(6 / p[0].numel()) if p.dim() > 1 else 0.1
        with torch.no_grad():
            p.uniform_(-bound, bound)

    def gram(f):
        _, c, hh, ww = f.shape
        f = f.reshape(c, hh * ww)
        return f @ f.t() / (c * hh * ww)

    with torch.no_grad():
        content_target = vgg(torch.rand(1, 3, s, s, device=device) * 255)[1]
        style_grams = [gram(f) for f in vgg(torch.rand(1, 3, s, s, device=device) * 255)]
    evaluations = [0]

    def run():
        y = (torch.randn(1, 3, s, s, device=device) * 32 + 127.5).clamp(0, 255).requires_grad_(True)
        opt = torch.optim.LBFGS([y], lr=1, max_iter=1, history_size=10)  # one iteration per step()

        def closure():
            evaluations[0] += 1
            opt.zero_grad()
            f = vgg(y)
            loss = torch.nn.functional.mse_loss(f[1], content_target)
            for fi, g in zip(f, style_grams):
                loss = loss + 5.0 * ((gram(fi) - g) ** 2).sum()
            loss = loss + 1e-6 * (((y[:, :, 1:, :] - y[:, :, :-1, :]) ** 2).sum() +
                                  ((y[:, :, :, 1:] - y[:, :, :, :-1]) ** 2).sum())
            loss.backward()
            return loss
        for _ in range(n):
            opt.step(closure)
            with torch.no_grad():
                y.clamp_(0, 255)
    ms = median_ms(torch, run, device, args.warmup, args.train_iterations)
    runs = args.warmup + args.train_iterations
    print(f"# gatys: {evaluations[0] / runs:.1f} objective evaluations per run of {n} L-BFGS iterations", flush=True)
    row(variant, "gatys", s, s, 1, ms / n)


def peaks(torch, device, n):
    """Measured dense GEMM rates in TFLOP/s: the ceilings of the physical floor."""
    out = {}
    for name, dtype, tf32 in [("bf16", torch.bfloat16, False), ("fp32", torch.float32, False),
                              ("tf32", torch.float32, True)]:
        if device == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = tf32
        elif name != "fp32":
            continue
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        ms = median_ms(torch, lambda: a @ b, device, 3, 10)
        out[name] = 2 * n ** 3 / ms / 1e9
        print(f"# peak {name} {out[name]:.1f} TFLOP/s (GEMM {n}^3)", flush=True)
    return out


# ---- the table


def parse_rows(path):
    rows, peak = {}, {}
    with open(path) as f:
        for line in f:
            m = re.match(r"# peak (\w+) ([\d.]+) TFLOP/s", line)
            if m:
                peak[m.group(1)] = float(m.group(2))
                continue
            parts = line.split()
            if len(parts) == 7 and parts[0] in ("perceptual", "pytorch"):
                impl, variant, task, size, batch, ms, _ = parts
                rows[(impl, variant, task, size, int(batch))] = float(ms)
    return rows, peak


def table(paths):
    rows, peak = {}, {}
    for p in paths:
        r, k = parse_rows(p)
        rows.update(r)
        peak.update(k)
    def pixels(size):
        h, w = size.split("x")
        return int(h) * int(w)
    keys = sorted({(t, s, b) for (_, _, t, s, b) in rows}, key=lambda k: (k[0] != "stylize", k[2], pixels(k[1])))
    print("| task | size | batch | precision | ours ms | PyTorch ms (variant) | ours / PyTorch | "
          "ours / each PyTorch variant | floor ms (FLOPs / peak) | ours / floor |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for task, size, batch in keys:
        h, w = (int(v) for v in size.split("x"))
        work = stylize_flops(h, w) * batch if task == "stylize" else train_flops(batch, h, w)
        for ours_variant, theirs, peak_name in [("fp32", ["eager_fp32", "compile_fp32"], "fp32"),
                                                ("tf32", ["eager_tf32"], "tf32"),
                                                ("bf16", ["eager_amp_cl", "compile_amp_cl"], "bf16")]:
            ours = rows.get(("perceptual", ours_variant, task, size, batch))
            found = {v: rows[("pytorch", v, task, size, batch)] for v in theirs
                     if ("pytorch", v, task, size, batch) in rows}
            if ours is None and not found:
                continue
            best = min(found, key=found.get) if found else None
            floor = work / (peak[peak_name] * 1e9) if peak_name in peak else None

            def fmt(v, spec=".3f"):
                return "-" if v is None else format(v, spec)
            each = ", ".join(f"{v} {ours / ms:.2f}" for v, ms in found.items()) if ours else "-"
            print(f"| {task} | {size} | {batch} | {ours_variant} | {fmt(ours)} | "
                  f"{fmt(found.get(best))} ({best or '-'}) | "
                  f"{fmt(ours / found[best] if ours and best else None, '.2f')} | {each} | "
                  f"{fmt(floor)} ({work / 1e9:.1f} GFLOP / {fmt(peak.get(peak_name), '.1f')} TFLOP/s) | "
                  f"{fmt(ours / floor if ours and floor else None, '.1f')} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256x256,512x512,1024x1024,1080x1920", help="HxW,... (stylisation)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated subset of " + ", ".join(VARIANTS))
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--train-iterations", type=int, default=20)
    parser.add_argument("--train-size", type=int, default=256)
    parser.add_argument("--train-batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's)")
    parser.add_argument("--no-stylize", action="store_true")
    parser.add_argument("--no-train", action="store_true")
    parser.add_argument("--gatys-size", type=int, default=0, metavar="S",
                        help="also the Gatys baseline at SxS: ms per L-BFGS iteration (eager variants)")
    parser.add_argument("--gatys-iterations", type=int, default=5, metavar="N",
                        help="L-BFGS iterations per timed run (default 5)")
    parser.add_argument("--peaks", type=int, default=0, metavar="N", help="also measure N^3 GEMM rates (8192)")
    parser.add_argument("--table", nargs="+", metavar="FILE", help="print the comparison table of these outputs")
    args = parser.parse_args()
    if args.table:
        table(args.table)
        return
    args.sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",") if s]

    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(f"# torch_transform_reference: PyTorch {torch.__version__}, {name}; median of {args.iterations} "
          f"(training: {args.train_iterations}) after {args.warmup} warm-up")
    print(f"{'impl':<11} {'variant':<13} {'task':<8} {'size':<10} {'batch':>5} {'median_ms':>11} {'images_per_s':>12}")
    if args.peaks:
        peaks(torch, device, args.peaks)
    style_net, Vgg16 = build(torch, torch.nn)
    for variant in [v for v in args.variants.split(",") if v]:
        if variant not in VARIANTS:
            sys.exit(f"torch_transform_reference: unknown variant {variant}")
        if variant == "eager_tf32" and device != "cuda":
            print(f"# {variant}: skipped, TF32 exists on CUDA devices only", flush=True)
            continue
        if variant.startswith("compile") and not hasattr(torch, "compile"):
            print(f"# {variant}: skipped, torch.compile is absent in PyTorch {torch.__version__}", flush=True)
            continue
        try:
            run_variant(torch, variant, args, device, style_net, Vgg16)
        except Exception as e:  # a backend that fails here (torch.compile without a compiler) skips
            print(f"# {variant}: failed, {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                  flush=True)


if __name__ == "__main__":
    main()
