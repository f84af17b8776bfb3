#pragma once
// Johnson et al.'s style transformation network (random weights) on any backend B: median latency
// of one stylisation at 256x256, 512x512, 1024x1024 and 1920x1080 (batch 1) after warm-up, and one
// whole training step (transform net forward/backward, VGG-16 to relu4_3 forward/backward, feature
// + style + TV losses, Adam; batch 4 at 256x256 by default), and with --gatys-size one L-BFGS
// iteration of the Gatys baseline on the same objective. Prints one row per measurement in the
// format of torch_transform_reference.py, whose --table joins the two programs' outputs.
// transform_benchmark_main<B> is the whole program; a backend's main() passes its timer (CUDA
// events on the GPU, the wall clock on the CPU) and the precisions it has.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/core/strings.hpp"
#include "perceptual/losses/losses.hpp"
#include "perceptual/losses/objective.hpp"
#include "perceptual/nets/transform.hpp"
#include "perceptual/nets/vgg.hpp"
#include "perceptual/optim/adam.hpp"
#include "perceptual/optim/lbfgs.hpp"

namespace perceptual::bench {

struct TransformBenchOptions {
  std::vector<Size2> sizes{{256, 256}, {512, 512}, {1024, 1024}, {1080, 1920}};
  std::vector<std::string> precisions{};  // empty: every precision the backend has
  int warmup = 5, iterations = 50, train_iterations = 20, train_batch = 4, train_size = 256, batch = 1;
  int gatys_size = 0, gatys_iterations = 5;  // 0: no Gatys row
  bool stylize = true, train = true;
};

// Median milliseconds of `iterations` timed calls of run after `warmup` untimed ones; the
// backend's timer waits for the device's work.
using MedianMs = std::function<double(const std::function<void()>& run, int warmup, int iterations)>;

namespace transform_detail {

inline std::string usage(const std::string& program, const std::vector<std::string>& precisions) {
  return "Usage: " + program +
         " [options]\n"
         "Options:\n"
         "  --sizes HxW,...        stylisation sizes (default 256x256,512x512,1024x1024,1080x1920)\n"
         "  --precision LIST       of " +
         join_list(precisions) +
         " (default all)\n"
         "  --iterations N         timed runs per row (default 50; training: 20)\n"
         "  --train-iterations N   timed training steps and Gatys runs (default 20, or --iterations when given)\n"
         "  --warmup N             untimed runs first (caches, allocators, cuDNN plans; default 5)\n"
         "  --train-size S         training step image size (default 256)\n"
         "  --train-batch N        training step batch (default 4)\n"
         "  --batch N              stylisation batch: N images of each size in one pass (default 1)\n"
         "  --no-stylize           no stylisation rows\n"
         "  --no-train             no training step\n"
         "  --gatys-size S         also the Gatys baseline at SxS: ms per L-BFGS iteration (default: no row)\n"
         "  --gatys-iterations N   L-BFGS iterations per timed run (default 5)\n";
}

inline int positive(const std::string& option, const std::string& text) {
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < 1 || v > 1000000)
    throw ArgumentError(option + ": \"" + text + "\" is not a positive integer");
  return static_cast<int>(v);
}

// Parses argv; prints the usage and returns false for --help.
inline bool parse(int argc, char** argv, const std::string& program, const std::vector<std::string>& precisions,
                  TransformBenchOptions& o) {
  bool train_iterations_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw ArgumentError(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(usage(program, precisions).c_str(), stdout);
      return false;
    } else if (a == "--sizes") {
      o.sizes.clear();
      for (const auto& s : split_list(value())) {
        Size2 size;
        if (std::sscanf(s.c_str(), "%dx%d", &size.h, &size.w) != 2 || size.h < 8 || size.w < 8)
          throw ArgumentError("--sizes: \"" + s + "\", expected HxW such as 256x256 (8 or more each)");
        o.sizes.push_back(size);
      }
    } else if (a == "--precision") {
      o.precisions = split_list(value());
      for (const auto& p : o.precisions)
        if (std::find(precisions.begin(), precisions.end(), p) == precisions.end())
          throw ArgumentError("--precision: \"" + p + "\", this backend has " + join_list(precisions));
    } else if (a == "--iterations") {
      o.iterations = positive(a, value());
      if (!train_iterations_given) o.train_iterations = o.iterations;
    } else if (a == "--train-iterations") {
      o.train_iterations = positive(a, value());
      train_iterations_given = true;
    } else if (a == "--warmup") {
      o.warmup = positive(a, value());
    } else if (a == "--train-size") {
      o.train_size = positive(a, value());
      if (o.train_size < 16 || o.train_size % 4)
        throw ArgumentError("--train-size: " + std::to_string(o.train_size) + " is not a multiple of 4 from 16");
    } else if (a == "--train-batch") {
      o.train_batch = positive(a, value());
    } else if (a == "--batch") {
      o.batch = positive(a, value());
    } else if (a == "--no-stylize") {
      o.stylize = false;
    } else if (a == "--no-train") {
      o.train = false;
    } else if (a == "--gatys-size") {
      o.gatys_size = positive(a, value());
      if (o.gatys_size < 16) throw ArgumentError("--gatys-size: " + std::to_string(o.gatys_size) + " is below 16");
    } else if (a == "--gatys-iterations") {
      o.gatys_iterations = positive(a, value());
    } else {
      throw ArgumentError("unknown option " + a + "\n" + usage(program, precisions));
    }
  }
  if (o.precisions.empty()) o.precisions = precisions;
  return true;
}

