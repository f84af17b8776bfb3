#include "perceptual/backend/cpu/dnnl.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/conv.hpp"
#include "support/conv_geometry.hpp"
#include "support/random.hpp"

using namespace perceptual;
using namespace perceptual::cpu;

namespace {

// How a drawn case pads: zero padding (K-1)/2 on each side; TensorFlow's SAME (the odd pixel
// after); none, as a convolution on an input that reflect_pad has already padded; and the adjoint
// geometry of a transposed convolution with stride S (input S times the output).
enum class Padding { zero, same, reflected, transposed };

const char* name(Padding p) {
  switch (p) {
    case Padding::zero:
      return "zero";
    case Padding::same:
      return "same";
    case Padding::reflected:
      return "reflected (pad 0)";
    case Padding::transposed:
      return "transposed";
  }
  return "?";
}

// A random geometry of the given kind: random channels and a non-square image.
ConvGeometry draw(Padding p, int k, int stride, int n, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> channels(1, 6), size(1, 11);
  ConvGeometry::Sizes g{};
  g.batch = n;
  g.in_channels = channels(rng);
  g.out_channels = channels(rng);
  g.kernel = k;
  g.stride = stride;
  const auto axis = [&](int& in, int& out, int& pad) {
    switch (p) {
      case Padding::zero:
        in = size(rng);
        pad = (k - 1) / 2;
        in = std::max(in, k - 2 * pad);
        out = (in + 2 * pad - k) / stride + 1;
        break;
      case Padding::same:
        in = size(rng);
        out = (in + stride - 1) / stride;
        pad = std::max((out - 1) * stride + k - in, 0) / 2;
        break;
      case Padding::reflected:
        in = size(rng) + k - 1;
        out = (in - k) / stride + 1;
        pad = 0;
        break;
      case Padding::transposed:
        out = size(rng);
        in = stride * out;
        pad = (k - 1) / 2;
        break;
    }
  };
  axis(g.input.h, g.output.h, g.pad_top);
  do axis(g.input.w, g.output.w, g.pad_left);
  while (g.input.w == g.input.h);
  return ConvGeometry(g);
}

std::string describe(const ConvGeometry& g) {
  std::ostringstream s;
  s << "n" << g.n() << " c" << g.c() << " " << g.in_h() << "x" << g.in_w() << " o" << g.o() << " k" << g.k() << " s"
    << g.stride() << " pad " << g.pad_top() << "," << g.pad_left() << " out " << g.out_h() << "x" << g.out_w()
    << " (pad after " << g.pad_bottom() << "," << g.pad_right() << ")";
  return s.str();
}

// ‖a − b‖∞ / ‖b‖∞: relative to the result's magnitude, so one bound serves 1 tap and 486.
double relative_error(const Tensor<float, Cpu>& a, const Tensor<float, Cpu>& b) {
  REQUIRE(a.shape() == b.shape());
  const auto av = a.to_host(), bv = b.to_host();
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < av.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(av[i]) - bv[i]));
    scale = std::max(scale, std::abs(static_cast<double>(bv[i])));
  }
  return diff / std::max(scale, 1e-30);
}

// Float sums of up to a few hundred products: a few units of 2^-24 relative to the largest entry.
constexpr double tolerance = 1e-5;

struct Results {
  Tensor<float, Cpu> y, y_bias, dx, dw;  // y_bias: forward with the bias added as it writes
};

Results run(const ConvGeometry& g, ConvRoute route, const Tensor<float, Cpu>& x, const Tensor<float, Cpu>& w,
            const Tensor<float, Cpu>& bias, const Tensor<float, Cpu>& dy) {
  return {detail::conv2d_forward(x, w, nullptr, g, route), detail::conv2d_forward(x, w, &bias, g, route),
          detail::conv2d_backward_data(dy, w, g, route), detail::conv2d_backward_filter(x, dy, g, route)};
}

}  // namespace

TEST_CASE(
    "oneDNN's three convolution ops, and forward with a bias, agree with im2col for random geometries, both layouts") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  int tried = 0;
  for (Padding p : {Padding::zero, Padding::same, Padding::reflected, Padding::transposed})
    for (int k : {1, 3, 9})
      for (int stride : {1, 2})
        for (int n : {1, 3}) {
          const ConvGeometry g = draw(p, k, stride, n, rng);
          INFO(name(p) << ": " << describe(g));
          REQUIRE(onednn::can_implement(g));
          const auto x = testing::random_tensor<float>(g.input_shape(), rng);
          const auto w = testing::random_tensor<float>(g.filter_shape(), rng);
          const auto dy = testing::random_tensor<float>(g.output_shape(), rng);
          const auto bias = testing::random_tensor<float>({1, g.o(), 1, 1}, rng);
          const Results ref = run(g, ConvRoute::im2col, x, w, bias, dy);
          auto biased = ref.y;
          add_bias(biased, bias);
          CHECK(relative_error(ref.y_bias, biased) < tolerance);
          for (ConvRoute route : {ConvRoute::onednn_nchw, ConvRoute::onednn_blocked}) {
            INFO((route == ConvRoute::onednn_nchw ? "nchw" : "blocked"));
            const Results got = run(g, route, x, w, bias, dy);
            CHECK(relative_error(got.y, ref.y) < tolerance);
            CHECK(relative_error(got.y_bias, biased) < tolerance);
            CHECK(relative_error(got.dx, ref.dx) < tolerance);
            CHECK(relative_error(got.dw, ref.dw) < tolerance);
          }
          ++tried;
        }
  CHECK(tried == 48);
}

