#pragma once
// The Gatys et al. baseline as the gatys program runs it and as Johnson et al. time it (sec. 4.1,
// Table 1, figure 5): the image that minimises eq. 5, from white noise (or the content image), by
// L-BFGS projected onto [0, 255] (or Adam, then clamped). One loop for the program and the
// benchmarks, so that Table 1 times what users run.
#include <cstdint>
#include <functional>
#include <utility>

#include "perceptual/app/timing.hpp"
#include "perceptual/core/tensor.hpp"
#include "perceptual/losses/objective.hpp"
#include "perceptual/optim/adam.hpp"
#include "perceptual/optim/lbfgs.hpp"

namespace perceptual::app {

struct GatysOptions {
  enum class Optimizer { lbfgs, adam };
  enum class Init { noise, content };
  int iterations = 500;
  Optimizer optimizer = Optimizer::lbfgs;
  Init init = Init::noise;
  std::uint64_t seed = 0;  // the white noise
  double lr = 2;           // Adam's, in pixels per step
};

struct GatysProgress {
  int iteration = 0;             // iterations taken (0: the starting point)
  losses::ObjectiveTerms terms;  // eq. 5's terms at the current image (L-BFGS: the last evaluated)
  double seconds = 0;            // since run_gatys was called, targets included
  int evaluations = 0;           // objective evaluations (forward and backward) so far
};

struct GatysRun {
  optim::LbfgsResult lbfgs;          // L-BFGS's own account (unset for Adam)
  bool stopped_by_callback = false;  // on_iteration returned false
};

// Sets the objective's content and style targets (so the times are end to end), starts y as
// options.init asks and runs options.iterations iterations; after each (and at 0)
// on_iteration(progress) is called, and returning false stops the run there. Leaves the image in y.
template <class VggNet, class B>
GatysRun run_gatys(losses::StyleObjective<VggNet, B, float>& objective, const Tensor<float, B>& content,
                   const Tensor<float, B>& style, const GatysOptions& options, Tensor<float, B>& y,
                   const std::function<bool(const GatysProgress&)>& on_iteration) {
  struct Stop {};
  const auto start = Clock::now();
  const auto seconds = [&] { return seconds_since(start); };
  objective.set_content(content);
  objective.set_style(style);
  y = options.init == GatysOptions::Init::noise ? losses::white_noise_image<float, B>(content.shape(), options.seed)
                                                : content;
  GatysRun run;
  int evaluations = 0;
  if (options.optimizer == GatysOptions::Optimizer::adam) {
    Tensor<float, B> grad(y.shape());
    optim::Adam<float, B> adam({{"image", &y, &grad}}, {.lr = options.lr});
    for (int i = 0;; ++i) {
      auto r = objective.evaluate(y);
      ++evaluations;
      grad = std::move(r.grad);
      if (!on_iteration({i, r.terms, seconds(), evaluations})) {
        run.stopped_by_callback = true;
        break;
      }
      if (i == options.iterations) break;
      adam.step();
      box_project(y, 0.0f, 255.0f);
    }
    return run;
  }
  optim::LbfgsOptions lo;
  lo.max_iterations = options.iterations;
  lo.lower = 0;
  lo.upper = 255;
  losses::ObjectiveTerms last;  // backtracking accepts the last point evaluated: these are its terms
  const auto f = [&](const Tensor<float, B>& x, Tensor<float, B>& grad) {
    ++evaluations;
    auto r = objective.evaluate(x);
    grad = std::move(r.grad);
    last = r.terms;
    return last.total;
  };
  lo.callback = [&](int iteration, double) {
    if (!on_iteration({iteration, last, seconds(), evaluations})) throw Stop{};
  };
  try {
    run.lbfgs = optim::minimize(y, f, lo);
  } catch (const Stop&) {
    run.stopped_by_callback = true;
  }
  return run;
}

}  // namespace perceptual::app
