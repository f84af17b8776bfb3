#include "perceptual/layers/conv.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/layers/activation.hpp"
#include "perceptual/layers/compose.hpp"
#include "support/gradcheck.hpp"

using namespace perceptual;
using namespace perceptual::layers;

static_assert(concepts::layer<Conv2d<3, 32, 9, Reflect>>);
static_assert(concepts::layer<Conv2d<32, 64, 3, Stride<2>, Same, NoBias>>);
static_assert(concepts::layer<ConvTranspose2d<128, 64, 3, Stride<2>>>);

// Output sizes are constant expressions for static input sizes.
static_assert(Conv2d<3, 8, 3>::output_size({5, 7}) == Size2{5, 7});
static_assert(Conv2d<3, 8, 9, Reflect>::output_size({16, 12}) == Size2{16, 12});
static_assert(Conv2d<3, 8, 3, Stride<2>>::output_size({5, 8}) == Size2{3, 4});
static_assert(Conv2d<3, 8, 3, Reflect, Stride<2>>::output_size({8, 7}) == Size2{4, 4});
static_assert(Conv2d<3, 8, 3, Same, Stride<2>>::output_size({6, 5}) == Size2{3, 3});
static_assert(Conv2d<3, 8, 4, Same>::output_size({5, 6}) == Size2{5, 6});
static_assert(Conv2d<3, 8, 3, Valid>::output_size({5, 3}) == Size2{3, 1});
static_assert(Conv2d<3, 8, 3, Valid, Stride<2>>::output_size({7, 8}) == Size2{3, 3});
static_assert(ConvTranspose2d<8, 3, 3, Stride<2>>::output_size({3, 5}) == Size2{6, 10});
static_assert(ConvTranspose2d<8, 3, 3, Stride<2>, Same>::output_size({3, 5}) == Size2{6, 10});
static_assert(ConvTranspose2d<8, 3, 3>::output_size({3, 5}) == Size2{3, 5});
static_assert(Conv2d<3, 8, 3, Stride<2>, Reflect, NoBias>::stride == 2);
static_assert(!Conv2d<3, 8, 3, NoBias>::has_bias && Conv2d<3, 8, 3>::has_bias);

// A size the layer cannot take is not a constant expression: in a static context, a compile error.
template <class L, int H, int W>
concept takes_size = requires {
  typename std::integral_constant<int, L::output_size({H, W}).h>;
};
static_assert(takes_size<Conv2d<1, 1, 9, Reflect>, 5, 5>);
static_assert(!takes_size<Conv2d<1, 1, 9, Reflect>, 4, 9>);
static_assert(!takes_size<Conv2d<1, 1, 5, Valid>, 9, 4>);
static_assert(!takes_size<ConvTranspose2d<1, 1, 3, Stride<2>>, 0, 4>);

namespace {

using DTensor = Tensor<double, Cpu>;
using FTensor = Tensor<float, Cpu>;

template <class M>
void set_parameter(M& model, const std::string& name, const std::vector<double>& values) {
  for (auto& p : model.parameters())
    if (p.name == name) {
      *p.value = DTensor::from_host(p.value->shape(), values);
      return;
    }
  FAIL("no parameter " << name);
}

// 1..n in row-major order.
std::vector<double> iota(int n) {
  std::vector<double> v(n);
  for (int i = 0; i < n; ++i) v[i] = i + 1;
  return v;
}

// A 3x3 kernel with 1 at the top-left tap and 10 at the bottom-right: each output reads two input
// pixels whose positions show the alignment.
const std::vector<double> corner_taps{1, 0, 0, 0, 0, 0, 0, 0, 10};

template <class L>
std::vector<double> run(const std::vector<double>& weight, Shape4 input) {
  Model<L, Cpu, double> m;
  set_parameter(m, "weight", weight);
  return m.forward(DTensor::from_host(input, iota(static_cast<int>(input.size())))).to_host();
}

}  // namespace

TEST_CASE("Conv2d names itself with its options as written") {
  CHECK(Conv2d<64, 128, 3>::name() == "Conv2d<64,128,3>");
  CHECK(Conv2d<32, 64, 3, Reflect, Stride<2>>::name() == "Conv2d<32,64,3,Reflect,Stride<2>>");
  CHECK(ConvTranspose2d<128, 64, 3, Stride<2>>::name() == "ConvTranspose2d<128,64,3,Stride<2>>");
}