template <class T, class B>
Tensor<T, B> random_image(Shape4 shape, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> dist(0, 255);
  std::vector<T> v(shape.size());
  for (auto& e : v) e = static_cast<T>(dist(rng));
  return Tensor<T, B>::from_host(shape, v);
}

// He-uniform random weights for a net without initialize() (the frozen VGG).
template <class T, class B, class M>
void randomize(M& module, std::mt19937_64& rng) {
  for (auto& p : module.parameters()) {
    const Shape4 s = p.value->shape();
    const double bound = s.h == 1 && s.w == 1 ? 0.1 : std::sqrt(6.0 / (s.c * s.h * s.w));
    std::uniform_real_distribution<double> dist(-bound, bound);
    std::vector<T> v(s.size());
    for (auto& e : v) e = static_cast<T>(dist(rng));
    *p.value = Tensor<T, B>::from_host(s, v);
  }
}

inline void print_row(const std::string& variant, const char* task, Size2 size, int batch, double ms) {
  std::printf("%-11s %-13s %-8s %4dx%-5d %5d %11.3f %12.1f\n", "perceptual", variant.c_str(), task, size.h, size.w,
              batch, ms, 1000.0 * batch / ms);
  std::fflush(stdout);
}

template <class T, class B>
void bench_stylize(const std::string& variant, const TransformBenchOptions& o, const MedianMs& median_ms) {
  std::mt19937_64 rng(1);
  Model<nets::StyleTransformNet<>, B, T> net;
  net.initialize(1).eval().set_trainable(false);
  for (Size2 size : o.sizes) {
    const auto x = random_image<T, B>({o.batch, 3, size.h, size.w}, rng);
    const double ms = median_ms(
        [&] {
          NoGrad no_grad;  // as PyTorch's torch.inference_mode()
          (void)net.forward(x);
        },
        o.warmup, o.iterations);
    print_row(variant, "stylize", size, o.batch, ms);
  }
}

// Johnson's training step (eq. 5): y = f(x); VGG at relu1_2..relu4_3; feature loss at relu2_2
// against VGG(x), style loss against a fixed style image's Grams, TV on y; backward; Adam.
template <class T, class B>
void bench_train(const std::string& variant, const TransformBenchOptions& o, const MedianMs& median_ms) {
  using Vgg = nets::JohnsonStyleVgg;
  std::mt19937_64 rng(2);
  Model<nets::StyleTransformNet<>, B, T> net;
  net.initialize(2).train();
  nets::LossNetwork<Vgg, B, T> vgg;
  randomize<T, B>(vgg, rng);
  const int s = o.train_size;
  const auto style_features = [&] {
    NoGrad no_grad;
    return vgg.forward(random_image<T, B>({1, 3, s, s}, rng));
  }();
  const auto style_target =
      losses::make_style_target(std::vector<Tensor<T, B>>(style_features.begin(), style_features.end()));
  const auto x = random_image<T, B>({o.train_batch, 3, s, s}, rng);
  optim::Adam<T, B> adam(net.parameters(), {.lr = 1e-3});
  auto step = [&] {
    net.zero_grad();
    const auto y = net.forward(x);
    const Tensor<T, B> content_target = [&] {
      NoGrad no_grad;  // as PyTorch's torch.no_grad() around the target
      return std::move(vgg.forward(x)[1]);
    }();
    const auto f = vgg.forward(y);
    const auto content = losses::feature_loss(f[1], content_target, 1.0);
    const auto style = losses::style_loss(std::vector<Tensor<T, B>>(f.begin(), f.end()), style_target,
                                          std::vector<double>(Vgg::num_taps, 5.0));
    typename nets::LossNetwork<Vgg, B, T>::Features grads;
    for (int t = 0; t < Vgg::num_taps; ++t) grads[t] = std::move(style.grads[t]);
    axpy(grads[1], T(1), content.grad);
    auto dy = vgg.backward(std::move(grads));
    axpy(dy, T(1), losses::total_variation_loss(y, 1e-6).grad);
    net.backward(dy);
    adam.step();
  };
  const double ms = median_ms(step, o.warmup, o.train_iterations);
  print_row(variant, "train", {s, s}, o.train_batch, ms);
}

