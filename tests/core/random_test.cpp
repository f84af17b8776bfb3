#include "perceptual/core/random.hpp"

#include <doctest/doctest.h>

#include <random>
#include <vector>

using namespace perceptual;

TEST_CASE("random_tensor: values in [lo, hi), the same for the same seed, in every scalar type") {
  std::mt19937_64 a(7), b(7), c(8);
  const Tensor<double, Cpu> x = random_tensor<double>({2, 3, 4, 5}, a, 10, 20);
  CHECK(x.shape() == Shape4{2, 3, 4, 5});
  const std::vector<double> v = x.to_host();
  for (double e : v) {
    CHECK(e >= 10);
    CHECK(e < 20);
  }
  const std::vector<float> f = random_tensor<float>({2, 3, 4, 5}, b, 10, 20).to_host();
  for (std::size_t i = 0; i < v.size(); ++i) CHECK(f[i] == static_cast<float>(v[i]));
  CHECK(random_tensor<double>({2, 3, 4, 5}, c, 10, 20).to_host() != v);
  // Drawn in order: the first draw is the first value.
  std::mt19937_64 d(7);
  CHECK(v.front() == std::uniform_real_distribution<double>(10, 20)(d));
}