TEST_CASE("Conv2d zero-pads by (K-1)/2 and cross-correlates, as PyTorch does") {
  // x = 1..9 in 3x3; y(i, j) = x(i-1, j-1) + 10 x(i+1, j+1), zero outside.
  CHECK(run<Conv2d<1, 1, 3, NoBias>>(corner_taps, {1, 1, 3, 3}) == std::vector<double>{50, 60, 0, 80, 91, 2, 0, 4, 5});
  // All ones: 3x3 neighbourhood sums.
  CHECK(run<Conv2d<1, 1, 3, NoBias>>(std::vector<double>(9, 1), {1, 1, 3, 3}) ==
        std::vector<double>{12, 21, 16, 27, 45, 33, 24, 39, 28});
}

TEST_CASE("Conv2d with Reflect reads mirrored pixels at the border") {
  // x(-1) reflects to x(1), x(3) to x(1).
  CHECK(run<Conv2d<1, 1, 3, Reflect, NoBias>>(corner_taps, {1, 1, 3, 3}) ==
        std::vector<double>{5 + 50, 4 + 60, 5 + 50, 2 + 80, 1 + 90, 2 + 80, 5 + 50, 4 + 60, 5 + 50});
}

TEST_CASE("Conv2d with Same and stride 2 on an even size pads 0 before and 1 after, TensorFlow's alignment") {
  // x = 1..16 in 4x4: y(i, j) = x(2i, 2j) + 10 x(2i+2, 2j+2).
  CHECK(run<Conv2d<1, 1, 3, Same, Stride<2>, NoBias>>(corner_taps, {1, 1, 4, 4}) ==
        std::vector<double>{1 + 110, 3, 9, 11});
  // Zero padding on the same input starts one pixel earlier: y(i, j) = x(2i-1, 2j-1) + 10 x(2i+1, 2j+1).
  CHECK(run<Conv2d<1, 1, 3, Stride<2>, NoBias>>(corner_taps, {1, 1, 4, 4}) ==
        std::vector<double>{60, 80, 140, 6 + 160});
}

TEST_CASE("Conv2d with Same on an odd size pads evenly, and puts an odd pixel after") {
  // 5x5, stride 2: pad 1 and 1; y(i, j) = x(2i-1, 2j-1) + 10 x(2i+1, 2j+1), x = 1..25.
  CHECK(run<Conv2d<1, 1, 3, Same, Stride<2>, NoBias>>(corner_taps, {1, 1, 5, 5}) ==
        std::vector<double>{70, 90, 0, 170, 7 + 190, 9, 0, 17, 19});
  // 3x3 with a 4x4 kernel, stride 1: pad 1 before, 2 after; the bottom-right tap reads x(i+2, j+2).
  std::vector<double> w(16, 0);
  w[0] = 1;
  w[15] = 10;
  CHECK(run<Conv2d<1, 1, 4, Same, NoBias>>(w, {1, 1, 3, 3}) == std::vector<double>{90, 0, 0, 0, 1, 2, 0, 4, 5});
}

TEST_CASE("Conv2d with Valid reads only inside the input") {
  CHECK(run<Conv2d<1, 1, 3, Valid, NoBias>>(corner_taps, {1, 1, 4, 3}) == std::vector<double>{1 + 90, 4 + 120});
}

TEST_CASE("Conv2d weights are OIHW and the bias is added per output channel") {
  // 1x1 kernel, 2 -> 3 channels: y_o = sum_c w(o, c) x_c + b_o.
  Model<Conv2d<2, 3, 1>, Cpu, double> m;
  set_parameter(m, "weight", {1, 0, 0, 1, 2, -1});
  set_parameter(m, "bias", {0.5, 0, -3});
  const auto y = m.forward(DTensor::from_host({1, 2, 1, 2}, std::vector<double>{1, 2, 10, 20})).to_host();
  CHECK(y == std::vector<double>{1.5, 2.5, 10, 20, 2 - 10 - 3, 4 - 20 - 3});
}

TEST_CASE("ConvTranspose2d with stride 2 exactly doubles the input size, PyTorch's alignment by default") {
  // PyTorch: padding 1, output_padding 1; y(2a - 1 + ky, 2b - 1 + kx) += x(a, b) w(ky, kx).
  // Taps w(0,0) = 1, w(1,1) = 10, w(2,2) = 100 on x = [[1, 2], [3, 4]].
  const std::vector<double> w{1, 0, 0, 0, 10, 0, 0, 0, 100};
  CHECK(run<ConvTranspose2d<1, 1, 3, Stride<2>, NoBias>>(w, {1, 1, 2, 2}) == std::vector<double>{10, 0, 20, 0,    //
                                                                                                 0, 104, 0, 200,  //
                                                                                                 30, 0, 40, 0,    //
                                                                                                 0, 300, 0, 400});
}

