#include "perceptual/nets/transform.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/core/model.hpp"
#include "support/gradcheck.hpp"
#include "support/random.hpp"

using namespace perceptual;
using namespace perceptual::nets;
using namespace perceptual::layers;

namespace {

template <class M>
std::map<std::string, Shape4> parameter_shapes(M& model) {
  std::map<std::string, Shape4> out;
  for (auto& p : model.parameters()) out.emplace(p.name, p.value->shape());
  return out;
}

// Sizes come out as 4 * ceil(n / 4): two stride-2 halvings (ceil) and two exact doublings.
static_assert(StyleTransformNet<>::output_size({256, 256}) == Size2{256, 256});
static_assert(StyleTransformNet<>::output_size({16, 20}) == Size2{16, 20});
static_assert(StyleTransformNet<>::output_size({13, 15}) == Size2{16, 16});
static_assert(StyleTransformNet<>::output_size({14, 17}) == Size2{16, 20});
static_assert(StyleTransformNet<BatchNormDefault>::output_size({474, 712}) == Size2{476, 712});
static_assert(SuperResolutionNet<4>::output_size({9, 11}) == Size2{36, 44});
static_assert(SuperResolutionNet<8>::output_size({9, 11}) == Size2{72, 88});

}  // namespace

TEST_CASE("StyleTransformNet keeps a multiple-of-4 size and rounds other sizes up to one") {
  Model<StyleTransformNet<>, Cpu, float> net;
  net.initialize(7).eval();
  std::mt19937_64 rng(1);
  for (Size2 s : {Size2{12, 16}, Size2{13, 15}, Size2{14, 17}}) {
    INFO("input " << to_string(s));
    const auto y = net.forward(testing::random_tensor<float>({2, 3, s.h, s.w}, rng, 0, 255));
    CHECK(y.shape() == Shape4{2, 3, 4 * ((s.h + 3) / 4), 4 * ((s.w + 3) / 4)});
    const auto v = y.to_host();
    CHECK(*std::min_element(v.begin(), v.end()) >= 0.0f);
    CHECK(*std::max_element(v.begin(), v.end()) <= 255.0f);
    CHECK(*std::max_element(v.begin(), v.end()) > *std::min_element(v.begin(), v.end()));
  }
}

TEST_CASE("StyleTransformNet names its parameters after its layers") {
  Model<StyleTransformNet<>, Cpu, float> net;
  const auto shapes = parameter_shapes(net);
  // 3 convs and 2 deconvs with bias and norm (4 each), 5 blocks of 2 such (8 each), conv_out's weight and bias.
  CHECK(net.parameters().size() == 62);
  CHECK(shapes.size() == 62);  // names unique
  CHECK(shapes.at("conv1.weight") == Shape4{32, 3, 9, 9});
  CHECK(shapes.at("conv1.bias") == Shape4{1, 32, 1, 1});
  CHECK(shapes.at("conv1.norm.weight") == Shape4{1, 32, 1, 1});
  CHECK(shapes.at("conv2.weight") == Shape4{64, 32, 3, 3});
  CHECK(shapes.at("conv3.norm.bias") == Shape4{1, 128, 1, 1});
  for (int b = 1; b <= 5; ++b) {
    const std::string res = "res" + std::to_string(b) + ".";
    INFO(res);
    CHECK(shapes.at(res + "conv1.weight") == Shape4{128, 128, 3, 3});
    CHECK(shapes.at(res + "conv1.norm.weight") == Shape4{1, 128, 1, 1});
    CHECK(shapes.at(res + "conv2.bias") == Shape4{1, 128, 1, 1});
    CHECK(shapes.at(res + "conv2.norm.bias") == Shape4{1, 128, 1, 1});
  }
  CHECK(shapes.at("deconv1.weight") == Shape4{128, 64, 3, 3});  // (In, Out, K, K) as PyTorch
  CHECK(shapes.at("deconv2.weight") == Shape4{64, 32, 3, 3});
  CHECK(shapes.at("deconv2.norm.weight") == Shape4{1, 32, 1, 1});
  CHECK(shapes.at("conv_out.weight") == Shape4{3, 32, 9, 9});
  CHECK(shapes.at("conv_out.bias") == Shape4{1, 3, 1, 1});
  CHECK_FALSE(shapes.contains("conv_out.norm.weight"));  // Johnson's output layer has no norm
}

TEST_CASE("StyleTransformNet with batch norm adds the running statistics under the same names") {
  Model<StyleTransformNet<BatchNormDefault>, Cpu, float> net;
  const auto shapes = parameter_shapes(net);
  CHECK(shapes.size() == 62 + 2 * 15);  // 15 norms, each with running mean and variance
  CHECK(shapes.at("conv1.norm.running_mean") == Shape4{1, 32, 1, 1});
  CHECK(shapes.at("res4.conv2.norm.running_var") == Shape4{1, 128, 1, 1});
  net.initialize(3).eval();
  std::mt19937_64 rng(2);
  CHECK(net.forward(testing::random_tensor<float>({1, 3, 10, 11}, rng, 0, 255)).shape() == Shape4{1, 3, 12, 12});
}

TEST_CASE("SuperResolutionNet upsamples by its factor with log2(factor) transposed convolutions") {
  Model<SuperResolutionNet<4>, Cpu, float> x4;
  Model<SuperResolutionNet<8>, Cpu, float> x8;
  const auto s4 = parameter_shapes(x4);
  const auto s8 = parameter_shapes(x8);
  CHECK(s4.at("conv1.weight") == Shape4{64, 3, 9, 9});
  CHECK(s4.at("res4.conv2.weight") == Shape4{64, 64, 3, 3});
  CHECK_FALSE(s4.contains("res5.conv1.weight"));
  CHECK(s4.at("deconv2.weight") == Shape4{64, 64, 3, 3});
  CHECK_FALSE(s4.contains("deconv3.weight"));
  CHECK(s8.at("deconv3.norm.weight") == Shape4{1, 64, 1, 1});
  CHECK(s4.at("conv_out.weight") == Shape4{3, 64, 9, 9});
  CHECK(s8.size() == s4.size() + 4);

  x4.initialize(5).eval();
  x8.initialize(5).eval();
  std::mt19937_64 rng(3);
  const auto lr = testing::random_tensor<float>({1, 3, 9, 11}, rng, 0, 255);
  CHECK(x4.forward(lr).shape() == Shape4{1, 3, 36, 44});
  CHECK(x8.forward(lr).shape() == Shape4{1, 3, 72, 88});
}

TEST_CASE("The residual block's gradients match finite differences") {
  testing::check_gradients<TransformResidualBlock<3>>({2, 3, 5, 6});
  testing::check_gradients<TransformResidualBlock<2, BatchNormDefault>>({2, 2, 4, 5});
}

TEST_CASE("A miniature transform net (down, residual, up, scaled tanh) has matching gradients") {
  using Mini = Sequential<Named<"conv1", Conv2d<3, 4, 3, Reflect, Stride<2>>>, Named<"conv1.norm", InstanceNorm<4>>,
                          ReLU, Named<"res1", TransformResidualBlock<4>>,
                          Named<"deconv1", ConvTranspose2d<4, 3, 3, Stride<2>>>, ScaledTanh<>>;
  static_assert(Mini::output_size({6, 7}) == Size2{6, 8});
  testing::check_gradients<Mini>({1, 3, 6, 7});
}
