#include "perceptual/backend/cpu/conv.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <random>
#include <vector>

#include "perceptual/backend/cpu/pointwise.hpp"
#include "support/random.hpp"

using namespace perceptual;
using namespace perceptual::cpu;

namespace {

struct Case {
  int n, c, h, w, o, k, stride, pad_top, pad_left, out_h, out_w;
};

ConvGeometry geometry(const Case& g) {
  return ConvGeometry({.batch = g.n,
                       .in_channels = g.c,
                       .out_channels = g.o,
                       .kernel = g.k,
                       .input = {g.h, g.w},
                       .output = {g.out_h, g.out_w},
                       .stride = g.stride,
                       .pad_top = g.pad_top,
                       .pad_left = g.pad_left});
}

// The definition, one output entry at a time.
template <class T>
double direct_conv(const std::vector<T>& x, const std::vector<T>& w, const Case& g, int n, int o, int oy, int ox) {
  double s = 0;
  for (int c = 0; c < g.c; ++c)
    for (int ky = 0; ky < g.k; ++ky)
      for (int kx = 0; kx < g.k; ++kx) {
        const int iy = oy * g.stride - g.pad_top + ky, ix = ox * g.stride - g.pad_left + kx;
        if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
        s += static_cast<double>(w[((o * g.c + c) * g.k + ky) * g.k + kx]) * x[((n * g.c + c) * g.h + iy) * g.w + ix];
      }
  return s;
}

// Geometries covering the pointwise shortcut, strides 1-3, asymmetric and oversized padding,
// outputs that stop short of the input and outputs that read past it. Float takes oneDNN where it
// can (conv_route), double im2col: the definition checks both routes.
const std::vector<Case> cases = {
    {2, 3, 5, 6, 4, 3, 1, 1, 1, 5, 6},  // zero pad 1
    {1, 2, 6, 6, 3, 3, 2, 0, 0, 3, 3},  // TF SAME, stride 2, even size: pad 0 before, 1 after
    {2, 2, 7, 5, 2, 3, 2, 1, 1, 4, 3},  // odd sizes, stride 2
    {1, 3, 4, 4, 2, 1, 1, 0, 0, 4, 4},  // 1x1: no im2col
    {2, 3, 4, 5, 2, 1, 2, 0, 0, 2, 3},  // 1x1 with stride: im2col
    {1, 2, 5, 5, 3, 4, 1, 1, 2, 5, 4},  // even kernel, asymmetric padding
    {1, 1, 3, 3, 2, 5, 3, 4, 3, 3, 2},  // padding larger than the kernel's reach
    {1, 2, 8, 7, 2, 3, 1, 0, 0, 6, 5},  // valid
    {1, 2, 4, 6, 3, 9, 2, 4, 4, 2, 3},  // padding wider than the output: some taps miss every output row
};

}  // namespace

TEST_CASE_TEMPLATE("conv2d_forward matches the definition, zero outside the input", T, float, double) {
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (const Case& g : cases) {
    INFO("case n" << g.n << " c" << g.c << " " << g.h << "x" << g.w << " o" << g.o << " k" << g.k << " s" << g.stride
                  << " pad " << g.pad_top << "," << g.pad_left << " out " << g.out_h << "x" << g.out_w);
    const auto x = testing::random_tensor<T>({g.n, g.c, g.h, g.w}, rng);
    const auto w = testing::random_tensor<T>({g.o, g.c, g.k, g.k}, rng);
    const auto y = conv2d_forward(x, w, geometry(g));
    REQUIRE(y.shape() == Shape4{g.n, g.o, g.out_h, g.out_w});
    const auto xv = x.to_host(), wv = w.to_host(), yv = y.to_host();
    for (int n = 0; n < g.n; ++n)
      for (int o = 0; o < g.o; ++o)
        for (int oy = 0; oy < g.out_h; ++oy)
          for (int ox = 0; ox < g.out_w; ++ox)
            CHECK(yv[((n * g.o + o) * g.out_h + oy) * g.out_w + ox] ==
                  doctest::Approx(direct_conv(xv, wv, g, n, o, oy, ox)).epsilon(1e-5));
  }
}

