// CPU/CUDA parity of convolution (forward, data and filter gradients) for symmetric and
// asymmetric padding and strides, of bias, and of reflection padding.
#include <doctest/doctest.h>

#include <random>

#include "cuda/support.hpp"

using namespace perceptual;
using testing::parity_tolerance;
using testing::relative_error;
using testing::to_cuda;

namespace {

struct ConvCase {
  int n, c, h, w, o, k, stride, pad_top, pad_left, out_h, out_w;
};

// Direct (symmetric) cases and ones that need the zero-padded window: TensorFlow's SAME with
// stride 2 pads 0 before and 1 after; a cropped output reads less than cuDNN would produce.
constexpr ConvCase cases[] = {
    {2, 3, 12, 10, 5, 3, 1, 1, 1, 12, 10},  // same size, symmetric
    {1, 4, 16, 16, 6, 3, 2, 1, 1, 8, 8},    // stride 2, symmetric
    {2, 3, 9, 11, 4, 9, 1, 4, 4, 9, 11},    // Johnson's 9x9
    {1, 3, 8, 8, 4, 3, 2, 0, 0, 4, 4},      // SAME, stride 2: asymmetric (0 before, 1 after)
    {1, 2, 7, 9, 3, 4, 1, 1, 2, 7, 9},      // even kernel, asymmetric
    {2, 2, 10, 10, 3, 3, 1, 1, 1, 6, 7},    // output cropped short
    {1, 8, 5, 6, 4, 1, 1, 0, 0, 5, 6},      // 1x1
};

}  // namespace

TEST_CASE("conv2d_forward and its two adjoints match the CPU backend") {
  PERCEPTUAL_PARITY_CASE(rng);
  for (const ConvCase& g : cases) {
    INFO("x " << g.n << "x" << g.c << "x" << g.h << "x" << g.w << ", k " << g.k << ", stride " << g.stride << ", pad "
              << g.pad_top << "," << g.pad_left << ", out " << g.out_h << "x" << g.out_w);
    const auto x = testing::random_tensor<float>({g.n, g.c, g.h, g.w}, rng);
    const auto w = testing::random_tensor<float>({g.o, g.c, g.k, g.k}, rng);
    const auto dy = testing::random_tensor<float>({g.n, g.o, g.out_h, g.out_w}, rng);
    const auto cx = to_cuda(x), cw = to_cuda(w), cdy = to_cuda(dy);
    CHECK(relative_error(cpu::conv2d_forward(x, w, g.stride, g.pad_top, g.pad_left, g.out_h, g.out_w),
                         cuda::conv2d_forward(cx, cw, g.stride, g.pad_top, g.pad_left, g.out_h, g.out_w)) <
          parity_tolerance);
    CHECK(relative_error(cpu::conv2d_backward_data(dy, w, g.stride, g.pad_top, g.pad_left, g.h, g.w),
                         cuda::conv2d_backward_data(cdy, cw, g.stride, g.pad_top, g.pad_left, g.h, g.w)) <
          parity_tolerance);
    CHECK(relative_error(cpu::conv2d_backward_filter(x, dy, g.stride, g.pad_top, g.pad_left, g.k),
                         cuda::conv2d_backward_filter(cx, cdy, g.stride, g.pad_top, g.pad_left, g.k)) <
          parity_tolerance);
  }
}

TEST_CASE("a second convolution of one shape reuses the cached plan and gives the same result") {
  PERCEPTUAL_PARITY_CASE(rng);
  const auto cx = to_cuda(testing::random_tensor<float>({1, 3, 10, 10}, rng));
  const auto cw = to_cuda(testing::random_tensor<float>({4, 3, 3, 3}, rng));
  const auto first = cuda::conv2d_forward(cx, cw, 1, 1, 1, 10, 10).to_host();
  CHECK(cuda::conv2d_forward(cx, cw, 1, 1, 1, 10, 10).to_host() == first);
}

TEST_CASE("convolution on CUDA rejects the shapes the CPU backend rejects") {
  PERCEPTUAL_REQUIRE_DEVICE();
  const Tensor<float, Cuda> x({1, 3, 8, 8}), w({4, 2, 3, 3}), w3({4, 3, 3, 3});
  CHECK_THROWS_AS(cuda::conv2d_forward(x, w, 1, 1, 1, 8, 8), ShapeError);
  CHECK_THROWS_AS(cuda::conv2d_forward(x, w3, 0, 1, 1, 8, 8), ArgumentError);
  CHECK_THROWS_AS(cuda::conv2d_forward(x, w3, 1, -1, 1, 8, 8), ArgumentError);
}

TEST_CASE("add_bias and bias_backward match the CPU backend") {
  PERCEPTUAL_PARITY_CASE(rng);
  auto y = testing::random_tensor<float>({2, 5, 7, 9}, rng);
  const auto bias = testing::random_tensor<float>({1, 5, 1, 1}, rng);
  auto cy = to_cuda(y);
  cpu::add_bias(y, bias);
  cuda::add_bias(cy, to_cuda(bias));
  CHECK(relative_error(y, cy) < parity_tolerance);
  CHECK(relative_error(cpu::bias_backward(y), cuda::bias_backward(cy)) < parity_tolerance);
  CHECK_THROWS_AS(cuda::add_bias(cy, Tensor<float, Cuda>({1, 4, 1, 1})), ShapeError);
}

TEST_CASE("reflect_pad and reflect_pad_backward match the CPU backend, asymmetric padding included") {
  PERCEPTUAL_PARITY_CASE(rng);
  const int pads[][4] = {{1, 1, 1, 1}, {4, 4, 4, 4}, {0, 2, 3, 1}, {5, 0, 0, 6}};
  for (const auto& p : pads) {
    INFO("pad top " << p[0] << ", bottom " << p[1] << ", left " << p[2] << ", right " << p[3]);
    const auto x = testing::random_tensor<float>({2, 3, 6, 7}, rng);
    const auto dy = testing::random_tensor<float>({2, 3, 6 + p[0] + p[1], 7 + p[2] + p[3]}, rng);
    CHECK(relative_error(cpu::reflect_pad(x, p[0], p[1], p[2], p[3]),
                         cuda::reflect_pad(to_cuda(x), p[0], p[1], p[2], p[3])) < parity_tolerance);
    CHECK(relative_error(cpu::reflect_pad_backward(dy, p[0], p[1], p[2], p[3]),
                         cuda::reflect_pad_backward(to_cuda(dy), p[0], p[1], p[2], p[3])) < parity_tolerance);
  }
  CHECK_THROWS_AS(cuda::reflect_pad(Tensor<float, Cuda>({1, 1, 3, 3}), 3, 0, 0, 0), ShapeError);
}
