#pragma once
// Nearest-neighbour upsampling by an integer factor on the CPU: each value becomes a
// factor x factor block; backward sums each block.
#include <cstddef>
#include <string>

#include "perceptual/backend/cpu/tensor.hpp"

namespace perceptual::cpu {

template <class T>
Tensor<T, Cpu> upsample_nearest_forward(const Tensor<T, Cpu>& x, int factor) {
  if (factor < 1) throw ArgumentError("upsample_nearest_forward: factor " + std::to_string(factor) + ", expected >= 1");
  const Shape4 s = x.shape();
  Tensor<T, Cpu> y({s.n, s.c, s.h * factor, s.w * factor});
  const int ow = s.w * factor;
  const std::size_t planes = static_cast<std::size_t>(s.n) * s.c;
  for (std::size_t p = 0; p < planes; ++p) {
    const T* in = x.data() + p * s.plane();
    T* out = y.data() + p * y.shape().plane();
    for (int i = 0; i < s.h; ++i) {
      // Widen one input row into the block's first output row, then copy that row down.
      T* row = out + static_cast<std::size_t>(i * factor) * ow;
      for (int j = 0; j < s.w; ++j)
        for (int f = 0; f < factor; ++f) row[j * factor + f] = in[i * s.w + j];
      for (int f = 1; f < factor; ++f)
        for (int k = 0; k < ow; ++k) row[f * ow + k] = row[k];
    }
  }
  return y;
}

// dL/dx: the sum of dy over each factor x factor block.
template <class T>
Tensor<T, Cpu> upsample_nearest_backward(const Tensor<T, Cpu>& dy, int factor) {
  const Shape4 s = dy.shape();
  if (factor < 1)
    throw ArgumentError("upsample_nearest_backward: factor " + std::to_string(factor) + ", expected >= 1");
  if (s.h % factor != 0 || s.w % factor != 0)
    throw ShapeError("upsample_nearest_backward: gradient " + to_string(s) + " is not a multiple of the factor " +
                     std::to_string(factor));
  Tensor<T, Cpu> dx({s.n, s.c, s.h / factor, s.w / factor});
  const int iw = s.w / factor;
  const std::size_t planes = static_cast<std::size_t>(s.n) * s.c;
  for (std::size_t p = 0; p < planes; ++p) {
    const T* g = dy.data() + p * s.plane();
    T* d = dx.data() + p * dx.shape().plane();
    for (int i = 0; i < s.h; ++i)
      for (int j = 0; j < s.w; ++j) d[(i / factor) * iw + j / factor] += g[i * s.w + j];
  }
  return dx;
}

}  // namespace perceptual::cpu
