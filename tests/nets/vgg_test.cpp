#include "perceptual/nets/vgg.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "support/gradcheck.hpp"

using namespace perceptual;
using namespace perceptual::nets;

static_assert(Vgg16<"relu1_1">::num_stages == 1);
static_assert(Vgg16<"relu2_2">::num_stages == 4);
static_assert(Vgg16<"relu4_3", "relu1_2">::num_stages == 10);  // taps in any order
static_assert(Vgg19<"relu3_4">::num_stages == 8);
static_assert(Vgg19<"relu5_4">::num_stages == 16);
static_assert(JohnsonStyleVgg::num_taps == 4);

namespace {

template <class Net>
void randomize_weights(LossNetwork<Net, Cpu, double>& vgg, std::mt19937_64& rng) {
  for (auto& p : vgg.parameters()) testing::randomize(*p.value, rng, -0.3, 0.3);
}

}  // namespace

TEST_CASE("Vgg16 to relu2_2 holds exactly conv1_1 to conv2_2, named as in weight files") {
  LossNetwork<Vgg16<"relu2_2">, Cpu> vgg;
  std::vector<std::string> names;
  std::vector<Shape4> shapes;
  for (auto& p : vgg.parameters()) {
    names.push_back(p.name);
    shapes.push_back(p.value->shape());
    CHECK_FALSE(p.learnable());  // frozen: no parameter gradients
  }
  CHECK(names == std::vector<std::string>{"conv1_1.weight", "conv1_1.bias", "conv1_2.weight", "conv1_2.bias",
                                          "conv2_1.weight", "conv2_1.bias", "conv2_2.weight", "conv2_2.bias"});
  CHECK(shapes[0] == Shape4{64, 3, 3, 3});
  CHECK(shapes[4] == Shape4{128, 64, 3, 3});
  CHECK(Vgg19<"relu3_4">::conv_name(7) == "conv3_4");
}

TEST_CASE("taps give features of the layer's channels and resolution") {
  LossNetwork<Vgg16<"relu1_2", "relu2_2", "relu3_3">, Cpu> vgg;
  const auto f = vgg.forward(Tensor<float, Cpu>({2, 3, 16, 12}));
  CHECK(f[0].shape() == Shape4{2, 64, 16, 12});
  CHECK(f[1].shape() == Shape4{2, 128, 8, 6});
  CHECK(f[2].shape() == Shape4{2, 256, 4, 3});
}

TEST_CASE("inactive taps are not computed and their layers are not needed") {
  LossNetwork<Vgg19<"relu1_1", "relu3_1">, Cpu> vgg;
  CHECK(vgg.stages_needed() == 5);
  vgg.set_active_taps({true, false});
  CHECK(vgg.stages_needed() == 1);
  CHECK(vgg.parameters().size() == 2);
  const auto f = vgg.forward(Tensor<float, Cpu>({1, 3, 8, 8}));
  CHECK(f[0].shape() == Shape4{1, 64, 8, 8});
  CHECK(f[1].empty());
  CHECK_THROWS_AS(vgg.set_active_taps({false, false}), ArgumentError);
}

TEST_CASE("the input is normalised per channel before the first convolution") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  LossNetwork<Vgg16<"relu1_1">, Cpu, double> a, b;
  randomize_weights<Vgg16<"relu1_1">>(a, rng);
  auto pa = a.parameters();
  auto pb = b.parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) *pb[i].value = *pa[i].value;
  const std::vector<double> mean{100, 110, 120}, stddev{50, 60, 70};
  a.set_normalization(mean, stddev);
  b.set_normalization({0, 0, 0}, {1, 1, 1});
  const auto x = testing::random_tensor<double>({1, 3, 5, 5}, rng, 0, 255);
  std::vector<double> v = x.to_host();
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 25; ++i) v[c * 25 + i] = (v[c * 25 + i] - mean[c]) / stddev[c];
  const auto fa = a.forward(x)[0].to_host();
  const auto fb = b.forward(Tensor<double, Cpu>::from_host({1, 3, 5, 5}, v))[0].to_host();
  for (std::size_t i = 0; i < fa.size(); ++i) REQUIRE(fa[i] == doctest::Approx(fb[i]).epsilon(1e-12));
}

TEST_CASE("a wrong channel count is a ShapeError naming the network") {
  LossNetwork<Vgg16<"relu1_1">, Cpu> vgg;
  CHECK_THROWS_WITH_AS(vgg.forward(Tensor<float, Cpu>({1, 1, 8, 8})), doctest::Contains("Vgg16"), ShapeError);
}

TEST_CASE("gradients injected at several taps match finite differences of the input") {
  using Net = Vgg16<"relu1_2", "relu2_1">;
  const auto seed = testing::test_seed();
  INFO("seed " << seed << " (replay with PERCEPTUAL_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  LossNetwork<Net, Cpu, double> vgg;
  randomize_weights<Net>(vgg, rng);
  vgg.set_normalization({120, 110, 100}, {60, 50, 40});
  const Shape4 shape{1, 3, 6, 6};
  std::vector<double> x = testing::random_tensor<double>(shape, rng, 0, 255).to_host();
  auto features = vgg.forward(Tensor<double, Cpu>::from_host(shape, x));
  LossNetwork<Net, Cpu, double>::Features r;
  for (int t = 0; t < Net::num_taps; ++t) r[t] = testing::random_tensor<double>(features[t].shape(), rng);
  const std::vector<double> dx = vgg.backward(r).to_host();
  auto loss = [&] {
    const auto f = vgg.forward(Tensor<double, Cpu>::from_host(shape, x));
    return dot(f[0], r[0]) + dot(f[1], r[1]);
  };
  testing::compare_entries("dL/dx", x, dx, loss, rng, {.step = 1e-4});
}

TEST_CASE("backward from gradients given up (an rvalue) gives the same and frees each tap's gradient") {
  using Net = Vgg16<"relu1_2", "relu2_1">;
  std::mt19937_64 rng(testing::test_seed());
  LossNetwork<Net, Cpu, double> vgg;
  randomize_weights<Net>(vgg, rng);
  const auto features = vgg.forward(testing::random_tensor<double>({2, 3, 8, 8}, rng, 0, 255));
  LossNetwork<Net, Cpu, double>::Features r;
  for (int t = 0; t < Net::num_taps; ++t) r[t] = testing::random_tensor<double>(features[t].shape(), rng);
  const auto kept = r;
  const auto dx = vgg.backward(r).to_host();
  for (int t = 0; t < Net::num_taps; ++t) CHECK(r[t].to_host() == kept[t].to_host());  // read, not changed
  CHECK(vgg.backward(std::move(r)).to_host() == dx);
  for (const auto& g : r) CHECK(g.empty());
}
