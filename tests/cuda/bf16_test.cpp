// The bf16 scalar: rounding on the host (runs without a device), and every operation of the CUDA
// backend in bf16 against the CPU backend in float32 on the same bf16-representable inputs,
// within testing::bf16_op_tolerance (norm_relative_error).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "cuda/support.hpp"

using namespace perceptual;
using testing::bf16_op_tolerance;
using testing::bf16_rounded;
using testing::norm_relative_error;
using testing::to_cuda;

namespace {

std::uint16_t bits_of(float f) {
  return bf16(f).bits;
}

// A random CPU tensor of bf16-representable values, and its bf16 copy on the device.
struct Pair {
  Tensor<float, Cpu> cpu;
  Tensor<bf16, Cuda> gpu;
};
Pair random_pair(Shape4 s, std::mt19937_64& rng, double lo = -1, double hi = 1) {
  auto x = bf16_rounded(testing::random_tensor<float>(s, rng, lo, hi));
  auto g = to_cuda<bf16>(x);
  return {std::move(x), std::move(g)};
}

}  // namespace

TEST_CASE("bf16 rounds to the nearest value, ties to even, and keeps infinities and NaN") {
  CHECK(bits_of(1.0f) == 0x3f80);
  CHECK(bits_of(-2.0f) == 0xc000);
  CHECK(bits_of(1.00390625f) == 0x3f80);              // 1 + 2^-8: halfway between 0x3f80 and 0x3f81, to even
  CHECK(bits_of(1.01171875f) == 0x3f82);              // 1 + 3 * 2^-8: halfway between 0x3f81 and 0x3f82, to even
  CHECK(bits_of(1.0048828125f) == 0x3f81);            // above halfway: up
  CHECK(static_cast<float>(bf16(127.5f)) == 127.5f);  // the scaled tanh's constants are exact
  CHECK(static_cast<float>(bf16(std::numeric_limits<float>::max())) == std::numeric_limits<float>::infinity());
  CHECK(std::isinf(static_cast<float>(bf16(-std::numeric_limits<float>::infinity()))));
  CHECK(std::isnan(static_cast<float>(bf16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(bf16(0).bits == 0);
  CHECK(static_cast<float>(bf16(255)) == 255.0f);
}

TEST_CASE("bf16 converts every arithmetic type through float, so generic code's T(x) compiles") {
  CHECK(static_cast<float>(bf16(2.5)) == 2.5f);
  CHECK(static_cast<float>(bf16(std::size_t{7})) == 7.0f);
  CHECK(static_cast<float>(static_cast<bf16>(-3)) == -3.0f);
  const std::vector<float> v{0.5f, 1.5f};
  const std::vector<bf16> b(v.begin(), v.end());
  CHECK(static_cast<float>(b[1]) == 1.5f);
}

TEST_CASE("convolution and its two adjoints in bf16 match the CPU's float32") {
  PERCEPTUAL_PARITY_CASE(rng);
  PERCEPTUAL_REQUIRE_BF16();
  // stride 1 and 2, a 9x9 kernel, and a cropped output (the zero-padded window route)
  const int cases[][11] = {{2, 16, 12, 10, 8, 3, 1, 1, 1, 12, 10},
                           {1, 8, 16, 16, 16, 3, 2, 1, 1, 8, 8},
                           {1, 3, 13, 11, 8, 9, 1, 4, 4, 13, 11},
                           {2, 8, 10, 10, 8, 3, 1, 1, 1, 6, 7}};
  for (const auto& g : cases) {
    const int n = g[0], c = g[1], h = g[2], w = g[3], o = g[4], k = g[5], s = g[6], pt = g[7], pl = g[8], oh = g[9],
              ow = g[10];
    INFO("x " << n << "x" << c << "x" << h << "x" << w << ", k " << k << ", stride " << s << ", out " << oh << "x"
              << ow);
    const auto x = random_pair({n, c, h, w}, rng);
    const auto wt = random_pair({o, c, k, k}, rng);
    const auto dy = random_pair({n, o, oh, ow}, rng);
    const ConvGeometry geometry = testing::conv_geometry(n, c, h, w, o, k, s, pt, pl, oh, ow);
    CHECK(norm_relative_error(cpu::conv2d_forward(x.cpu, wt.cpu, geometry),
                              cuda::conv2d_forward(x.gpu, wt.gpu, geometry)) < bf16_op_tolerance);
    CHECK(norm_relative_error(cpu::conv2d_backward_data(dy.cpu, wt.cpu, geometry),
                              cuda::conv2d_backward_data(dy.gpu, wt.gpu, geometry)) < bf16_op_tolerance);
    CHECK(norm_relative_error(cpu::conv2d_backward_filter(x.cpu, dy.cpu, geometry),
                              cuda::conv2d_backward_filter(x.gpu, dy.gpu, geometry)) < bf16_op_tolerance);
  }
}

TEST_CASE("every bf16 plan runs with the math type cuDNN measured and a deterministic algorithm, bit for bit") {
  PERCEPTUAL_PARITY_CASE(rng);
  PERCEPTUAL_REQUIRE_BF16();
  using cuda::detail::ConvPass;
  const int shapes[][7] = {// n, c, h, w, o, k, stride (padding k / 2)
                           {2, 16, 12, 10, 8, 3, 1},
                           {1, 8, 16, 16, 16, 3, 2},
                           {1, 3, 13, 11, 8, 9, 1},
                           {4, 64, 64, 64, 64, 3, 1},
                           {2, 32, 9, 9, 16, 1, 1}};
  int differing = 0, plans = 0;
  for (const auto& g : shapes)
    for (const auto pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
      const auto key = cuda::detail::conv_key<bf16>(
          pass, testing::symmetric_conv_geometry(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[5] / 2));
      INFO(cuda::detail::to_string(key));
      const cuda::detail::ConvPlan& plan = cuda::detail::conv_plan(key);
      INFO("algorithm " << plan.algorithm() << ", measured with math " << plan.algorithm_math());
      CHECK(key.math == CUDNN_TENSOR_OP_MATH);
      CHECK(plan.descriptor_math() == plan.algorithm_math());
      CHECK(plan.descriptor_math() != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION);
      CHECK(plan.determinism() == CUDNN_DETERMINISTIC);
      differing += plan.algorithm_math() != key.math;
      ++plans;
    }
  // Without setting the winner's math the descriptor keeps the requested one: the checks above
  // fail for every plan counted here.
  MESSAGE(differing << " of " << plans << " plans chose an algorithm measured with a math other than requested");

  // The backward passes at the largest shape, where atomics-based algorithms are candidates.
  const auto x = random_pair({4, 64, 64, 64}, rng);
  const auto wt = random_pair({64, 64, 3, 3}, rng);
  const auto dy = random_pair({4, 64, 64, 64}, rng);
  const ConvGeometry geometry = testing::symmetric_conv_geometry(4, 64, 64, 64, 64, 3, 1, 1);
  const auto dx = cuda::conv2d_backward_data(dy.gpu, wt.gpu, geometry).to_host();
  const auto dw = cuda::conv2d_backward_filter(x.gpu, dy.gpu, geometry).to_host();
  const auto same_bits = [](const std::vector<bf16>& a, const std::vector<bf16>& b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](bf16 p, bf16 q) { return p.bits == q.bits; });
  };
  for (int run = 0; run < 3; ++run) {
    INFO("repeat " << run);
    CHECK(same_bits(cuda::conv2d_backward_data(dy.gpu, wt.gpu, geometry).to_host(), dx));
    CHECK(same_bits(cuda::conv2d_backward_filter(x.gpu, dy.gpu, geometry).to_host(), dw));
  }
}

TEST_CASE("bias, reflection padding, pooling and upsampling in bf16 match the CPU's float32") {
  PERCEPTUAL_PARITY_CASE(rng);
  PERCEPTUAL_REQUIRE_BF16();
  auto y = random_pair({2, 5, 7, 9}, rng);
  const auto bias = random_pair({1, 5, 1, 1}, rng);
  cpu::add_bias(y.cpu, bias.cpu);
  cuda::add_bias(y.gpu, bias.gpu);
  CHECK(norm_relative_error(y.cpu, y.gpu) < bf16_op_tolerance);
  CHECK(norm_relative_error(cpu::bias_backward(y.cpu), cuda::bias_backward(y.gpu)) < bf16_op_tolerance);

  const auto x = random_pair({2, 3, 10, 12}, rng);
  const auto dpad = random_pair({2, 3, 10 + 8, 12 + 8}, rng);
  CHECK(norm_relative_error(cpu::reflect_pad(x.cpu, 4, 4, 4, 4), cuda::reflect_pad(x.gpu, 4, 4, 4, 4)) <
        bf16_op_tolerance);
  CHECK(norm_relative_error(cpu::reflect_pad_backward(dpad.cpu, 4, 4, 4, 4),
                            cuda::reflect_pad_backward(dpad.gpu, 4, 4, 4, 4)) < bf16_op_tolerance);
  const auto dpool = random_pair({2, 3, 5, 6}, rng);
  CHECK(norm_relative_error(cpu::max_pool2x2_forward(x.cpu), cuda::max_pool2x2_forward(x.gpu)) < bf16_op_tolerance);
  CHECK(norm_relative_error(cpu::max_pool2x2_backward(x.cpu, dpool.cpu), cuda::max_pool2x2_backward(x.gpu, dpool.gpu)) <
        bf16_op_tolerance);
  CHECK(norm_relative_error(cpu::avg_pool2x2_backward(dpool.cpu, x.cpu.shape()),
                            cuda::avg_pool2x2_backward(dpool.gpu, x.cpu.shape())) < bf16_op_tolerance);
  const auto dup = random_pair({2, 3, 20, 24}, rng);
  CHECK(norm_relative_error(cpu::upsample_nearest_forward(x.cpu, 2), cuda::upsample_nearest_forward(x.gpu, 2)) <
        bf16_op_tolerance);
  CHECK(norm_relative_error(cpu::upsample_nearest_backward(dup.cpu, 2), cuda::upsample_nearest_backward(dup.gpu, 2)) <
        bf16_op_tolerance);
}

TEST_CASE("instance norm, ReLU and the scaled tanh in bf16 match the CPU's float32, pixel-valued inputs included") {
  PERCEPTUAL_PARITY_CASE(rng);
  PERCEPTUAL_REQUIRE_BF16();
  const Shape4 s{2, 4, 13, 17};
  const auto x = random_pair(s, rng, 0, 255);
  const auto dy = random_pair(s, rng);
  const auto w = random_pair({1, 4, 1, 1}, rng, 0.5, 1.5);
  const auto b = random_pair({1, 4, 1, 1}, rng);
  Tensor<float, Cpu> mean, inv_std, dw({1, 4, 1, 1}), db({1, 4, 1, 1});
  Tensor<bf16, Cuda> cmean, cinv_std, cdw({1, 4, 1, 1}), cdb({1, 4, 1, 1});
  const auto y = cpu::instance_norm_forward(x.cpu, w.cpu, b.cpu, 1e-5, mean, inv_std);
  const auto cy = cuda::instance_norm_forward(x.gpu, w.gpu, b.gpu, 1e-5, cmean, cinv_std);
  CHECK(norm_relative_error(y, cy) < bf16_op_tolerance);
  const auto dx = cpu::instance_norm_backward(x.cpu, dy.cpu, w.cpu, mean, inv_std, &dw, &db);
  const auto cdx = cuda::instance_norm_backward(x.gpu, dy.gpu, w.gpu, cmean, cinv_std, &cdw, &cdb);
  CHECK(norm_relative_error(dx, cdx) < bf16_op_tolerance);
  CHECK(norm_relative_error(dw, cdw) < bf16_op_tolerance);
  CHECK(norm_relative_error(db, cdb) < bf16_op_tolerance);

  const auto a = random_pair(s, rng, -3, 3);
  CHECK(norm_relative_error(cpu::relu_backward(cpu::relu_forward(a.cpu), dy.cpu),
                            cuda::relu_backward(cuda::relu_forward(a.gpu), dy.gpu)) < bf16_op_tolerance);
  CHECK(norm_relative_error(cpu::scaled_tanh_forward(a.cpu, 127.5f, 127.5f, 0.0f, 255.0f),
                            cuda::scaled_tanh_forward(a.gpu, bf16(127.5f), bf16(127.5f), bf16(0), bf16(255))) <
        bf16_op_tolerance);
  CHECK(norm_relative_error(cpu::scaled_tanh_backward(a.cpu, dy.cpu, 127.5f, 127.5f, 0.0f, 255.0f),
                            cuda::scaled_tanh_backward(a.gpu, dy.gpu, bf16(127.5f), bf16(127.5f), bf16(0), bf16(255))) <
        bf16_op_tolerance);
}

TEST_CASE("Gram matrices, distances and total variation in bf16 match the CPU's float32") {
  PERCEPTUAL_PARITY_CASE(rng);
  PERCEPTUAL_REQUIRE_BF16();
  const auto f = random_pair({3, 16, 9, 7}, rng);
  const auto dg = random_pair({3, 1, 16, 16}, rng);
  CHECK(norm_relative_error(cpu::gram_forward(f.cpu), cuda::gram_forward(f.gpu)) < bf16_op_tolerance);
  CHECK(norm_relative_error(cpu::gram_backward(f.cpu, dg.cpu), cuda::gram_backward(f.gpu, dg.gpu)) < bf16_op_tolerance);
  const auto a = random_pair({3, 4, 10, 9}, rng);
  const auto b = random_pair({1, 4, 10, 9}, rng);
  CHECK(testing::relative_error(cpu::squared_distance(a.cpu, b.cpu), cuda::squared_distance(a.gpu, b.gpu)) <
        bf16_op_tolerance);
  CHECK(norm_relative_error(cpu::scaled_difference(a.cpu, b.cpu, 0.5f),
                            cuda::scaled_difference(a.gpu, b.gpu, bf16(0.5f))) < bf16_op_tolerance);
  const auto img = random_pair({2, 3, 11, 8}, rng, 0, 255);
  CHECK(testing::relative_error(cpu::total_variation_forward(img.cpu, 0.5f, 2.0f),
                                cuda::total_variation_forward(img.gpu, bf16(0.5f), bf16(2.0f))) < bf16_op_tolerance);
  CHECK(norm_relative_error(cpu::total_variation_backward(img.cpu, 0.5f, 2.0f),
                            cuda::total_variation_backward(img.gpu, bf16(0.5f), bf16(2.0f))) < bf16_op_tolerance);
}

TEST_CASE("Adam in bf16 tracks the CPU's float32 over several steps and moves small steps on average") {
  PERCEPTUAL_PARITY_CASE(rng);
  PERCEPTUAL_REQUIRE_BF16();
  const Shape4 s{1, 4, 32, 32};
  // Parameters near 1, like a norm's scale: lr 1e-3 is an eighth of bf16's spacing there, so
  // rounding to nearest would never move them; stochastic rounding moves them on average.
  auto p = random_pair(s, rng, 0.9, 1.1);
  Tensor<float, Cpu> m(s), v(s);
  Tensor<float, Cuda> cm(s), cv(s);              // bf16's moments are float (optim::moment_t)
  const auto g = random_pair(s, rng, 0.5, 1.0);  // positive: every parameter moves down
  for (std::int64_t step = 1; step <= 10; ++step) {
    cpu::adam_update(p.cpu, g.cpu, m, v, 1e-3, 0.9, 0.999, 1e-8, step);
    cuda::adam_update(p.gpu, g.gpu, cm, cv, 1e-3, 0.9, 0.999, 1e-8, step);
  }
  const std::vector<float> expected = p.cpu.to_host();
  const std::vector<bf16> actual = p.gpu.to_host();
  double mean_shift_error = 0;
  for (std::size_t i = 0; i < expected.size(); ++i)
    mean_shift_error += static_cast<double>(static_cast<float>(actual[i])) - expected[i];
  mean_shift_error /= static_cast<double>(expected.size());
  // 10 steps of 1e-3 each: a bias of a tenth of the total movement at most.
  CHECK(std::abs(mean_shift_error) < 1e-3);
  CHECK(norm_relative_error(m, cm) < bf16_op_tolerance);
  CHECK(norm_relative_error(v, cv) < bf16_op_tolerance);
}
