// Johnson et al.'s style transformation network on the GPU (random weights): median latency of
// one stylisation at 256x256, 512x512, 1024x1024 and 1920x1080 (batch 1), timed with CUDA events
// after warm-up, and one whole training step (transform net forward/backward, VGG-16 to relu4_3
// forward/backward, feature + style + TV losses, Adam; batch 4 at 256x256). Prints one row per
// measurement in the format of torch_transform_reference.py, which scripts/device_bench.sh joins.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "perceptual/backend/cuda/cuda.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/losses/losses.hpp"
#include "perceptual/nets/transform.hpp"
#include "perceptual/nets/vgg.hpp"
#include "perceptual/optim/adam.hpp"

using namespace perceptual;

namespace {

struct Options {
  std::vector<Size2> sizes{{256, 256}, {512, 512}, {1024, 1024}, {1080, 1920}};
  std::vector<std::string> precisions{"fp32", "bf16"};
  int warmup = 5, iterations = 50, train_iterations = 20, train_batch = 4, train_size = 256;
  bool stylize = true, train = true;
};

const char* usage =
    "Usage: transform_benchmark [options]\n"
    "Options:\n"
    "  --sizes HxW,...      stylisation sizes (default 256x256,512x512,1024x1024,1080x1920)\n"
    "  --precision LIST     fp32, bf16 or fp32,bf16 (default both)\n"
    "  --iterations N       timed runs per stylisation row (default 50; training: 20)\n"
    "  --warmup N           untimed runs first, which also build the cuDNN plans (default 5)\n"
    "  --no-stylize         only the training step\n"
    "  --no-train           only the stylisation rows\n";

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t end = std::min(s.find(',', start), s.size());
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw ArgumentError(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    } else if (a == "--sizes") {
      o.sizes.clear();
      for (const auto& s : split(value())) {
        Size2 size;
        if (std::sscanf(s.c_str(), "%dx%d", &size.h, &size.w) != 2 || size.h < 8 || size.w < 8)
          throw ArgumentError("size \"" + s + "\", expected HxW such as 256x256");
        o.sizes.push_back(size);
      }
    } else if (a == "--precision") {
      o.precisions = split(value());
      for (const auto& p : o.precisions)
        if (p != "fp32" && p != "bf16") throw ArgumentError("precision \"" + p + "\", expected fp32 or bf16");
    } else if (a == "--iterations") {
      o.iterations = o.train_iterations = std::max(1, std::atoi(value().c_str()));
    } else if (a == "--warmup") {
      o.warmup = std::max(1, std::atoi(value().c_str()));
    } else if (a == "--no-stylize") {
      o.stylize = false;
    } else if (a == "--no-train") {
      o.train = false;
    } else {
      throw ArgumentError("unknown option " + a + "\n" + usage);
    }
  }
  return o;
}

// Times `run` with CUDA events on the backend's stream: `warmup` untimed runs, then the median
// of `iterations` timed ones, in milliseconds.
template <class F>
double median_ms(F&& run, int warmup, int iterations) {
  for (int i = 0; i < warmup; ++i) run();
  cuda::synchronize();
  cudaEvent_t start = nullptr, stop = nullptr;
  PERCEPTUAL_CUDA_CHECK(cudaEventCreate(&start));
  PERCEPTUAL_CUDA_CHECK(cudaEventCreate(&stop));
  const cudaStream_t stream = cuda::context().stream();
  std::vector<float> times;
  for (int i = 0; i < iterations; ++i) {
    PERCEPTUAL_CUDA_CHECK(cudaEventRecord(start, stream));
    run();
    PERCEPTUAL_CUDA_CHECK(cudaEventRecord(stop, stream));
    PERCEPTUAL_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    PERCEPTUAL_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    times.push_back(ms);
  }
  (void)cudaEventDestroy(start);
  (void)cudaEventDestroy(stop);
  std::sort(times.begin(), times.end());
  const std::size_t n = times.size();
  return n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
}

template <class T>
Tensor<T, Cuda> random_image(Shape4 shape, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> dist(0, 255);
  std::vector<T> v(shape.size());
  for (auto& e : v) e = static_cast<T>(dist(rng));
  return Tensor<T, Cuda>::from_host(shape, v);
}

// He-uniform random weights for a net without initialize() (the frozen VGG).
template <class T, class M>
void randomize(M& module, std::mt19937_64& rng) {
  for (auto& p : module.parameters()) {
    const Shape4 s = p.value->shape();
    const double bound = s.h == 1 && s.w == 1 ? 0.1 : std::sqrt(6.0 / (s.c * s.h * s.w));
    std::uniform_real_distribution<double> dist(-bound, bound);
    std::vector<T> v(s.size());
    for (auto& e : v) e = static_cast<T>(dist(rng));
    *p.value = Tensor<T, Cuda>::from_host(s, v);
  }
}