// The Gatys baseline on the training step's objective (content at relu2_2, style at the four taps,
// TV) at SxS from white noise: one timed run is gatys_iterations L-BFGS iterations projected to
// [0, 255] (each one objective evaluation, more when the line search backtracks, and one more at
// the start); the row is its time per iteration. torch_transform_reference.py --gatys-size runs
// torch.optim.LBFGS the same way.
template <class T, class B>
void bench_gatys(const std::string& variant, const TransformBenchOptions& o, const MedianMs& median_ms) {
  std::mt19937_64 rng(3);
  losses::StyleObjective<nets::JohnsonStyleVgg, B, T> objective(
      {.content_weight = 1.0, .style_weight = 5.0, .tv_weight = 1e-6});
  randomize<T, B>(objective.loss_network(), rng);
  const int s = o.gatys_size;
  objective.set_content(random_image<T, B>({1, 3, s, s}, rng));
  objective.set_style(random_image<T, B>({1, 3, s, s}, rng));
  int evaluations = 0, runs = 0;
  const double ms = median_ms(
      [&] {
        Tensor<T, B> y = losses::white_noise_image<T, B>({1, 3, s, s}, 1);
        optim::LbfgsOptions lo;
        lo.max_iterations = o.gatys_iterations;
        lo.lower = 0;
        lo.upper = 255;
        optim::minimize(
            y,
            [&](const Tensor<T, B>& x, Tensor<T, B>& grad) {
              ++evaluations;
              auto r = objective.evaluate(x);
              grad = std::move(r.grad);
              return r.terms.total;
            },
            lo);
        ++runs;
      },
      o.warmup, o.train_iterations);
  std::printf("# gatys: %.1f objective evaluations per run of %d L-BFGS iterations\n",
              static_cast<double>(evaluations) / runs, o.gatys_iterations);
  print_row(variant, "gatys", {s, s}, 1, ms / o.gatys_iterations);
}

}  // namespace transform_detail

// Every row of one precision: element type T on backend B.
template <class T, class B>
void bench_rows(const std::string& precision, const TransformBenchOptions& o, const MedianMs& median_ms) {
  if (o.stylize) transform_detail::bench_stylize<T, B>(precision, o, median_ms);
  if (o.train) transform_detail::bench_train<T, B>(precision, o, median_ms);
  if (o.gatys_size > 0) transform_detail::bench_gatys<T, B>(precision, o, median_ms);
}

// The whole program. `precisions` are those the backend has; `header` names the backend and
// machine for the first line (or throws, e.g. without a device); `run` gets each requested
// precision and calls bench_rows with its element type.
inline int transform_benchmark_main(int argc, char** argv, const std::string& program,
                                    const std::vector<std::string>& precisions,
                                    const std::function<std::string()>& header,
                                    const std::function<void(const std::string&, const TransformBenchOptions&)>& run) {
  try {
    TransformBenchOptions o;
    if (!transform_detail::parse(argc, argv, program, precisions, o)) return 0;
    std::printf("# %s: %s; median of %d (training: %d) after %d warm-up\n", program.c_str(), header().c_str(),
                o.iterations, o.train_iterations, o.warmup);
    std::printf("%-11s %-13s %-8s %-10s %5s %11s %12s\n", "impl", "variant", "task", "size", "batch", "median_ms",
                "images_per_s");
    for (const auto& p : o.precisions) run(p, o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program.c_str(), e.what());
    return 1;
  }
  return 0;
}

}  // namespace perceptual::bench
