#include "perceptual/backend/cpu/loss.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "support/random.hpp"

using namespace perceptual;
using namespace perceptual::cpu;
using D = Tensor<double, Cpu>;
using F = Tensor<float, Cpu>;

TEST_CASE("gram_forward in float (sgemm) agrees with double (dgemm)") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed << " (replay with PERCEPTUAL_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  const D fd = testing::random_tensor<double>({2, 5, 7, 6}, rng);
  const auto v = fd.to_host();
  const F ff = F::from_host(fd.shape(), std::vector<float>(v.begin(), v.end()));
  const auto gd = gram_forward(fd).to_host();
  const auto gf = gram_forward(ff).to_host();
  REQUIRE(gd.size() == 2 * 5 * 5);
  for (std::size_t i = 0; i < gd.size(); ++i) CHECK(gf[i] == doctest::Approx(gd[i]).epsilon(1e-5));
  // Per image: image 1's Gram is not image 0's.
  CHECK(gd[0] != doctest::Approx(gd[25]));
}

TEST_CASE("squared_distance and scaled_difference broadcast a batch-1 second argument") {
  const D a = D::from_host({2, 1, 1, 2}, std::vector<double>{1, 2, 3, 5});
  const D b = D::from_host({1, 1, 1, 2}, std::vector<double>{1, 1});
  CHECK(squared_distance(a, b) == doctest::Approx(0 + 1 + 4 + 16));
  CHECK(scaled_difference(a, b, 2.0).to_host() == std::vector<double>{0, 2, 4, 8});
  const D same = D::from_host({2, 1, 1, 2}, std::vector<double>{0, 0, 0, 0});
  CHECK(squared_distance(a, same) == doctest::Approx(1 + 4 + 9 + 25));
  CHECK_THROWS_WITH_AS(squared_distance(a, D({3, 1, 1, 2})), doctest::Contains("2x1x1x2 and 3x1x1x2"), ShapeError);
  CHECK_THROWS_AS(scaled_difference(a, D({1, 1, 2, 1}), 1.0), ShapeError);
}

TEST_CASE("total variation kernels weight the two directions separately") {
  // [[1, 2], [4, 8]]: vertical sum 45, horizontal 17.
  const D x = D::from_host({1, 1, 2, 2}, std::vector<double>{1, 2, 4, 8});
  CHECK(total_variation_forward(x, 1.0, 0.0) == doctest::Approx(45.0));
  CHECK(total_variation_forward(x, 0.0, 1.0) == doctest::Approx(17.0));
  CHECK(total_variation_forward(x, 2.0, 3.0) == doctest::Approx(2 * 45.0 + 3 * 17.0));
  CHECK(total_variation_backward(x, 1.0, 0.0).to_host() == std::vector<double>{-6, -12, 6, 12});
  CHECK(total_variation_backward(x, 0.0, 1.0).to_host() == std::vector<double>{-2, 2, -8, 8});
}

TEST_CASE("gram_backward rejects a gradient of the wrong shape, naming both") {
  CHECK_THROWS_WITH_AS(gram_backward(D({2, 3, 4, 4}), D({1, 1, 3, 3})), doctest::Contains("1x1x3x3"), ShapeError);
  CHECK_THROWS_WITH_AS(gram_backward(D({2, 3, 4, 4}), D({1, 1, 3, 3})), doctest::Contains("2x3x4x4"), ShapeError);
  CHECK_THROWS_AS(gram_forward(D({1, 3, 0, 4})), ShapeError);
}