void print_row(const char* variant, const char* task, Size2 size, int batch, double ms) {
  std::printf("%-11s %-13s %-8s %4dx%-5d %5d %11.3f %12.1f\n", "perceptual", variant, task, size.h, size.w, batch, ms,
              1000.0 * batch / ms);
  std::fflush(stdout);
}

template <class T>
void bench_stylize(const char* variant, const Options& o) {
  std::mt19937_64 rng(1);
  Model<nets::StyleTransformNet<>, Cuda, T> net;
  net.initialize(1).eval().set_trainable(false);
  for (Size2 size : o.sizes) {
    const auto x = random_image<T>({1, 3, size.h, size.w}, rng);
    const double ms = median_ms([&] { (void)net.forward(x); }, o.warmup, o.iterations);
    print_row(variant, "stylize", size, 1, ms);
  }
}

// Johnson's training step (eq. 5): y = f(x); VGG at relu1_2..relu4_3; feature loss at relu2_2
// against VGG(x), style loss against a fixed style image's Grams, TV on y; backward; Adam.
template <class T>
void bench_train(const char* variant, const Options& o) {
  using Vgg = nets::JohnsonStyleVgg;
  std::mt19937_64 rng(2);
  Model<nets::StyleTransformNet<>, Cuda, T> net;
  net.initialize(2).train();
  nets::LossNetwork<Vgg, Cuda, T> vgg;
  randomize<T>(vgg, rng);
  const int s = o.train_size;
  const auto style_features = vgg.forward(random_image<T>({1, 3, s, s}, rng));
  const auto style_target =
      losses::make_style_target(std::vector<Tensor<T, Cuda>>(style_features.begin(), style_features.end()));
  const auto x = random_image<T>({o.train_batch, 3, s, s}, rng);
  optim::Adam<T, Cuda> adam(net.parameters(), {.lr = 1e-3});
  auto step = [&] {
    net.zero_grad();
    const auto y = net.forward(x);
    const Tensor<T, Cuda> content_target = vgg.forward(x)[1];
    const auto f = vgg.forward(y);
    const auto content = losses::feature_loss(f[1], content_target, 1.0);
    const auto style = losses::style_loss(std::vector<Tensor<T, Cuda>>(f.begin(), f.end()), style_target,
                                          std::vector<double>(Vgg::num_taps, 5.0));
    typename nets::LossNetwork<Vgg, Cuda, T>::Features grads;
    for (int t = 0; t < Vgg::num_taps; ++t) grads[t] = style.grads[t];
    axpy(grads[1], T(1), content.grad);
    auto dy = vgg.backward(grads);
    axpy(dy, T(1), losses::total_variation_loss(y, 1e-6).grad);
    net.backward(dy);
    adam.step();
  };
  const double ms = median_ms(step, o.warmup, o.train_iterations);
  print_row(variant, "train", {s, s}, o.train_batch, ms);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    if (!cuda::device_available()) {
      std::fprintf(stderr,
                   "transform_benchmark: no CUDA device is available; it times the GPU only "
                   "(run it on a GPU machine: scripts/device_bench.sh)\n");
      return 1;
    }
    cudaDeviceProp prop{};
    PERCEPTUAL_CUDA_CHECK(cudaGetDeviceProperties(&prop, cuda::current_device()));
    int runtime = 0;
    PERCEPTUAL_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
    std::printf("# transform_benchmark: %s, CUDA runtime %d, cuDNN %zu; median of %d (training: %d) after %d warm-up\n",
                prop.name, runtime, cudnnGetVersion(), o.iterations, o.train_iterations, o.warmup);
    std::printf("%-11s %-13s %-8s %-10s %5s %11s %12s\n", "impl", "variant", "task", "size", "batch", "median_ms",
                "images_per_s");
    for (const auto& p : o.precisions) {
      const bool fp32 = p == "fp32";
      if (!fp32 && !cuda::bf16_supported()) {
        std::printf("# bf16: skipped, it needs compute capability 8.0 or newer (this device has %d.%d)\n", prop.major,
                    prop.minor);
        continue;
      }
      if (o.stylize) fp32 ? bench_stylize<float>("fp32", o) : bench_stylize<bf16>("bf16", o);
      if (o.train) fp32 ? bench_train<float>("fp32", o) : bench_train<bf16>("bf16", o);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "transform_benchmark: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