TEST_CASE("ConvTranspose2d with Same follows TensorFlow's conv2d_transpose alignment") {
  // The adjoint of a SAME conv from 4x4 to 2x2 (pad 0 before): y(2a + ky, 2b + kx) += x(a, b) w(ky, kx).
  const std::vector<double> w{1, 0, 0, 0, 10, 0, 0, 0, 100};
  CHECK(run<ConvTranspose2d<1, 1, 3, Stride<2>, Same, NoBias>>(w, {1, 1, 2, 2}) == std::vector<double>{1, 0, 2, 0,    //
                                                                                                       0, 10, 0, 20,  //
                                                                                                       3, 0, 104, 0,  //
                                                                                                       0, 30, 0, 40});
}

TEST_CASE("ConvTranspose2d weights are (in, out, K, K), as PyTorch's ConvTranspose2d") {
  Model<ConvTranspose2d<2, 3, 1>, Cpu, double> m;
  set_parameter(m, "weight", {1, 2, 3, -1, 0, 1});  // w(i, o)
  set_parameter(m, "bias", {0, 0.5, 1});
  const auto y = m.forward(DTensor::from_host({1, 2, 1, 1}, std::vector<double>{10, 100})).to_host();
  CHECK(y == std::vector<double>{10 - 100, 20 + 0.5, 30 + 100 + 1});
}

TEST_CASE("Conv2d's geometry convolves the padded input; ConvTranspose2d's is the convolution it is the adjoint of") {
  CHECK(Conv2d<3, 8, 9, Reflect>::geometry({16, 12}, 2) == ConvGeometry({.batch = 2,
                                                                         .in_channels = 3,
                                                                         .out_channels = 8,
                                                                         .kernel = 9,
                                                                         .input = {24, 20},
                                                                         .output = {16, 12},
                                                                         .stride = 1,
                                                                         .pad_top = 0,
                                                                         .pad_left = 0}));
  const ConvGeometry same = Conv2d<3, 8, 3, Same, Stride<2>>::geometry({6, 5});
  CHECK(same.output_shape() == Shape4{1, 8, 3, 3});
  CHECK((same.pad_top() == 0 && same.pad_bottom() == 1));  // even size: the odd pixel after
  CHECK((same.pad_left() == 1 && same.pad_right() == 1));
  CHECK(ConvTranspose2d<8, 3, 3, Stride<2>>::geometry({3, 5}, 4) == ConvGeometry({.batch = 4,
                                                                                  .in_channels = 3,
                                                                                  .out_channels = 8,
                                                                                  .kernel = 3,
                                                                                  .input = {6, 10},
                                                                                  .output = {3, 5},
                                                                                  .stride = 2,
                                                                                  .pad_top = 1,
                                                                                  .pad_left = 1}));
}

TEST_CASE("a conv layer given a new input shape convolves with that shape's geometry, and backward follows it") {
  Model<Conv2d<1, 2, 3, Stride<2>>, Cpu> conv;
  CHECK(conv.forward(FTensor({1, 1, 4, 4})).shape() == Shape4{1, 2, 2, 2});
  CHECK(conv.forward(FTensor({2, 1, 7, 5})).shape() == Shape4{2, 2, 4, 3});
  CHECK(conv.backward(FTensor({2, 2, 4, 3})).shape() == Shape4{2, 1, 7, 5});
  CHECK(conv.forward(FTensor({1, 1, 4, 4})).shape() == Shape4{1, 2, 2, 2});
  CHECK_THROWS_AS(conv.backward(FTensor({2, 2, 4, 3})), ShapeError);
  Model<ConvTranspose2d<2, 1, 3, Stride<2>>, Cpu> deconv;
  CHECK(deconv.forward(FTensor({1, 2, 2, 2})).shape() == Shape4{1, 1, 4, 4});
  CHECK(deconv.forward(FTensor({3, 2, 3, 1})).shape() == Shape4{3, 1, 6, 2});
  CHECK(deconv.backward(FTensor({3, 1, 6, 2})).shape() == Shape4{3, 2, 3, 1});
}

TEST_CASE("a wrong channel count or size is a ShapeError that names the layer") {
  Model<Conv2d<3, 8, 3>, Cpu> conv;
  CHECK_THROWS_WITH_AS(conv.forward(FTensor({1, 4, 5, 5})), "Conv2d<3,8,3>: input 1x4x5x5, expected 3 channels",
                       ShapeError);
  Model<ConvTranspose2d<8, 3, 3, Stride<2>>, Cpu> deconv;
  CHECK_THROWS_WITH_AS(deconv.forward(FTensor({1, 3, 5, 5})), doctest::Contains("ConvTranspose2d<8,3,3"), ShapeError);
  Model<Conv2d<1, 1, 9, Reflect>, Cpu> reflect;
  CHECK_THROWS_WITH_AS(reflect.forward(FTensor({1, 1, 4, 9})), doctest::Contains("Conv2d<1,1,9,Reflect>: input 4x9"),
                       ShapeError);
  using Valid5 = Conv2d<1, 1, 5, Valid>;
  CHECK_THROWS_WITH_AS(Valid5::output_size({4, 7}), doctest::Contains("Conv2d<1,1,5,Valid>: input 4x7"), ShapeError);
}

