#include "perceptual/losses/pixel.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "perceptual/backend/cpu/loss.hpp"
#include "support/fdcheck.hpp"

using namespace perceptual;
using namespace perceptual::losses;
using T = Tensor<double, Cpu>;

TEST_CASE("pixel loss is the squared distance over C*H*W, averaged over the batch") {
  // One 3x1x2 image pair differing by (1, -1, 2, 0, 0, -2): ||.||^2 = 10, C*H*W = 6.
  const T y = T::from_host({1, 3, 1, 2}, std::vector<double>{10, 20, 30, 40, 50, 60});
  const T t = T::from_host({1, 3, 1, 2}, std::vector<double>{9, 21, 28, 40, 50, 62});
  const auto r = pixel_loss(y, t);
  CHECK(r.value == doctest::Approx(10.0 / 6));
  const auto g = r.grad.to_host();
  CHECK(g[0] == doctest::Approx(2.0 / 6));
  CHECK(g[1] == doctest::Approx(-2.0 / 6));
  CHECK(g[5] == doctest::Approx(-4.0 / 6));

  // A batch of that pair and an identical pair: half the loss.
  std::vector<double> yy = y.to_host(), tt = t.to_host();
  yy.insert(yy.end(), {1, 1, 1, 1, 1, 1});
  tt.insert(tt.end(), {1, 1, 1, 1, 1, 1});
  const auto batch = pixel_loss(T::from_host({2, 3, 1, 2}, yy), T::from_host({2, 3, 1, 2}, tt), 4.0);
  CHECK(batch.value == doctest::Approx(4.0 * 10.0 / 12));
}

TEST_CASE("pixel loss gradient matches finite differences") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed << " (replay with PERCEPTUAL_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  const T y = testing::random_tensor<double>({3, 3, 5, 4}, rng, 0, 255);
  const T t = testing::random_tensor<double>({3, 3, 5, 4}, rng, 0, 255);
  const auto r = pixel_loss(y, t, 1e-3);
  testing::check_scalar_gradient(
      "d pixel_loss / dy", y, [&](const T& v) { return pixel_loss(v, t, 1e-3).value; }, r.grad, rng);
}

TEST_CASE("pixel loss of mismatched shapes throws ShapeError naming both shapes") {
  CHECK_THROWS_WITH_AS(pixel_loss(T({1, 3, 4, 4}), T({1, 3, 4, 5})),
                       doctest::Contains("pixel_loss: input 1x3x4x4 and target 1x3x4x5"), ShapeError);
  CHECK_THROWS_AS(pixel_loss(T({1, 3, 0, 4}), T({1, 3, 0, 4})), ShapeError);
}
