// app/style_nets.hpp: the network a model file holds is told apart as stylize does it, and the one
// that speed_table (Table 1) and objective (figure 5) time and evaluate is in eval mode.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "perceptual/app/style_nets.hpp"
#include "perceptual/backend/cpu/cpu.hpp"
#include "support/random.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;

// In training mode batch norm normalises by the batch's own statistics, so an image's output
// would depend on the images beside it and the timed pass would update the running statistics;
// in eval mode it reads the running ones and each image stands alone.
TEST_CASE("load_style_net leaves a batch-norm StyleTransformNet in eval mode, each image alone in its batch") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed " << seed << " (replay with PERCEPTUAL_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  Model<nets::StyleTransformNet<nets::BatchNormDefault>, Cpu, float> net;
  app::load_style_net(net, "", seed);
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

TEST_CASE("detect_preset tells our networks from lengstrom's by metadata, else by tensor names") {
  testing::TempDir dir;
  const auto write = [&](const std::string& name, const std::string& tensor, std::map<std::string, std::string> meta) {
    io::SafetensorsWriter w;
    const std::vector<double> one{1};
    w.add(tensor, {1}, std::span<const double>(one));
    for (const auto& [key, value] : meta) w.set_metadata(key, value);
    const auto path = dir.path / name;
    w.write(path);
    return io::SafetensorsFile(path);
  };
  CHECK(app::detect_preset(write("ours.safetensors", "x", {{"architecture", "johnson-style"}})) == "johnson");
  CHECK(app::detect_preset(write("tf.safetensors", "x", {{"arch", "engstrom-tf"}})) == "engstrom");
  CHECK(app::detect_preset(write("e.safetensors", "conv1.norm.scale", {})) == "engstrom");
  CHECK(app::detect_preset(write("j.safetensors", "conv1.norm.weight", {})) == "johnson");
  CHECK_THROWS_WITH_AS(app::detect_preset(write("sr.safetensors", "x", {{"architecture", "johnson-sr"}})),
                       doctest::Contains("is not a style network"), FileError);
  CHECK_THROWS_WITH_AS(app::detect_preset(write("none.safetensors", "x", {})), doctest::Contains("give --preset"),
                       FileError);
}
