// benchmarks/style_common.hpp: the feed-forward network that speed_table (Table 1) and objective
// (figure 5) time and evaluate is the one stylize runs, in eval mode.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "../../benchmarks/style_common.hpp"
#include "perceptual/backend/cpu/cpu.hpp"
#include "support/random.hpp"

using namespace perceptual;

// In training mode batch norm normalises by the batch's own statistics, so an image's output
// would depend on the images beside it and the timed pass would update the running statistics;
// in eval mode it reads the running ones and each image stands alone.
TEST_CASE("load_style_net leaves a batch-norm StyleTransformNet in eval mode, each image alone in its batch") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed " << seed << " (replay with PERCEPTUAL_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  Model<nets::StyleTransformNet<nets::BatchNormDefault>, Cpu, float> net;
  bench::load_style_net(net, "", seed);
  const auto pair = testing::random_tensor<float>({2, 3, 16, 16}, rng, 0, 255);
  const std::vector<float> both = net.forward(pair).to_host();
  const std::vector<float> first_pixels(pair.data(), pair.data() + pair.size() / 2);
  const std::vector<float> alone = net.forward(Tensor<float, Cpu>::from_host({1, 3, 16, 16}, first_pixels)).to_host();
  REQUIRE(alone.size() * 2 == both.size());
  double diff = 0;
  for (std::size_t i = 0; i < alone.size(); ++i) diff = std::max(diff, std::abs(double(alone[i]) - both[i]));
  CHECK(diff < 1e-3);  // of outputs in [0, 255]; batch statistics change them by several units
  MESSAGE("measured: the first image's output alone and in its batch differ by at most " << diff);
}
