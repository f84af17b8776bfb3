#pragma once
// Helpers for CPU/CUDA parity tests: moving tensors between the backends, comparing them, and
// skipping (with a message saying why) when there is no CUDA device.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/backend/cuda/cuda.hpp"
#include "support/random.hpp"

// Ends the test case, saying why, when no CUDA device is present (CI machines have none).
#define PERCEPTUAL_REQUIRE_DEVICE()                \
  do {                                             \
    if (!::perceptual::cuda::device_available()) { \
      MESSAGE("skipped: no CUDA device");          \
      return;                                      \
    }                                              \
  } while (false)

namespace perceptual::testing {

template <class T>
Tensor<T, Cuda> to_cuda(const Tensor<T, Cpu>& x) {
  const std::vector<T> v = x.to_host();
  return Tensor<T, Cuda>::from_host(x.shape(), v);
}

template <class T>
Tensor<T, Cpu> to_cpu(const Tensor<T, Cuda>& x) {
  const std::vector<T> v = x.to_host();
  return Tensor<T, Cpu>::from_host(x.shape(), v);
}

// max |expected - actual| / max |expected|: relative to the tensor's scale, so entries that
// are sums of many terms cancelling to near zero do not dominate.
template <class T>
double relative_error(const Tensor<T, Cpu>& expected, const Tensor<T, Cuda>& actual) {
  REQUIRE(expected.shape() == actual.shape());
  const std::vector<T> e = expected.to_host(), a = actual.to_host();
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < e.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(e[i]) - static_cast<double>(a[i])));
    scale = std::max(scale, std::abs(static_cast<double>(e[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

inline constexpr double parity_tolerance = 1e-4;  // float32, CPU vs CUDA

}  // namespace perceptual::testing
