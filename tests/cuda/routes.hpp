#pragma once
// What both ways of building against the CUDA backend run: header_only_test.cu (nvcc, the headers
// alone, no perceptual_cuda_instances) and host_route_test.cpp (the host compiler: declarations,
// linked to the instances). A padded convolution with bias and a ReLU in float, then a Gram matrix
// of bf16 features and its gradient, both in float (instances of mixed scalars), against the CPU.
#include <doctest/doctest.h>

#include <random>

#include "cuda/support.hpp"

namespace perceptual::testing {

inline void check_route(std::mt19937_64& rng) {
  const ConvGeometry g = symmetric_conv_geometry(2, 3, 9, 7, 4, 3, 1, 1);
  const auto x = random_tensor<float>(g.input_shape(), rng);
  const auto w = random_tensor<float>(g.filter_shape(), rng);
  const auto b = random_tensor<float>({1, 4, 1, 1}, rng);
  const auto y = cpu::relu_forward(cpu::conv2d_forward(x, w, b, g));
  CHECK(relative_error(y, cuda::relu_forward(cuda::conv2d_forward(to_cuda(x), to_cuda(w), to_cuda(b), g))) <
        parity_tolerance);

  PERCEPTUAL_REQUIRE_BF16();
  const auto f = bf16_rounded(y);
  const auto gram = cuda::gram_forward(to_cuda<bf16>(f));
  static_assert(std::is_same_v<decltype(gram), const Tensor<float, Cuda>>, "bf16 features give a float Gram");
  CHECK(norm_relative_error(cpu::gram_forward(f), gram) < bf16_op_tolerance);
  CHECK(norm_relative_error(cpu::gram_backward(f, cpu::gram_forward(f)), cuda::gram_backward(to_cuda<bf16>(f), gram)) <
        bf16_op_tolerance);
}

}  // namespace perceptual::testing
