#include "perceptual/tiled/tiled.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/nets/engstrom.hpp"
#include "perceptual/nets/transform.hpp"
#include "support/random.hpp"

using namespace perceptual;

namespace {

// Options with a budget (0: the default), nothing counted for the process itself (so that small
// budgets mean the same on every machine), and at most `rows` rows per band (0: any).
tiled::Options options(std::size_t max_memory, int rows = 0) {
  tiled::Options o;
  o.max_memory = max_memory;
  o.base_memory = 0;
  o.max_band_rows = rows;
  return o;
}

// Random weights everywhere, norms' scales and shifts, batch norm's running statistics and biases too (a
// network fresh from initialize has scale 1 and shift 0, which would hide a mix-up of the two).
template <class Net>
void randomize(Model<Net, Cpu, float>& net, std::uint64_t seed) {
  net.initialize(seed);
  std::mt19937_64 rng(seed + 1);
  for (auto& p : net.parameters()) {
    const Shape4 s = p.value->shape();
    if (s.n != 1 || s.h != 1 || s.w != 1) continue;  // 1 x C x 1 x 1: a norm's, or a bias
    if (p.name.ends_with("running_var") || p.name.ends_with("weight") || p.name.ends_with("scale"))
      testing::randomize(*p.value, rng, 0.5, 1.5);
    else
      testing::randomize(*p.value, rng, -0.5, 0.5);
  }
  net.eval();
}

// An input in [0, 255] with structure at every scale (a gradient, stripes, noise), so that each
// band's statistics differ from the whole image's: tiles normalised on their own would show.
Tensor<float, Cpu> test_image(int h, int w, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> noise(-20, 20);
  std::vector<float> v(3 * static_cast<std::size_t>(h) * w);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        v[(static_cast<std::size_t>(c) * h + y) * w + x] =
            std::clamp(255.0f * y / h * (c == 0) + 100 * ((x / 3 + c) % 2) + 60 + noise(rng), 0.0f, 255.0f);
  return Tensor<float, Cpu>::from_host({1, 3, h, w}, v);
}

// The largest difference between two outputs, in gray levels.
float max_difference(const Tensor<float, Cpu>& a, const Tensor<float, Cpu>& b) {
  REQUIRE(a.shape() == b.shape());
  float d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a.data()[i] - b.data()[i]));
  return d;
}

template <class Net>
void check_exact(const char* what, int h, int w, tiled::Options options, long fewest_bands = 6) {
  INFO(what << " on " << h << "x" << w);
  const std::uint64_t seed = testing::test_seed();
  INFO("seed " << seed);
  Model<Net, Cpu, float> net;
  randomize(net, seed);
  const auto x = test_image(h, w, seed);
  Tensor<float, Cpu> whole;
  {
    NoGrad no_grad;
    whole = net.forward(x);
  }
  const auto r = tiled::runner(net, x.shape().spatial(), options);
  CHECK(r.budget().fewest_bands >= fewest_bands);
  const auto tiled = tiled::forward(net, x, options);
  // 8-bit output within one gray level is the promise; float rounding is far below it (0.026 of the
  // style networks' 255, and as much relative to other outputs).
  float scale = 1;
  for (std::size_t i = 0; i < whole.size(); ++i) scale = std::max(scale, std::abs(whole.data()[i]));
  CHECK(max_difference(tiled, whole) <= 1e-4f * scale);
  CHECK(max_difference(tiled::forward(net, x, options), tiled) == 0);  // deterministic
}

}  // namespace

TEST_CASE("tiled inference equals one forward pass on bands of a few rows, on both norms and odd sizes") {
  // Two output rows per band: every layer in at least 6 bands, those at full size in 20 or more.
  const tiled::Options few_rows = options(0, 2);
  check_exact<nets::StyleTransformNet<>>("instance norm, reflection", 53, 37, few_rows);
  check_exact<nets::StyleTransformNet<nets::BatchNormDefault>>("batch norm (eval)", 45, 61, few_rows);
  check_exact<nets::EngstromNet>("lengstrom's: SAME padding, odd sizes", 51, 43, few_rows);
  check_exact<nets::SuperResolutionNet<4>>("super-resolution x4, instance norm", 23, 19, few_rows);
  check_exact<nets::SuperResolutionNet<4, nets::BatchNormDefault>>("super-resolution x4, batch norm", 19, 23, few_rows);
}

// Every path of the runner the style networks leave out: an instance norm after a pointwise step
// still pending (a copying pass), a residual block that starts with a norm (its input copied, then
// settled in place), zero, SAME and valid padding, stride 2 without padding, Upsample, Repeat, and
// batch norm (eval) inside a repeated residual block. No ScaledTanh at the end: its saturation
// would hide differences.
using EveryPath = layers::Sequential<
    layers::Conv2d<3, 8, 3, layers::Reflect>, layers::InstanceNorm<8>, layers::ReLU, layers::InstanceNorm<8>,
    layers::Residual<layers::InstanceNorm<8>, layers::ReLU, layers::Conv2d<8, 8, 3, layers::Zero>>, layers::Upsample<2>,
    layers::Repeat<2, layers::Residual<layers::Conv2d<8, 8, 3, layers::Same>, layers::BatchNorm<8>>>,
    layers::Conv2d<8, 3, 3, layers::Valid, layers::Stride<2>>>;

