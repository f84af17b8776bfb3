#pragma once
// Host tensors of uniformly distributed values, reproducible from a seed: the inputs of the
// benchmarks and of the tests' gradient and parity checks.
#include <cstddef>
#include <random>

#include "perceptual/core/host.hpp"

namespace perceptual {

// A tensor of `shape` whose values are drawn in order (NCHW) from U[lo, hi) in double by `rng`,
// then rounded to T: the same seed gives the same tensor for every T.
template <class T = float>
Tensor<T, Cpu> random_tensor(Shape4 shape, std::mt19937_64& rng, double lo = -1, double hi = 1) {
  std::uniform_real_distribution<double> dist(lo, hi);
  Tensor<T, Cpu> t(shape, uninitialized);
  T* v = t.data();
  for (std::size_t i = 0; i < t.size(); ++i) v[i] = static_cast<T>(dist(rng));
  return t;
}

}  // namespace perceptual
