#pragma once
// Fresh random test data each run; the seed is printed on failure (INFO) and can be fixed with
// PERCEPTUAL_SEED=<n> to replay a failing run.
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/tensor.hpp"

namespace perceptual::testing {

inline std::uint64_t test_seed() {
  if (const char* s = std::getenv("PERCEPTUAL_SEED")) return std::strtoull(s, nullptr, 10);
  return (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
}

template <class T>
Tensor<T, Cpu> random_tensor(Shape4 shape, std::mt19937_64& rng, double lo = -1, double hi = 1) {
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<T> v(shape.size());
  for (auto& e : v) e = static_cast<T>(dist(rng));
  return Tensor<T, Cpu>::from_host(shape, v);
}

template <class T>
void randomize(Tensor<T, Cpu>& t, std::mt19937_64& rng, double lo = -1, double hi = 1) {
  t = random_tensor<T>(t.shape(), rng, lo, hi);
}

}  // namespace perceptual::testing
