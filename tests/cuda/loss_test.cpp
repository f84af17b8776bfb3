// CPU/CUDA parity of the loss kernels: Gram matrices (cuBLAS) and their gradient, squared
// distances with a broadcast batch, squared total variation and its gradient; the style loss of
// bf16 features near their target, whose Grams are kept in float.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <type_traits>
#include <vector>

#include "cuda/support.hpp"
#include "perceptual/losses/style.hpp"

using namespace perceptual;
using testing::parity_tolerance;
using testing::relative_error;
using testing::to_cuda;

TEST_CASE("gram_forward and gram_backward match the CPU backend over a batch") {
  PERCEPTUAL_PARITY_CASE(rng);
  const auto f = testing::random_tensor<float>({3, 16, 9, 7}, rng);
  const auto dg = testing::random_tensor<float>({3, 1, 16, 16}, rng);  // not symmetric
  const auto cf = to_cuda(f);
  CHECK(relative_error(cpu::gram_forward(f), cuda::gram_forward(cf)) < parity_tolerance);
  CHECK(relative_error(cpu::gram_backward(f, dg), cuda::gram_backward(cf, to_cuda(dg))) < parity_tolerance);
}

TEST_CASE("squared_distance and scaled_difference match the CPU backend, with and without a broadcast batch") {
  PERCEPTUAL_PARITY_CASE(rng);
  const auto a = testing::random_tensor<float>({3, 4, 10, 9}, rng);
  for (int bn : {1, 3}) {
    INFO("second batch " << bn);
    const auto b = testing::random_tensor<float>({bn, 4, 10, 9}, rng);
    const auto ca = to_cuda(a), cb = to_cuda(b);
    CHECK(relative_error(cpu::squared_distance(a, b), cuda::squared_distance(ca, cb)) < parity_tolerance);
    CHECK(relative_error(cpu::scaled_difference(a, b, 0.7f), cuda::scaled_difference(ca, cb, 0.7f)) < parity_tolerance);
  }
  const Tensor<float, Cuda> bad({2, 4, 10, 9});
  CHECK_THROWS_AS(cuda::squared_distance(to_cuda(a), bad), ShapeError);
}

TEST_CASE("total_variation forward and backward match the CPU backend with separate weights") {
  PERCEPTUAL_PARITY_CASE(rng);
  const auto x = testing::random_tensor<float>({2, 3, 11, 8}, rng, 0, 255);
  const auto cx = to_cuda(x);
  CHECK(relative_error(cpu::total_variation_forward(x, 0.5f, 2.0f), cuda::total_variation_forward(cx, 0.5f, 2.0f)) <
        parity_tolerance);
  CHECK(relative_error(cpu::total_variation_backward(x, 0.5f, 2.0f), cuda::total_variation_backward(cx, 0.5f, 2.0f)) <
        parity_tolerance);
}

// Near convergence G(y) - G_s is a small fraction of G: here about 0.25% (the style image's
// features are the output's scaled by 1 +- 0.25% per channel). Grams stored in bf16 would each be
// off by up to 2^-9 |G|, an error of order 2^-9 |G| / |G - G_s|, most of the difference.
TEST_CASE("the style loss of bf16 features near their target matches a double CPU reference: Grams stay float") {
  PERCEPTUAL_PARITY_CASE(rng);
  PERCEPTUAL_REQUIRE_BF16();
  using D = Tensor<double, Cpu>;
  const Shape4 s{2, 16, 12, 12};
  // Non-negative like a ReLU's output, and bf16-representable, so only the computation rounds.
  const D f = testing::bf16_rounded(testing::random_tensor<double>(s, rng, 0, 1));
  std::uniform_real_distribution<double> scale(-0.0025, 0.0025);
  std::vector<double> per_channel(static_cast<std::size_t>(s.c));
  for (auto& e : per_channel) e = scale(rng);
  std::vector<double> v = f.to_host();
  for (std::size_t i = 0; i < v.size(); ++i) v[i] *= 1 + per_channel[i / s.plane() % static_cast<std::size_t>(s.c)];
  const D fs = testing::bf16_rounded(D::from_host(s, v));

  const D target = losses::gram_matrix(fs);
  const auto expected = losses::style_layer_loss(f, target);
  const auto gf = to_cuda<bf16>(f);
  const auto gtarget = losses::gram_matrix(to_cuda<bf16>(fs));
  static_assert(std::is_same_v<std::remove_const_t<decltype(gtarget)>, Tensor<float, Cuda>>);
  const auto actual = losses::style_layer_loss(gf, gtarget);
  const double loss_error = relative_error(expected.value, actual.value);
  const double grad_error = testing::norm_relative_error(expected.grad, actual.grad);
  CHECK(loss_error < testing::bf16_op_tolerance);
  CHECK(grad_error < testing::bf16_op_tolerance);

  // The test can tell: the same loss from the two Grams rounded to bf16, as storing them in bf16
  // gives (from exact Grams: the rounding alone), is off by far more than the tolerance.
  const double factor = 1.0 / s.n;
  const D g16 = testing::bf16_rounded(losses::gram_matrix(f)), t16 = testing::bf16_rounded(target);
  const double stored_loss_error = relative_error(expected.value, factor * cpu::squared_distance(g16, t16));
  const D stored_grad = cpu::gram_backward(f, cpu::scaled_difference(g16, t16, 2 * factor));
  auto stored_grad_error = 0.0;
  {
    const auto e = expected.grad.to_host(), a = stored_grad.to_host();
    double diff = 0, norm = 0;
    for (std::size_t i = 0; i < e.size(); ++i) diff += (e[i] - a[i]) * (e[i] - a[i]), norm += e[i] * e[i];
    stored_grad_error = std::sqrt(diff / norm);
  }
  CHECK(stored_loss_error > 10 * testing::bf16_op_tolerance);
  CHECK(stored_grad_error > 10 * testing::bf16_op_tolerance);
  MESSAGE("float Grams: loss error " << loss_error << ", gradient error " << grad_error << "; bf16 Grams would give "
                                     << stored_loss_error << ", " << stored_grad_error);
}