TEST_CASE("tiled inference equals one forward pass on every path of the runner") {
  check_exact<EveryPath>("norms after pending steps, residuals starting with a norm, every padding", 29, 23,
                         options(0, 2));
  check_exact<EveryPath>("the same, everything in one band", 29, 23, options(std::size_t{1} << 30), 1);
}

TEST_CASE("tiled inference with every activation in a scratch file equals one forward pass") {
  const auto dir = std::filesystem::temp_directory_path();
  Model<nets::StyleTransformNet<>, Cpu, float> net;
  // Room for the largest layer's smallest band (twice: the pool keeps one band's memory for the
  // next) and 16 KiB besides: less than any activation.
  const std::size_t band = tiled::runner(net, {45, 38}, options(std::size_t{1} << 30)).budget().min_band;
  tiled::Options tiny = options(2 * band + (16 << 10));
  tiny.scratch_dir = dir;
  const auto r = tiled::runner(net, {45, 38}, tiny);
  CHECK(r.budget().on_disk == r.budget().activations);
  CHECK(r.budget().peak_disk > 0);
  CHECK(r.budget().peak_memory <= tiny.max_memory);
  CHECK_FALSE(r.budget().one_pass);
  check_exact<nets::StyleTransformNet<>>("on disk", 45, 38, tiny, 1);
}

TEST_CASE("a budget with room for the whole pass runs every layer in one band, in memory") {
  Model<nets::StyleTransformNet<>, Cpu, float> net;
  const auto r = tiled::runner(net, {64, 48}, options(std::size_t{1} << 30));
  CHECK(r.budget().one_pass);
  CHECK(r.budget().on_disk == 0);
  CHECK(r.budget().bands == 16);  // 3 convolutions, 2 in each of 5 residual blocks, 2 transposed, 1
}

TEST_CASE("the memory a run holds stays within the plan's estimate") {
  Model<nets::StyleTransformNet<>, Cpu, float> net;
  randomize(net, 5);
  const auto x = test_image(160, 120, 5);
  const tiled::Options budget = options(24 << 20);
  const auto r = tiled::runner(net, {160, 120}, budget);
  REQUIRE(r.budget().bands > 17);  // the budget, not a row limit, cut the layers into bands
  HostPool::instance().release();
  HostPool::instance().reset_peak();
  const std::size_t before = HostPool::instance().in_use_bytes();
  (void)tiled::forward(net, x, budget);
  // The plan's peak, less the pool's cache (base 0): activations kept in memory and a band at once;
  // besides, the input and the output that tiled::forward copies in and out.
  const std::size_t planned = r.budget().peak_memory - r.budget().band_memory;
  CHECK(HostPool::instance().peak_in_use_bytes() - before <= planned + 2 * x.size() * sizeof(float));
}

TEST_CASE("tiled inference reports progress up to the whole") {
  Model<nets::StyleTransformNet<>, Cpu, float> net;
  std::vector<double> seen;
  tiled::Options o = options(0, 5);
  o.progress = [&](double done, const std::string& layer) {
    CHECK_FALSE(layer.empty());
    seen.push_back(done);
  };
  (void)tiled::forward(net, test_image(20, 24, 1), o);
  REQUIRE(seen.size() > 17);
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  CHECK(seen.back() == doctest::Approx(1.0));
}

TEST_CASE("impossible budgets and scratch folders are errors before any work") {
  Model<nets::StyleTransformNet<>, Cpu, float> net;
  SUBCASE("a budget too small for one band says what it needs") {
    try {
      (void)tiled::runner(net, {4000, 3000}, options(1 << 20));
      FAIL("no error");
    } catch (const ArgumentError& e) {
      CHECK(std::string(e.what()).find("too small for one band") != std::string::npos);
      CHECK(std::string(e.what()).find("give at least") != std::string::npos);
    }
  }
  SUBCASE("a budget below what the program holds") {
    CHECK_THROWS_AS((void)tiled::runner(net, {40, 30},
                                        [] {
                                          tiled::Options o = options(1 << 20);
                                          o.base_memory = 2 << 20;
                                          return o;
                                        }()),
                    ArgumentError);
  }
  SUBCASE("scratch space beyond the free disk") {
    // 200000 x 200000 needs terabytes between layers; planning alone finds out.
    try {
      (void)tiled::runner(net, {200000, 200000}, options(std::size_t{8} << 30));
      FAIL("no error");
    } catch (const FileError& e) {
      CHECK(std::string(e.what()).find("of scratch space") != std::string::npos);
    }
  }
  SUBCASE("batch norm in training mode has no fixed statistics") {
    Model<nets::StyleTransformNet<nets::BatchNormDefault>, Cpu, float> bn;
    bn.train();
    CHECK_THROWS_AS((void)tiled::runner(bn, {40, 30}), ArgumentError);
  }
  SUBCASE("an empty image") {
    CHECK_THROWS_AS((void)tiled::runner(net, {0, 30}), ShapeError);
  }
}
