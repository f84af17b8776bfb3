#include "perceptual/losses/tv.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "perceptual/backend/cpu/loss.hpp"
#include "support/fdcheck.hpp"

using namespace perceptual;
using namespace perceptual::losses;
using T = Tensor<double, Cpu>;

TEST_CASE("total variation of a 2x2 image by hand") {
  // [[1, 2], [4, 8]]: vertical (4-1)^2 + (8-2)^2 = 45, horizontal (2-1)^2 + (8-4)^2 = 17.
  const T y = T::from_host({1, 1, 2, 2}, std::vector<double>{1, 2, 4, 8});
  const auto r = total_variation_loss(y);
  CHECK(r.value == doctest::Approx(62.0));
  const auto g = r.grad.to_host();
  CHECK(g[0] == doctest::Approx(-2 * 3 - 2 * 1));  // pairs (0,0)-(1,0) and (0,0)-(0,1)
  CHECK(g[1] == doctest::Approx(-2 * 6 + 2 * 1));
  CHECK(g[2] == doctest::Approx(2 * 3 - 2 * 4));
  CHECK(g[3] == doctest::Approx(2 * 6 + 2 * 4));

  CHECK(total_variation_loss(y, 0.5).value == doctest::Approx(31.0));
  // TvNorm::mean: each direction over its 2 differences.
  CHECK(total_variation_loss(y, 1.0, TvNorm::mean).value == doctest::Approx(45.0 / 2 + 17.0 / 2));
}

TEST_CASE("total variation counts every channel and averages over the batch") {
  // Image 0: two channels, [[1, 2], [4, 8]] and a constant one; image 1: all constant.
  std::vector<double> v{1, 2, 4, 8, 5, 5, 5, 5, 3, 3, 3, 3, 7, 7, 7, 7};
  const auto r = total_variation_loss(T::from_host({2, 2, 2, 2}, v));
  CHECK(r.value == doctest::Approx(62.0 / 2));
  CHECK(r.grad.to_host()[0] == doctest::Approx(-8.0 / 2));
  CHECK(total_variation_loss(T::from_host({2, 2, 2, 2}, v), 1.0, TvNorm::mean).value ==
        doctest::Approx((45.0 / 4 + 17.0 / 4) / 2));  // 2 channels x 2 differences per direction
}

TEST_CASE("total variation of a one-pixel-high image has only horizontal terms") {
  const T y = T::from_host({1, 1, 1, 3}, std::vector<double>{0, 1, 3});
  CHECK(total_variation_loss(y).value == doctest::Approx(1.0 + 4.0));
  CHECK(total_variation_loss(y, 1.0, TvNorm::mean).value == doctest::Approx(5.0 / 2));
  CHECK(total_variation_loss(T::from_host({1, 1, 1, 1}, std::vector<double>{4})).value == 0.0);
}

TEST_CASE("total variation gradient matches finite differences") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed << " (replay with PERCEPTUAL_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  for (const Shape4 shape : {Shape4{2, 3, 5, 4}, Shape4{1, 2, 1, 6}, Shape4{3, 1, 7, 1}}) {
    INFO("shape " << to_string(shape));
    const T y = testing::random_tensor<double>(shape, rng);
    for (const TvNorm norm : {TvNorm::sum, TvNorm::mean}) {
      const auto r = total_variation_loss(y, 0.7, norm);
      testing::check_scalar_gradient(
          "d TV / dy", y, [&](const T& v) { return total_variation_loss(v, 0.7, norm).value; }, r.grad, rng);
    }
  }
}

TEST_CASE("total variation of an empty image throws ShapeError") {
  CHECK_THROWS_WITH_AS(total_variation_loss(T({1, 3, 0, 4})), doctest::Contains("1x3x0x4"), ShapeError);
}
