#include "perceptual/nets/vgg_weights.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/io/image.hpp"
#include "support/random.hpp"
#include "support/shared_data.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;
using namespace perceptual::nets;
namespace fs = std::filesystem;

namespace {

const std::map<std::string, std::string> caffe_metadata{{"input_mean", "123.68,116.779,103.939"},
                                                        {"input_std", "1,1,1"}};

const testing::TempDir scratch_dir;

fs::path scratch(const std::string& name) {
  return scratch_dir / name;
}

// A VGG-16 file up to relu2_2 (or relu1_2) with random weights.
template <class Net>
fs::path write_random(const std::string& name, std::mt19937_64& rng,
                      const std::map<std::string, std::string>& metadata = caffe_metadata) {
  LossNetwork<Net, Cpu> vgg;
  for (auto& p : vgg.parameters()) testing::randomize(*p.value, rng);
  const fs::path path = scratch(name);
  io::save_parameters(vgg.parameters(), path, metadata);
  return path;
}

std::string message_of(auto&& f) {
  try {
    f();
  } catch (const FileError& e) {
    return e.what();
  }
  return "no FileError";
}

}  // namespace

TEST_CASE("weights and normalisation load from a file written by save_parameters") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  LossNetwork<Vgg16<"relu2_2">, Cpu> source;
  for (auto& p : source.parameters()) testing::randomize(*p.value, rng);
  const fs::path path = scratch("full.safetensors");
  io::save_parameters(source.parameters(), path, caffe_metadata);

  LossNetwork<Vgg16<"relu1_2", "relu2_2">, Cpu> vgg;
  load_vgg_weights(vgg, path);
  auto a = source.parameters();
  auto b = vgg.parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i].value->to_host() == b[i].value->to_host());
  // Caffe normalisation: a pixel equal to the mean reaches conv1_1 as zero, so relu1_1 = relu(bias).
  LossNetwork<Vgg16<"relu1_1">, Cpu> first;
  load_vgg_weights(first, path);
  const std::vector<float> mean_pixel{123.68f, 116.779f, 103.939f};
  const auto f = first.forward(Tensor<float, Cpu>::from_host({1, 3, 1, 1}, mean_pixel))[0].to_host();
  const auto bias = b[1].value->to_host();
  for (int c = 0; c < 64; ++c) CHECK(f[c] == doctest::Approx(std::max(0.0f, bias[c])).epsilon(1e-4));
}

TEST_CASE("a file with fewer layers serves shallower taps and names what deeper ones lack") {
  std::mt19937_64 rng(testing::test_seed());
  const fs::path path = write_random<Vgg16<"relu1_2">>("short.safetensors", rng);
  LossNetwork<Vgg16<"relu1_2", "relu2_2">, Cpu> vgg;
  const std::string message = message_of([&] { load_vgg_weights(vgg, path); });
  CHECK(message.find("relu2_2") != std::string::npos);
  CHECK(message.find("conv2_1.weight") != std::string::npos);
  CHECK(message.find(path.string()) != std::string::npos);
  vgg.set_active_taps({true, false});
  CHECK_NOTHROW(load_vgg_weights(vgg, path));
}

TEST_CASE("the default style layers are the paper's where the file reaches conv4_3, else what block 3 has") {
  std::mt19937_64 rng(testing::test_seed());
  const auto layers = [&](auto net, const std::string& name) {
    return default_style_layers(io::SafetensorsFile(write_random<decltype(net)>(name, rng)));
  };
  using L = std::vector<std::string>;
  CHECK(layers(Vgg16<"relu4_3">{}, "vgg16.safetensors") == L{"relu1_2", "relu2_2", "relu3_3", "relu4_3"});
  CHECK(layers(Vgg19<"relu4_3">{}, "vgg19.safetensors") == L{"relu1_2", "relu2_2", "relu3_3", "relu4_3"});
  CHECK(layers(Vgg19<"relu3_4">{}, "vgg19_block3.safetensors") == L{"relu1_2", "relu2_2", "relu3_4"});
  CHECK(layers(Vgg16<"relu3_3">{}, "vgg16_block3.safetensors") == L{"relu1_2", "relu2_2", "relu3_3"});
  CHECK(layers(Vgg16<"relu2_2">{}, "vgg16_block2.safetensors") == L{"relu1_2", "relu2_2"});
  CHECK(message_of([&] { layers(Vgg16<"relu1_1">{}, "conv1_1.safetensors"); }).find("no conv1_2") != std::string::npos);
}

TEST_CASE("missing or malformed normalisation metadata is a FileError naming the key") {
  std::mt19937_64 rng(testing::test_seed());
  LossNetwork<Vgg16<"relu1_1">, Cpu> vgg;
  const auto none = write_random<Vgg16<"relu1_1">>("nometa.safetensors", rng, {});
  CHECK(message_of([&] { load_vgg_weights(vgg, none); }).find("input_mean") != std::string::npos);
  const auto two =
      write_random<Vgg16<"relu1_1">>("two.safetensors", rng, {{"input_mean", "1,2"}, {"input_std", "1,1,1"}});
  CHECK(message_of([&] { load_vgg_weights(vgg, two); }).find("3 values") != std::string::npos);
  const auto text =
      write_random<Vgg16<"relu1_1">>("text.safetensors", rng, {{"input_mean", "a,b,c"}, {"input_std", "1,1,1"}});
  CHECK(message_of([&] { load_vgg_weights(vgg, text); }).find("not a list of numbers") != std::string::npos);
  CHECK(message_of([&] { load_vgg_weights(vgg, scratch("absent.safetensors")); }).find("absent") != std::string::npos);
}

TEST_CASE("the shared VGG-19 weights give real features up to relu3_4") {
  const fs::path data = testing::shared_data("", "to read the shared VGG-19 weights");
  if (data.empty()) return;
  const fs::path path = data / "weights/vgg19_conv1_1-conv3_4.safetensors";
  CHECK(vgg_depth(io::SafetensorsFile(path)) == 19);
  LossNetwork<Vgg19<"relu1_1", "relu3_4">, Cpu> vgg;
  load_vgg_weights(vgg, path);
  const auto image = io::read_image<float>(data / "images/content/tubingen.jpg");
  const auto f = vgg.forward(image);
  CHECK(f[1].c() == 256);
  double sum = 0;
  std::size_t positive = 0, finite = 0;
  for (float v : f[1].to_host()) {
    finite += std::isfinite(v);
    sum += v;
    positive += v > 0;
  }
  CHECK(finite == f[1].size());
  CHECK(sum > 0);
  CHECK(positive > f[1].size() / 20);  // a real network: a fair share of units fire
  LossNetwork<Vgg19<"relu4_1">, Cpu> deep;
  CHECK_THROWS_AS(load_vgg_weights(deep, path), FileError);
}
