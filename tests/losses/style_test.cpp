#include "perceptual/losses/style.hpp"

#include <doctest/doctest.h>

#include <type_traits>
#include <vector>

#include "perceptual/backend/cpu/loss.hpp"
#include "support/fdcheck.hpp"

using namespace perceptual;
using namespace perceptual::losses;
using T = Tensor<double, Cpu>;

namespace {

// The features of x tiled ry x rx times in space: the same Gram matrix, a different size.
T tile(const T& x, int ry, int rx) {
  const Shape4 s = x.shape();
  const auto v = x.to_host();
  std::vector<double> out;
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c)
      for (int i = 0; i < s.h * ry; ++i)
        for (int j = 0; j < s.w * rx; ++j) out.push_back(v[((n * s.c + c) * s.h + i % s.h) * s.w + j % s.w]);
  return T::from_host({s.n, s.c, s.h * ry, s.w * rx}, out);
}

// The n-th image of a batch, as a batch of one.
T image(const T& x, int n) {
  const auto v = x.to_host();
  const std::size_t per = x.size() / x.n();
  return T::from_host({1, x.c(), x.h(), x.w()}, std::vector<double>(v.begin() + n * per, v.begin() + (n + 1) * per));
}

}  // namespace

// The CPU keeps Grams in the features' type (the GPU keeps bf16 features' Grams in float).
static_assert(std::is_same_v<gram_t<double, Cpu>, Tensor<double, Cpu>>);
static_assert(std::is_same_v<gram_t<float, Cpu>, Tensor<float, Cpu>>);

TEST_CASE("Gram matrix of a 1x2x1x2 feature map by hand") {
  // F = [[1, 2], [3, 4]] (C = 2 rows, H*W = 2): F F^T = [[5, 11], [11, 25]], C*H*W = 4.
  const T f = T::from_host({1, 2, 1, 2}, std::vector<double>{1, 2, 3, 4});
  const T g = gram_matrix(f);
  CHECK(g.shape() == Shape4{1, 1, 2, 2});
  const auto v = g.to_host();
  CHECK(v[0] == doctest::Approx(1.25));
  CHECK(v[1] == doctest::Approx(2.75));
  CHECK(v[2] == doctest::Approx(2.75));
  CHECK(v[3] == doctest::Approx(6.25));

  // dL/dG = [[1, 0], [0, 0]]: (dG + dG^T) F / 4 = [[2, 4], [0, 0]] / 4.
  const auto df = gram_matrix_backward(f, T::from_host({1, 1, 2, 2}, std::vector<double>{1, 0, 0, 0})).to_host();
  CHECK(df == std::vector<double>{0.5, 1.0, 0.0, 0.0});

  // Against a zero target the style loss is ||G||_F^2 = 1.25^2 + 2 * 2.75^2 + 6.25^2.
  const auto r = style_layer_loss(f, T({1, 1, 2, 2}));
  CHECK(r.value == doctest::Approx(1.5625 + 2 * 7.5625 + 39.0625));
  // dL/dG = 2 G, so dL/dF = 4 G F / 4 = G F: row 0 = (1.25 + 2.75 * 3, 1.25 * 2 + 2.75 * 4).
  const auto gf = r.grad.to_host();
  CHECK(gf[0] == doctest::Approx(1.25 + 2.75 * 3));
  CHECK(gf[1] == doctest::Approx(1.25 * 2 + 2.75 * 4));
}

TEST_CASE("Gram matrix backward matches finite differences") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed << " (replay with PERCEPTUAL_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  const T f = testing::random_tensor<double>({2, 4, 3, 5}, rng);
  const T r = testing::random_tensor<double>({2, 1, 4, 4}, rng);  // not symmetric, on purpose
  testing::check_scalar_gradient(
      "d <G(F), R> / dF", f, [&](const T& x) { return dot(gram_matrix(x), r); }, gram_matrix_backward(f, r), rng);
}