TEST_CASE("the data and filter gradients are the adjoints of conv2d_forward") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (const Case& g : cases) {
    INFO("case k" << g.k << " s" << g.stride << " pad " << g.pad_top << "," << g.pad_left);
    const auto x = testing::random_tensor<double>({g.n, g.c, g.h, g.w}, rng);
    const auto w = testing::random_tensor<double>({g.o, g.c, g.k, g.k}, rng);
    const auto dy = testing::random_tensor<double>({g.n, g.o, g.out_h, g.out_w}, rng);
    // <conv(x, w), dy> = <x, conv^T_x(dy)> = <w, conv^T_w(dy)>
    const double lhs = dot(conv2d_forward(x, w, geometry(g)), dy);
    const auto dx = conv2d_backward_data(dy, w, geometry(g));
    const auto dw = conv2d_backward_filter(x, dy, geometry(g));
    REQUIRE(dx.shape() == x.shape());
    REQUIRE(dw.shape() == w.shape());
    CHECK(dot(x, dx) == doctest::Approx(lhs).epsilon(1e-12));
    CHECK(dot(w, dw) == doctest::Approx(lhs).epsilon(1e-12));
  }
}

TEST_CASE("a 9x9 convolution too big for one im2col band is cut into bands with the same result") {
  // 64 channels x 81 taps x 256 columns x 4 bytes = 5.3 MB per output row: about 12 rows a band.
  const Case g{1, 64, 256, 256, 2, 9, 1, 4, 4, 256, 256};
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  const auto x = testing::random_tensor<float>({g.n, g.c, g.h, g.w}, rng);
  const auto w = testing::random_tensor<float>({g.o, g.c, g.k, g.k}, rng);
  const auto y = conv2d_forward(x, w, geometry(g));
  const auto xv = x.to_host(), wv = w.to_host(), yv = y.to_host();
  std::uniform_int_distribution<int> row(0, g.out_h - 1), o(0, g.o - 1);
  for (int i = 0; i < 64; ++i) {  // rows at random, every column: band edges are rows
    const int oc = o(rng), oy = row(rng);
    for (int ox : {0, 3, 128, 252, 255})
      CHECK(yv[(oc * g.out_h + oy) * g.out_w + ox] ==
            doctest::Approx(direct_conv(xv, wv, g, 0, oc, oy, ox)).epsilon(1e-4));
  }
  const auto dy = testing::random_tensor<float>(y.shape(), rng);
  const double lhs = dot(y, dy);
  const double scale = std::sqrt(static_cast<double>(y.size()) * g.c * g.k * g.k);  // float rounding grows with it
  CHECK(std::abs(dot(x, conv2d_backward_data(dy, w, geometry(g))) - lhs) < 1e-4 * scale);
  CHECK(std::abs(dot(w, conv2d_backward_filter(x, dy, geometry(g))) - lhs) < 1e-4 * scale);
}

TEST_CASE("convolution primitives reject mismatched shapes and impossible geometry") {
  const Tensor<float, Cpu> x({1, 3, 5, 5}), w({4, 2, 3, 3}), w3({4, 3, 3, 3});
  const Case g{1, 3, 5, 5, 4, 3, 1, 1, 1, 5, 5};  // x * w3
  const auto with = [&](auto change) {
    Case changed = g;
    change(changed);
    return geometry(changed);
  };
  CHECK_THROWS_WITH_AS(conv2d_forward(x, w, geometry(g)), doctest::Contains("1x3x5x5"), ShapeError);
  CHECK_THROWS_AS(conv2d_forward(x, Tensor<float, Cpu>({4, 3, 3, 2}), geometry(g)), ShapeError);
  CHECK_THROWS_AS(conv2d_forward(x, w3, with([](Case& c) { c.stride = 0; })), ArgumentError);
  CHECK_THROWS_AS(conv2d_forward(x, w3, with([](Case& c) { c.pad_top = -1; })), ArgumentError);
  CHECK_THROWS_AS(conv2d_forward(x, w3, with([](Case& c) { c.out_h = 0; })), ShapeError);
  CHECK_THROWS_AS(conv2d_backward_data(Tensor<float, Cpu>({1, 3, 5, 5}), w3, geometry(g)), ShapeError);
  CHECK_THROWS_AS(conv2d_backward_filter(x, Tensor<float, Cpu>({2, 4, 5, 5}), geometry(g)), ShapeError);
}

