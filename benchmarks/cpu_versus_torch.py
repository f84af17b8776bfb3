#!/usr/bin/env python3
"""Our CPU backend against PyTorch's CPU backend, side by side in one run, with the same thread
count: stylisation at 256x256, 512x512, 1024x1024 and 1080x1920 (batch 1), the training step
(transform net + VGG-16 to relu4_3 + losses + Adam, batch 4 at 256x256) and one Gatys L-BFGS
iteration at 512x512. Each row runs in its own process on each side, ours first, so that its peak
resident memory is the row's own (the kernel's ru_maxrss of that process, the figure
/usr/bin/time -v prints as "Maximum resident set size"). Prints a Markdown table: both medians,
PyTorch's over ours (above 1: we are faster), both peak RSS and ours over PyTorch's (below 1: we
use less), and for the stylisation rows the peak our memory formula predicts (benchmarks/README.md).

    /usr/bin/python3 benchmarks/cpu_versus_torch.py --build build --threads 2

Ours is build/benchmarks/transform_benchmark_cpu; PyTorch's is torch_transform_reference.py (eager
float32). PyTorch is only compared against, never a dependency of the library."""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# (label, arguments common to both programs, timed runs)
ROWS = [
    ("stylise 256x256", ["--sizes", "256x256", "--no-train"], 10),
    ("stylise 512x512", ["--sizes", "512x512", "--no-train"], 5),
    ("stylise 1024x1024", ["--sizes", "1024x1024", "--no-train"], 5),
    ("stylise 1920x1080", ["--sizes", "1080x1920", "--no-train"], 5),
    ("training step, batch 4, 256x256", ["--no-stylize", "--train-size", "256", "--train-batch", "4"], 3),
    ("Gatys L-BFGS iteration, 512x512", ["--no-stylize", "--no-train", "--gatys-size", "512", "--gatys-iterations",
                                         "3"], 3),
]


def stylise_formula_bytes(h, w):
    """(low, high) of our stylisation's peak memory beyond the process's base, in bytes. The peak
    is at conv2 (3x3, stride 2, 32 -> 64 channels, on oneDNN's blocked route), where these 4-byte
    float tensors are alive at once: the reflection-padded copy of the full-size 32-channel ReLU
    output (128 bytes a pixel; the output itself is freed once padded) and oneDNN's blocked copy of
    that (128), conv2's 64-channel output at a quarter of the pixels in the blocked layout and in
    NCHW (64 + 64), and the 3-channel input (12): 396 bytes a pixel (the first transposed
    convolution needs as much: its 64-channel input and blocked copy, 64 + 64, and its 32-channel
    output blocked and in NCHW, 128 + 128). High: HostPool may serve a 64-byte-a-pixel output from
    a freed block twice its size (best fit), 128 bytes a pixel more, plus 8 MiB that does not grow
    with the image (the weights, 6.7 MB, and oneDNN's kernels)."""
    return 396 * h * w, 524 * h * w + (8 << 20)


def run_measured(command, env):
    """(median ms of the one timing row, peak RSS in bytes) of `command` in its own process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, env=env, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # reaped here, so that its rusage is its own
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"cpu_versus_torch: {' '.join(command)} failed:\n{stderr}")
    ms = [float(line.split()[5]) for line in stdout.splitlines()
          if len(line.split()) == 7 and line.split()[0] in ("perceptual", "pytorch")]
    if not ms:
        sys.exit(f"cpu_versus_torch: no timing row from {' '.join(command)}:\n{stdout}{stderr}")
    return ms[0], usage.ru_maxrss * 1024  # KiB on Linux


def mb(b):
    return f"{b / 1e6:.0f} MB"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build", help="the CMake build folder (default build)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for both (default: all)")
    parser.add_argument("--rows", default="", help="comma-separated row numbers to run (default all, 1-based)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed runs first (default 2: our first two passes build oneDNN's kernels and "
                             "settle HostPool's blocks)")
    parser.add_argument("--python", default="/usr/bin/python3", help="the Python that has PyTorch")
    args = parser.parse_args()

    ours_program = os.path.join(args.build, "benchmarks", "transform_benchmark_cpu")
    if not os.access(ours_program, os.X_OK):
        sys.exit(f"cpu_versus_torch: {ours_program} is missing: build the target transform_benchmark_cpu first")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads))
    wanted = {int(r) for r in args.rows.split(",") if r} or set(range(1, len(ROWS) + 1))

    _, base = run_measured([ours_program, "--sizes", "16x16", "--no-train", "--iterations", "1", "--warmup",
                                  "1"], env)
    print(f"# cpu_versus_torch: {args.threads} threads each, warm-up {args.warmup}, each row in its own process; "
          f"our process's base (16x16 stylisation): {mb(base)}")
    print("| row | ours ms | PyTorch ms | PyTorch / ours | ours peak RSS | PyTorch peak RSS | ours / PyTorch RSS | "
          "formula |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for i, (label, common, iterations) in enumerate(ROWS, 1):
        if i not in wanted:
            continue
        counts = ["--iterations", str(iterations), "--train-iterations", str(iterations), "--warmup", str(args.warmup)]
        ours_ms, ours_rss = run_measured([ours_program] + common + counts, env)
        torch_ms, torch_rss = run_measured(
            [args.python, os.path.join(HERE, "torch_transform_reference.py"), "--device", "cpu", "--threads",
             str(args.threads), "--variants", "eager_fp32"] + common + counts, env)
        formula = "-"  # base + 396 (to 524 bytes a pixel + 8 MiB), stylisation only
        if label.startswith("stylise"):
            w, h = (int(v) for v in label.split()[1].split("x"))
            low, high = stylise_formula_bytes(h, w)
            formula = f"{mb(base + low)} to {mb(base + high)}"
        print(f"| {label} | {ours_ms:.1f} | {torch_ms:.1f} | {torch_ms / ours_ms:.2f} | {mb(ours_rss)} | "
              f"{mb(torch_rss)} | {ours_rss / torch_rss:.2f} | {formula} |", flush=True)


if __name__ == "__main__":
    main()
