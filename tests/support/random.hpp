#pragma once
// Fresh random test data each run; the seed is printed on failure (INFO) and can be fixed with
// PERCEPTUAL_SEED=<n> to replay a failing run. The tensors come from the library's random_tensor.
#include <cstdint>
#include <cstdlib>
#include <random>

#include "perceptual/core/random.hpp"

namespace perceptual::testing {

using perceptual::random_tensor;

inline std::uint64_t test_seed() {
  if (const char* s = std::getenv("PERCEPTUAL_SEED")) return std::strtoull(s, nullptr, 10);
  return (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
}

template <class T>
void randomize(Tensor<T, Cpu>& t, std::mt19937_64& rng, double lo = -1, double hi = 1) {
  t = random_tensor<T>(t.shape(), rng, lo, hi);
}

}  // namespace perceptual::testing