TEST_CASE("add_bias adds one value per channel and bias_backward sums over batch and space") {
  auto y = Tensor<double, Cpu>::from_host({2, 2, 1, 2}, std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8});
  add_bias(y, Tensor<double, Cpu>::from_host({1, 2, 1, 1}, std::vector<double>{10, -1}));
  CHECK(y.to_host() == std::vector<double>{11, 12, 2, 3, 15, 16, 6, 7});
  CHECK(bias_backward(y).to_host() == std::vector<double>{11 + 12 + 15 + 16, 2 + 3 + 6 + 7});
  CHECK_THROWS_AS(add_bias(y, Tensor<double, Cpu>({1, 3, 1, 1})), ShapeError);
}

TEST_CASE("reflect_pad mirrors without repeating the edge, like PyTorch's ReflectionPad2d") {
  std::vector<float> v(9);
  for (int i = 0; i < 9; ++i) v[i] = static_cast<float>(i);
  const auto x = Tensor<float, Cpu>::from_host({1, 1, 3, 3}, v);
  // torch.nn.ReflectionPad2d(2)(torch.arange(9.).reshape(1, 1, 3, 3))
  CHECK(reflect_pad(x, 2, 2, 2, 2).to_host() == std::vector<float>{8, 7, 6, 7, 8, 7, 6,  //
                                                                   5, 4, 3, 4, 5, 4, 3,  //
                                                                   2, 1, 0, 1, 2, 1, 0,  //
                                                                   5, 4, 3, 4, 5, 4, 3,  //
                                                                   8, 7, 6, 7, 8, 7, 6,  //
                                                                   5, 4, 3, 4, 5, 4, 3,  //
                                                                   2, 1, 0, 1, 2, 1, 0});
  // Asymmetric: top 1, bottom 0, left 2, right 1.
  CHECK(reflect_pad(x, 1, 0, 2, 1).to_host() == std::vector<float>{5, 4, 3, 4, 5, 4,  //
                                                                   2, 1, 0, 1, 2, 1,  //
                                                                   5, 4, 3, 4, 5, 4,  //
                                                                   8, 7, 6, 7, 8, 7});
}

TEST_CASE("reflect_pad_backward is the adjoint of reflect_pad") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  const auto x = testing::random_tensor<double>({2, 3, 4, 5}, rng);
  for (auto [t, b, l, r] : {std::array{1, 1, 1, 1}, {3, 0, 2, 4}, {0, 2, 0, 0}}) {
    INFO("pad " << t << "," << b << "," << l << "," << r);
    const auto y = reflect_pad(x, t, b, l, r);
    REQUIRE(y.shape() == Shape4{2, 3, 4 + t + b, 5 + l + r});
    const auto dy = testing::random_tensor<double>(y.shape(), rng);
    const auto dx = reflect_pad_backward(dy, t, b, l, r);
    REQUIRE(dx.shape() == x.shape());
    CHECK(dot(x, dx) == doctest::Approx(dot(y, dy)).epsilon(1e-12));
  }
}

TEST_CASE("reflection padding as large as the size it pads is a ShapeError naming the sizes") {
  const Tensor<float, Cpu> x({1, 2, 4, 6});
  CHECK_THROWS_WITH_AS(reflect_pad(x, 4, 0, 0, 0), doctest::Contains("1x2x4x6"), ShapeError);
  CHECK_THROWS_AS(reflect_pad(x, 0, 0, 0, 6), ShapeError);
  CHECK_NOTHROW(reflect_pad(x, 3, 3, 5, 5));
  CHECK_THROWS_AS(reflect_pad_backward(Tensor<float, Cpu>({1, 1, 4, 4}), 2, 2, 1, 1), ShapeError);
}