TEST_CASE("backward checks that a forward came first and that the gradient has the output's shape") {
  Model<Conv2d<1, 2, 3>, Cpu> m;
  CHECK_THROWS_AS(m.backward(FTensor({1, 2, 4, 4})), Error);
  m.forward(FTensor({1, 1, 4, 4}));
  CHECK_THROWS_WITH_AS(m.backward(FTensor({1, 2, 3, 4})), doctest::Contains("Conv2d<1,2,3>: gradient 1x2x3x4"),
                       ShapeError);
}

TEST_CASE("initialize draws PyTorch's uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), reproducibly") {
  Model<Conv2d<4, 8, 3>, Cpu> a, b;
  a.initialize(7);
  b.initialize(7);
  for (auto& p : a.parameters()) {
    const auto v = p.value->to_host();
    const double bound = 1 / std::sqrt(4.0 * 3 * 3);
    INFO(p.name);
    CHECK(*std::max_element(v.begin(), v.end()) <= bound);
    CHECK(*std::min_element(v.begin(), v.end()) >= -bound);
    if (p.name == "weight") CHECK(*std::max_element(v.begin(), v.end()) > bound / 2);  // spread, not all zero
  }
  CHECK(a.parameters()[0].value->to_host() == b.parameters()[0].value->to_host());
}

TEST_CASE("parameter gradients accumulate, and a frozen layer computes none") {
  Model<Conv2d<2, 2, 3, Stride<2>>, Cpu, double> m;
  m.initialize(1);
  std::mt19937_64 rng(testing::test_seed());
  const auto x = testing::random_tensor<double>({1, 2, 5, 5}, rng);
  const auto dy = testing::random_tensor<double>({1, 2, 3, 3}, rng);
  m.zero_grad();
  m.forward(x);
  m.backward(dy);
  const auto once = m.parameters()[0].grad->to_host();
  m.backward(dy);
  const auto twice = m.parameters()[0].grad->to_host();
  for (std::size_t i = 0; i < once.size(); ++i) CHECK(twice[i] == doctest::Approx(2 * once[i]));

  m.zero_grad();
  m.set_trainable(false);
  m.forward(x);
  CHECK(m.backward(dy).shape() == x.shape());
  for (auto& p : m.parameters()) CHECK(sum(*p.grad) == 0.0);
}

TEST_CASE("Conv2d gradients match finite differences in every padding mode, stride 1 and 2") {
  testing::check_gradients<Conv2d<2, 3, 3>>({2, 2, 5, 6});
  testing::check_gradients<Conv2d<2, 3, 3, Stride<2>>>({2, 2, 5, 6});
  testing::check_gradients<Conv2d<2, 3, 3, Reflect>>({1, 2, 4, 5});
  testing::check_gradients<Conv2d<2, 3, 5, Reflect, Stride<2>>>({1, 2, 5, 6});
  testing::check_gradients<Conv2d<2, 3, 3, Same>>({1, 2, 5, 4});
  testing::check_gradients<Conv2d<2, 3, 3, Same, Stride<2>>>({2, 2, 6, 5});
  testing::check_gradients<Conv2d<2, 3, 4, Same, Stride<2>>>({1, 2, 7, 6});
  testing::check_gradients<Conv2d<2, 3, 3, Valid>>({1, 2, 5, 4});
  testing::check_gradients<Conv2d<2, 3, 3, Valid, Stride<2>, NoBias>>({2, 2, 7, 6});
  testing::check_gradients<Conv2d<3, 2, 1>>({2, 3, 3, 4});
}

TEST_CASE("ConvTranspose2d gradients match finite differences, PyTorch and TensorFlow alignments") {
  testing::check_gradients<ConvTranspose2d<3, 2, 3, Stride<2>>>({2, 3, 3, 4});
  testing::check_gradients<ConvTranspose2d<3, 2, 3, Stride<2>, Same>>({2, 3, 4, 3});
  testing::check_gradients<ConvTranspose2d<3, 2, 4, Stride<2>, Same, NoBias>>({1, 3, 3, 3});
  testing::check_gradients<ConvTranspose2d<2, 2, 3>>({1, 2, 4, 4});
}

TEST_CASE("a strided encoder and a transposed decoder give back the input size") {
  using Net = Sequential<Conv2d<3, 4, 3, Reflect, Stride<2>>, ReLU, ConvTranspose2d<4, 3, 3, Stride<2>>>;
  static_assert(Net::output_size({8, 6}) == Size2{8, 6});
  testing::check_gradients<Net>({1, 3, 8, 6});
}