TEST_CASE("style loss compares output and style of different spatial sizes") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed << " (replay with PERCEPTUAL_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  // A style image whose features are the output's tiled 2 x 3: same Grams, so zero loss.
  const T out = testing::random_tensor<double>({1, 3, 2, 3}, rng);
  const auto target = make_style_target<double, Cpu>({tile(out, 2, 3)});
  CHECK(target.grams[0].shape() == Shape4{1, 1, 3, 3});
  const auto same = style_loss<double, Cpu>({out}, target, {1.0});
  CHECK(same.value == doctest::Approx(0.0).epsilon(1e-12));

  // A different style image of another size gives a positive loss, equal to the direct sum.
  const T style = testing::random_tensor<double>({1, 3, 5, 4}, rng);
  const auto r = style_loss<double, Cpu>({out}, make_style_target<double, Cpu>({style}), {1.0});
  const auto g_out = gram_matrix(out).to_host(), g_style = gram_matrix(style).to_host();
  double expected = 0;
  for (std::size_t i = 0; i < g_out.size(); ++i) expected += (g_out[i] - g_style[i]) * (g_out[i] - g_style[i]);
  CHECK(r.value > 0);
  CHECK(r.value == doctest::Approx(expected));
}

TEST_CASE("style loss of a batch against one style is the weighted mean of per-image losses") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed << " (replay with PERCEPTUAL_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  const std::vector<T> style{testing::random_tensor<double>({1, 3, 6, 6}, rng),
                             testing::random_tensor<double>({1, 5, 3, 3}, rng)};
  const std::vector<T> out{testing::random_tensor<double>({3, 3, 4, 5}, rng),
                           testing::random_tensor<double>({3, 5, 2, 3}, rng)};
  const auto target = make_style_target(style);
  const std::vector<double> weights{2.0, 0.5};
  const auto r = style_loss(out, target, weights);
  REQUIRE(r.layer_values.size() == 2);
  REQUIRE(r.grads.size() == 2);
  double expected = 0;
  for (std::size_t j = 0; j < 2; ++j) {
    double layer = 0;
    for (int n = 0; n < 3; ++n) layer += style_layer_loss(image(out[j], n), target.grams[j]).value / 3;
    CHECK(r.layer_values[j] == doctest::Approx(layer));
    expected += weights[j] * layer;
    CHECK(r.grads[j].shape() == out[j].shape());
  }
  CHECK(r.value == doctest::Approx(expected));
}

TEST_CASE("style loss gradients match finite differences at every layer") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed << " (replay with PERCEPTUAL_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  // Per-image targets (batch 2) for one layer, a shared target (batch 1) for the other.
  const auto target = make_style_target<double, Cpu>(
      {testing::random_tensor<double>({2, 4, 3, 3}, rng), testing::random_tensor<double>({1, 3, 5, 2}, rng)});
  std::vector<T> out{testing::random_tensor<double>({2, 4, 2, 5}, rng),
                     testing::random_tensor<double>({2, 3, 4, 4}, rng)};
  const std::vector<double> weights{1.5, 3.0};
  const auto r = style_loss(out, target, weights);
  for (std::size_t j = 0; j < out.size(); ++j) {
    INFO("layer " << j);
    auto value = [&](const T& x) {
      std::vector<T> perturbed = out;
      perturbed[j] = x;
      return style_loss(perturbed, target, weights).value;
    };
    testing::check_scalar_gradient("d style_loss / d features", out[j], value, r.grads[j], rng);
  }
}

TEST_CASE("style loss rejects mismatched channels and counts") {
  const auto target = make_style_target(std::vector<T>{T({1, 4, 3, 3})});
  const std::vector<double> one{1.0}, two{1.0, 2.0};
  const std::vector<T> five_channels{T({1, 5, 3, 3})};
  CHECK_THROWS_WITH_AS(style_loss(five_channels, target, one),
                       doctest::Contains("features 1x5x3x3 against target Gram 1x1x4x4"), ShapeError);
  // A target batch that is neither 1 nor the output's.
  const auto pair = make_style_target(std::vector<T>{T({2, 4, 3, 3})});
  const std::vector<T> batch_of_three{T({3, 4, 3, 3})};
  CHECK_THROWS_AS(style_loss(batch_of_three, pair, one), ShapeError);
  const std::vector<T> one_layer{T({1, 4, 3, 3})}, two_layers{T({1, 4, 3, 3}), T({1, 4, 3, 3})};
  CHECK_THROWS_AS(style_loss(one_layer, target, two), ArgumentError);
  CHECK_THROWS_AS(style_loss(two_layers, target, two), ArgumentError);
  CHECK_THROWS_AS(gram_matrix_backward(T({1, 4, 3, 3}), T({1, 1, 3, 3})), ShapeError);
  CHECK_THROWS_AS(gram_matrix(T({1, 4, 0, 3})), ShapeError);
}
