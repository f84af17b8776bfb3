#pragma once
// What the style-transfer benchmarks (speed_table, objective) share: the Gatys baseline run as
// Johnson et al. run it (sec. 4.1: white noise, projected L-BFGS on eq. 5), the feed-forward
// network read from a train_style file, square test images, and a median timer.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/core/strings.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/io/safetensors.hpp"
#include "perceptual/losses/objective.hpp"
#include "perceptual/nets/transform.hpp"
#include "perceptual/optim/lbfgs.hpp"
#include "perceptual/train/data.hpp"

namespace perceptual::bench {

using Clock = std::chrono::steady_clock;

// What one backend's build of a benchmark program brings: its name in messages ("speed_table_cuda");
// `start`, called once the options are parsed (so --help works anywhere), which throws Error when
// the backend cannot run (no device) and otherwise names it for the output ("cpu (OpenBLAS, 2
// threads)"); and `synchronize`, which waits for the device's work (nothing on the CPU).
struct BenchBackend {
  std::string program;
  std::function<std::string()> start;
  std::function<void()> synchronize;
};

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Median wall time of `reps` calls of f after `warmup` calls (caches, allocator, BLAS threads);
// f must wait for its own work (a device backend synchronises inside it).
inline double median_seconds(int warmup, int reps, const std::function<void()>& f) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t(static_cast<std::size_t>(std::max(1, reps)));
  for (auto& s : t) {
    const auto start = Clock::now();
    f();
    s = seconds_since(start);
  }
  std::sort(t.begin(), t.end());
  const std::size_t n = t.size();
  return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

// A smooth deterministic 1x3xHxW test image in [0, 255] (for timings without image files).
inline Tensor<float, Cpu> synthetic_image(int h, int w, int variant) {
  Tensor<float, Cpu> x({1, 3, h, w});
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < w; ++j)
        x.data()[(static_cast<std::size_t>(c) * h + i) * w + j] = static_cast<float>(
            127.5 + 100 * std::sin((i + 7.0 * variant) / (9.0 + 2 * c)) * std::cos((j - 5.0 * variant) / (13.0 - c)));
  return x;
}

// The image at `path` as 1x3xSxS (shorter side scaled to S, centre crop: the training protocol),
// or the synthetic image `variant` when path is empty.
inline Tensor<float, Cpu> square_image(const std::string& path, int size, int variant) {
  return path.empty() ? synthetic_image(size, size, variant) : train::load_square_image(path, size);
}

// Calls f(std::type_identity<Net>{}) with the StyleTransformNet a model file holds (batch norm
// when it has running statistics, instance norm otherwise; random weights for an empty path).
template <class F>
decltype(auto) with_style_net(const std::string& model, F&& f) {
  if (!model.empty() && io::SafetensorsFile(model).has("conv1.norm.running_mean"))
    return f(std::type_identity<nets::StyleTransformNet<nets::BatchNormDefault>>{});
  return f(std::type_identity<nets::StyleTransformNet<>>{});
}

// A StyleTransformNet in eval mode: the file's weights, or drawn from `seed` for an empty path.
template <class Net, class B>
void load_style_net(Model<Net, B, float>& net, const std::string& model, std::uint64_t seed) {
  if (model.empty())
    net.initialize(seed);
  else
    io::load_parameters(net, model, {.context = "a StyleTransformNet (train_style output)"});
  net.eval();
}

struct GatysProgress {
  int iteration = 0;             // L-BFGS iterations taken (0: the starting point)
  double value = 0;              // eq. 5 at the current image
  losses::ObjectiveTerms terms;  // its terms
  double seconds = 0;            // since run_gatys was called, targets included
  int evaluations = 0;           // objective evaluations (forward and backward) so far
};

struct GatysRun {
  optim::LbfgsResult lbfgs;
  bool stopped_by_callback = false;  // on_iteration returned false
};

// The baseline as Johnson et al. sec. 4.1 run it: y starts as white noise (noise_seed) and eq. 5
// is minimised by L-BFGS projected onto [0, 255] for up to max_iterations. The content and style
// targets are set inside, so the times are end to end. After each iteration (and at 0),
// on_iteration(progress) is called; returning false stops the run there. Leaves the image in y.
template <class VggNet, class B>
GatysRun run_gatys(losses::StyleObjective<VggNet, B, float>& objective, const Tensor<float, B>& content,
                   const Tensor<float, B>& style, std::uint64_t noise_seed, int max_iterations, Tensor<float, B>& y,
                   const std::function<bool(const GatysProgress&)>& on_iteration) {
  struct Stop {};
  const auto start = Clock::now();
  objective.set_content(content);
  objective.set_style(style);
  y = losses::white_noise_image<float, B>(content.shape(), noise_seed);

  optim::LbfgsOptions lo;
  lo.max_iterations = max_iterations;
  lo.lower = 0;
  lo.upper = 255;
  losses::ObjectiveTerms last;  // backtracking accepts the last point evaluated: these are its terms
  int evaluations = 0;
  const auto f = [&](const Tensor<float, B>& x, Tensor<float, B>& grad) {
    ++evaluations;
    auto r = objective.evaluate(x);
    grad = std::move(r.grad);
    last = r.terms;
    return last.total;
  };
  lo.callback = [&](int iteration, double value) {
    if (!on_iteration({iteration, value, last, seconds_since(start), evaluations})) throw Stop{};
  };
  GatysRun run;
  try {
    run.lbfgs = optim::minimize(y, f, lo);
  } catch (const Stop&) {
    run.stopped_by_callback = true;
  }
  return run;
}

}  // namespace perceptual::bench
