// The CPU convolution's routes side by side, per convolution of the style transformation network
// (nets/transform.hpp) and of VGG-16 to relu4_3 (nets/vgg.hpp), per op: im2col + OpenBLAS, oneDNN
// on NCHW, and oneDNN in its own blocked layouts with reorders in and out. Each route is the code
// conv2d_forward & co. run (cpu::detail::conv2d_*, route given); conv_route's rule is read off this
// table (benchmarks/README.md).
#include <cblas.h>
#include <omp.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/conv.hpp"
#include "perceptual/core/random.hpp"
#include "perceptual/layers/conv.hpp"

using namespace perceptual;
using namespace perceptual::cpu;

namespace {

// Median wall times in seconds of each of fs, after one untimed run of each that builds caches,
// plans and threads. The runs go round-robin (f0, f1, f2, f0, ...), so that load from elsewhere on
// a shared machine falls on every route alike. max_reps rounds, or as many as fit in about three
// seconds but at least 3, so that a 1080p 9x9 cell on a slow route does not take minutes.
std::vector<double> median_seconds(int max_reps, const std::vector<std::function<void()>>& fs) {
  const auto time = [](const std::function<void()>& f) {
    const auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  double round = 0;
  for (const auto& f : fs) round += time(f);
  const int reps = std::clamp(static_cast<int>(3.0 / round), std::min(3, max_reps), max_reps);
  std::vector<std::vector<double>> t(fs.size(), std::vector<double>(reps));
  for (int i = 0; i < reps; ++i)
    for (std::size_t j = 0; j < fs.size(); ++j) t[j][i] = time(fs[j]);
  std::vector<double> medians;
  for (auto& v : t) {
    std::nth_element(v.begin(), v.begin() + reps / 2, v.end());
    medians.push_back(v[reps / 2]);
  }
  return medians;
}

struct Shape {
  std::string set, name;
  ConvGeometry g;
};

// The convolution `Layer` runs on a batch of n inputs of size `in`, as the networks run it.
template <class Layer>
Shape shape(const std::string& set, const char* name, int n, Size2 in) {
  return {set, name, Layer::geometry(in, n)};
}

std::vector<Shape> transform_shapes(const std::string& set, int n, int h, int w) {
  using layers::Conv2d, layers::ConvTranspose2d, layers::Reflect, layers::Stride;
  return {shape<Conv2d<3, 32, 9, Reflect>>(set, "conv1 9x9 3->32", n, {h, w}),
          shape<Conv2d<32, 64, 3, Reflect, Stride<2>>>(set, "conv2 3x3 s2 32->64", n, {h, w}),
          shape<Conv2d<64, 128, 3, Reflect, Stride<2>>>(set, "conv3 3x3 s2 64->128", n, {h / 2, w / 2}),
          shape<Conv2d<128, 128, 3, Reflect>>(set, "res 3x3 128->128", n, {h / 4, w / 4}),
          shape<ConvTranspose2d<128, 64, 3, Stride<2>>>(set, "deconv1 3x3 s2 128->64", n, {h / 4, w / 4}),
          shape<ConvTranspose2d<64, 32, 3, Stride<2>>>(set, "deconv2 3x3 s2 64->32", n, {h / 2, w / 2}),
          shape<Conv2d<32, 3, 9, Reflect>>(set, "conv_out 9x9 32->3", n, {h, w})};
}

std::vector<Shape> vgg16_shapes(const std::string& set, int n, int s) {
  using layers::Conv2d;
  return {shape<Conv2d<3, 64, 3>>(set, "conv1_1 3->64", n, {s, s}),
          shape<Conv2d<64, 64, 3>>(set, "conv1_2 64->64", n, {s, s}),
          shape<Conv2d<64, 128, 3>>(set, "conv2_1 64->128", n, {s / 2, s / 2}),
          shape<Conv2d<128, 128, 3>>(set, "conv2_2 128->128", n, {s / 2, s / 2}),
          shape<Conv2d<128, 256, 3>>(set, "conv3_1 128->256", n, {s / 4, s / 4}),
          shape<Conv2d<256, 256, 3>>(set, "conv3_2/3 256->256", n, {s / 4, s / 4}),
          shape<Conv2d<256, 512, 3>>(set, "conv4_1 256->512", n, {s / 8, s / 8}),
          shape<Conv2d<512, 512, 3>>(set, "conv4_2/3 512->512", n, {s / 8, s / 8})};
}

const char* op_name(ConvOp op) {
  return op == ConvOp::forward ? "forward" : op == ConvOp::backward_data ? "backward-data" : "backward-filter";
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 9;
  std::string only;
  CLI::App cli{
      "Milliseconds per float convolution, per op and route (im2col + OpenBLAS; oneDNN on NCHW; oneDNN in its "
      "blocked layouts with reorders), for the style network at 256x256 batch 1 and 4 and at 1920x1080 batch 1, "
      "and VGG-16 to relu4_3 at 256x256 batch 4. Each cell: the median of --reps runs, or of as many as fit in "
      "about 3 s but at least 3, after one untimed run; the three routes run in turn."};
  cli.add_option("--reps", reps, "timed runs per cell at most")->capture_default_str()->check(CLI::Range(1, 100000));
  cli.add_option("--only", only, "only the rows whose set starts with this (transform, vgg16)");
  CLI11_PARSE(cli, argc, argv);

  std::vector<Shape> shapes;
  for (auto set :
       {transform_shapes("transform 256x256 n1", 1, 256, 256), transform_shapes("transform 256x256 n4", 4, 256, 256),
        transform_shapes("transform 1080x1920 n1", 1, 1080, 1920), vgg16_shapes("vgg16 256x256 n4", 4, 256)})
    for (auto& s : set)
      if (s.set.starts_with(only)) shapes.push_back(s);

  std::printf("OpenBLAS threads %d (%s), OpenMP threads %d (oneDNN), medians of 3 to %d runs\n\n",
              openblas_get_num_threads(),
              openblas_get_parallel() == 2   ? "OpenMP"
              : openblas_get_parallel() == 1 ? "pthreads"
                                             : "serial",
              omp_get_max_threads(), reps);
  std::printf("| shape | op | im2col ms | oneDNN nchw ms | oneDNN blocked ms | fastest | im2col / fastest oneDNN |\n");
  std::printf("| --- | --- | ---: | ---: | ---: | --- | ---: |\n");
  std::mt19937_64 rng(42);
  for (const Shape& s : shapes) {
    const ConvGeometry& g = s.g;
    const auto x = random_tensor(g.input_shape(), rng);
    const auto w = random_tensor(g.filter_shape(), rng);
    const auto dy = random_tensor(g.output_shape(), rng);
    for (ConvOp op : {ConvOp::forward, ConvOp::backward_data, ConvOp::backward_filter}) {
      const ConvRoute routes[3] = {ConvRoute::im2col, ConvRoute::onednn_nchw, ConvRoute::onednn_blocked};
      std::vector<std::function<void()>> runs;
      for (ConvRoute route : routes)
        runs.push_back([&, route] {
          if (op == ConvOp::forward) cpu::detail::conv2d_forward(x, w, nullptr, g, route);
          if (op == ConvOp::backward_data) cpu::detail::conv2d_backward_data(dy, w, g, route);
          if (op == ConvOp::backward_filter) cpu::detail::conv2d_backward_filter(x, dy, g, route);
        });
      const std::vector<double> seconds = median_seconds(reps, runs);
      double ms[3];
      for (int r = 0; r < 3; ++r) ms[r] = 1e3 * seconds[r];
      const int best = static_cast<int>(std::min_element(ms, ms + 3) - ms);
      const char* names[3] = {"im2col", "oneDNN nchw", "oneDNN blocked"};
      std::printf("| %s: %s | %s | %.2f | %.2f | %.2f | %s | %.2fx |\n", s.set.c_str(), s.name.c_str(), op_name(op),
                  ms[0], ms[1], ms[2], names[best], ms[0] / std::min(ms[1], ms[2]));
      std::fflush(stdout);
    }
  }
  return 0;
}
