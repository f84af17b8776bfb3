#include "perceptual/io/histogram.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "support/random.hpp"

using namespace perceptual;
using namespace perceptual::io;
using TensorD = Tensor<double, Cpu>;

TEST_CASE("histogram matching gives a plane the reference's values in its own order") {
  // Two channels of 2x2. Channel 0: no ties, as many pixels as the reference, so each value takes
  // the reference value of its rank. Channel 1: ties stay together and take the quantile of the
  // run's last member: {5, 5, 7, 7} at quantiles 0.5 and 1 against the reference's 0, 10, 20, 30
  // at 0.25, 0.5, 0.75, 1 give 10 and 30.
  const auto x = TensorD::from_host({1, 2, 2, 2}, std::vector<double>{3, 0, 2, 1, 7, 5, 5, 7});
  const auto ref = TensorD::from_host({1, 2, 2, 2}, std::vector<double>{40, 10, 30, 20, 30, 0, 20, 10});
  const auto y = match_histograms(x, ref);
  REQUIRE(y.shape() == x.shape());
  CHECK(y.to_host() == std::vector<double>{40, 10, 30, 20, 30, 10, 10, 30});
}

TEST_CASE("histogram matching interpolates between the reference's quantiles and clamps below the first") {
  // x: 4 distinct values at quantiles 0.25, 0.5, 0.75, 1. Reference 1x2: 100 (0.5), 200 (1).
  // 0.25 is below the first quantile: 100; 0.5 -> 100; 0.75 -> halfway: 150; 1 -> 200.
  const auto x = TensorD::from_host({1, 1, 2, 2}, std::vector<double>{-1, 9, 4, 2});
  const auto ref = TensorD::from_host({1, 1, 1, 2}, std::vector<double>{200, 100});
  CHECK(match_histograms(x, ref).to_host() == std::vector<double>{100, 200, 150, 100});
}

TEST_CASE("histogram matching keeps each image's order, uses its own reference plane, and checks shapes") {
  std::mt19937_64 rng(4);
  const auto x = testing::random_tensor<double>({2, 3, 5, 6}, rng, 0, 255);
  const auto ref = testing::random_tensor<double>({2, 3, 10, 12}, rng, 0, 255);
  const auto y = match_histograms(x, ref);
  const auto hx = x.to_host(), hy = y.to_host(), hr = ref.to_host();
  for (int p = 0; p < 6; ++p) {
    const auto r0 = hr.begin() + p * 120;
    const double lo = *std::min_element(r0, r0 + 120), hi = *std::max_element(r0, r0 + 120);
    for (int i = 0; i < 30; ++i) {
      CHECK(hy[p * 30 + i] >= lo);
      CHECK(hy[p * 30 + i] <= hi);
      for (int j = 0; j < 30; ++j)
        if (hx[p * 30 + i] < hx[p * 30 + j]) CHECK(hy[p * 30 + i] <= hy[p * 30 + j]);
    }
    // The largest value takes the reference's largest.
    CHECK(*std::max_element(hy.begin() + p * 30, hy.begin() + p * 30 + 30) == hi);
  }
  CHECK_THROWS_AS(match_histograms(x, TensorD({2, 1, 10, 12})), ShapeError);
  CHECK_THROWS_AS(match_histograms(x, TensorD({1, 3, 10, 12})), ShapeError);
  CHECK_THROWS_AS(match_histograms(TensorD({1, 3, 0, 2}), TensorD({1, 3, 2, 2})), ShapeError);
}