TEST_CASE("the parity check sees a convolution off by one pixel") {
  // The same check as above, on results that must differ: a tolerance too loose to fail would pass this.
  std::mt19937_64 rng(7);
  const ConvGeometry g = testing::conv_geometry(2, 3, 9, 7, 4, 3, 1, 1, 1, 9, 7);
  const auto x = testing::random_tensor<float>(g.input_shape(), rng);
  const auto w = testing::random_tensor<float>(g.filter_shape(), rng);
  const auto ref = detail::conv2d_forward(x, w, nullptr, g, ConvRoute::im2col);
  const auto shifted = detail::conv2d_forward(x, w, nullptr, testing::conv_geometry(2, 3, 9, 7, 4, 3, 1, 1, 2, 9, 7),
                                              ConvRoute::onednn_nchw);
  CHECK(relative_error(shifted, ref) > 100 * tolerance);
}

TEST_CASE("float convolutions take oneDNN, double and what oneDNN cannot express or runs slower take im2col") {
  const ConvGeometry image = testing::conv_geometry(1, 3, 8, 8, 4, 3, 2, 0, 0, 4, 4);  // SAME, padding after 1
  const ConvGeometry features = testing::conv_geometry(1, 32, 8, 8, 4, 3, 1, 1, 1, 8, 8);
  CHECK(conv_route<float>(ConvOp::forward, image) == ConvRoute::onednn_nchw);
  // Past one 256x256 image's outputs, the image input's forward goes blocked too.
  CHECK(conv_route<float>(ConvOp::forward, testing::conv_geometry(1, 3, 256, 256, 32, 9, 1, 4, 4, 256, 256)) ==
        ConvRoute::onednn_nchw);
  CHECK(conv_route<float>(ConvOp::forward, testing::conv_geometry(2, 3, 256, 256, 32, 9, 1, 4, 4, 256, 256)) ==
        ConvRoute::onednn_blocked);
  CHECK(conv_route<float>(ConvOp::forward, testing::conv_geometry(1, 3, 1080, 1920, 32, 9, 1, 4, 4, 1080, 1920)) ==
        ConvRoute::onednn_blocked);
  CHECK(conv_route<float>(ConvOp::backward_data, image) == ConvRoute::im2col);
  CHECK(conv_route<float>(ConvOp::backward_filter, image) == ConvRoute::onednn_blocked);
  for (ConvOp op : {ConvOp::forward, ConvOp::backward_data, ConvOp::backward_filter}) {
    CHECK(conv_route<float>(op, features) == ConvRoute::onednn_blocked);
    CHECK(conv_route<double>(op, features) == ConvRoute::im2col);
  }

  // An 11-pixel side read by a 3-tap, stride-4 kernel at rows 0-2 and 4-6 only (the output is given
  // as 2): padding_r = -4, a whole stride past the last tap, which oneDNN cannot describe.
  const ConvGeometry short_output = testing::conv_geometry(1, 1, 11, 11, 1, 3, 4, 0, 0, 2, 2);
  REQUIRE(short_output.pad_bottom() == -4);
  CHECK_FALSE(onednn::can_implement(short_output));
  CHECK(conv_route<float>(ConvOp::forward, short_output) == ConvRoute::im2col);
  std::vector<float> ramp(121);
  for (int i = 0; i < 121; ++i) ramp[i] = static_cast<float>(i);
  const auto x = Tensor<float, Cpu>::from_host({1, 1, 11, 11}, ramp);
  const auto w = Tensor<float, Cpu>::from_host({1, 1, 3, 3}, std::vector<float>{0, 0, 0, 0, 1, 0, 0, 0, 0});
  // The centre taps: (1,1), (1,5), (5,1), (5,5).
  CHECK(conv2d_forward(x, w, short_output).to_host() == std::vector<float>{12, 16, 56, 60});
  CHECK_THROWS_AS(detail::conv2d_forward(x, w, nullptr, short_output, ConvRoute::onednn_nchw), ArgumentError);
  CHECK_THROWS_AS(
      detail::conv2d_forward(Tensor<double, Cpu>({1, 1, 4, 4}), Tensor<double, Cpu>({1, 1, 3, 3}), nullptr,
                             testing::conv_geometry(1, 1, 4, 4, 1, 3, 1, 1, 1, 4, 4), ConvRoute::onednn_nchw),
      ArgumentError);
}

TEST_CASE("a cached oneDNN primitive serves a second call with new data, and other geometries get their own") {
  std::mt19937_64 rng(3);
  for (int size : {12, 12, 13, 12}) {
    INFO("size " << size);
    const auto x = testing::random_tensor<float>({1, 4, size, size}, rng);
    const auto w = testing::random_tensor<float>({5, 4, 3, 3}, rng);
    const ConvGeometry g = testing::conv_geometry(1, 4, size, size, 5, 3, 1, 1, 1, size, size);
    const auto ref = detail::conv2d_forward(x, w, nullptr, g, ConvRoute::im2col);
    CHECK(relative_error(conv2d_forward(x, w, g), ref) < tolerance);
  }
}
