// GFLOP/s of the CPU convolution (on the route conv_route picks: oneDNN for float) against the
// machine's own SGEMM rate, measured in the same run. conv_route_benchmark compares the routes.
// Layer: 3x3 conv, 128 -> 128 channels, zero pad 1, stride 1, with bias, on 1x128x64x64 floats.
#include <cblas.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "perceptual/app/timing.hpp"
#include "perceptual/backend/cpu/conv.hpp"
#include "perceptual/core/random.hpp"
#include "perceptual/layers/conv.hpp"

using namespace perceptual;
using namespace perceptual::cpu;

namespace {

constexpr int n = 1, c = 128, o = 128, k = 3, h = 64, w = 64;

struct Row {
  std::string name;
  double flops, seconds;
};

}  // namespace

int main(int argc, char** argv) {
  int reps = 20;
  CLI::App cli{
      "GFLOP/s of a 3x3 128->128 convolution (zero pad 1, stride 1, bias) on a 1x128x64x64 float input, forward, "
      "backward-data and backward-filter, next to this machine's SGEMM rate (1024^3 and the conv-shaped "
      "128x4096x1152). Each figure is the median of --reps timed runs after 2 warm-ups."};
  cli.add_option("--reps", reps, "timed runs per figure")->capture_default_str()->check(CLI::Range(1, 100000));
  CLI11_PARSE(cli, argc, argv);
  const auto median_seconds = [&](const std::function<void()>& f) { return app::median_seconds(2, reps, f); };

  std::mt19937_64 rng(42);
  const auto x = random_tensor({n, c, h, w}, rng);
  const auto weight = random_tensor({o, c, k, k}, rng);
  const auto bias = random_tensor({1, o, 1, 1}, rng);
  const auto dy = random_tensor({n, o, h, w}, rng);
  const double conv_flops = 2.0 * n * o * c * k * k * h * w;
  const ConvGeometry geometry = layers::Conv2d<c, o, k>::geometry({h, w}, n);

  std::vector<Row> rows;
  {
    const int m = 1024;
    std::vector<float> a(m * m, 1.0f), b(m * m, 0.5f), out(m * m);
    rows.push_back({"sgemm 1024x1024x1024", 2.0 * m * m * m, median_seconds([&] {
                      gemm(false, false, m, m, m, 1.0f, a.data(), m, b.data(), m, 0.0f, out.data(), m);
                    })});
  }
  {
    // The forward pass's GEMM alone: weight (o x c*k*k) times the im2col matrix (c*k*k x h*w).
    const int kk = c * k * k, cols = h * w;
    std::vector<float> col(static_cast<std::size_t>(kk) * cols, 0.25f), out(static_cast<std::size_t>(o) * cols);
    rows.push_back({"sgemm 128x4096x1152 (conv)", 2.0 * o * cols * kk, median_seconds([&] {
                      gemm(false, false, o, cols, kk, 1.0f, weight.data(), kk, col.data(), cols, 0.0f, out.data(),
                           cols);
                    })});
  }
  rows.push_back({"conv forward (+bias)", conv_flops, median_seconds([&] {
                    auto y = conv2d_forward(x, weight, geometry);
                    add_bias(y, bias);
                  })});
  rows.push_back(
      {"conv backward-data", conv_flops, median_seconds([&] { conv2d_backward_data(dy, weight, geometry); })});
  rows.push_back({"conv backward-filter (+bias)", conv_flops, median_seconds([&] {
                    conv2d_backward_filter(x, dy, geometry);
                    bias_backward(dy);
                  })});

  const double peak = rows[0].flops / rows[0].seconds;
  std::printf("3x3 conv 128->128, input %dx%dx%dx%d float, OpenBLAS threads %d, median of %d\n\n", n, c, h, w,
              openblas_get_num_threads(), reps);
  std::printf("%-30s %10s %10s %14s\n", "operation", "ms", "GFLOP/s", "of sgemm 1024");
  for (const Row& r : rows) {
    const double rate = r.flops / r.seconds;
    std::printf("%-30s %10.3f %10.1f %13.0f%%\n", r.name.c_str(), r.seconds * 1e3, rate * 1e-9, 100 * rate / peak);
  }
  return 0;
}
