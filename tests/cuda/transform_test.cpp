// CPU/CUDA parity of whole networks: Johnson's style transformation net (and the super-resolution
// and Engstrom nets), forward, input gradient and every parameter gradient, from the same random
// weights and input. In double precision the backends must agree to rounding; in float a ReLU
// whose input rounds across zero may send one gradient entry elsewhere, so gradients are
// compared by norm there; bf16 on the device is compared with float32 on the CPU.
#include <doctest/doctest.h>

#include <string>
#include <type_traits>

#include "cuda/support.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/nets/engstrom.hpp"
#include "perceptual/nets/transform.hpp"

using namespace perceptual;
using testing::norm_relative_error;
using testing::relative_error;
using testing::to_cuda;

namespace {

// forward: the output by relative_error (norm_relative_error for bf16); gradient: the input and
// parameter gradients by norm_relative_error.
struct Tolerance {
  double forward, gradient;
};

template <class T>
constexpr Tolerance tolerance_for() {
  if constexpr (std::is_same_v<T, double>) return {1e-9, 1e-9};
  if constexpr (std::is_same_v<T, float>) return {testing::parity_tolerance, testing::float_net_gradient_tolerance};
  return {testing::bf16_net_tolerance, testing::bf16_gradient_tolerance};
}

// Same weights, same input: a CPU model in T against a CUDA model in U (T, or bf16 against the
// CPU's float). `train` chooses the mode (batch norm: batch or running statistics).
template <class Net, class T, class U = T>
void check_net_parity(Shape4 input, std::mt19937_64& rng, bool train = true) {
  constexpr bool reduced = std::is_same_v<U, bf16>;
  constexpr Tolerance tolerance = tolerance_for<U>();
  Model<Net, Cpu, T> cpu_net;
  Model<Net, Cuda, U> cuda_net;
  cpu_net.initialize(rng());
  if (reduced) testing::round_parameters_to_bf16(cpu_net);
  testing::copy_parameters(cpu_net, cuda_net);
  if (!train) {
    cpu_net.eval();
    cuda_net.eval();
  }
  auto x = testing::random_tensor<T>(input, rng, 0, 255);
  if (reduced) x = testing::bf16_rounded(x);
  const auto y = cpu_net.forward(x);
  const auto cy = cuda_net.forward(to_cuda<U>(x));
  const double output_error = reduced ? norm_relative_error(y, cy) : relative_error(y, cy);
  CHECK(output_error < tolerance.forward);

  auto dy = testing::random_tensor<T>(y.shape(), rng);
  if (reduced) dy = testing::bf16_rounded(dy);
  cpu_net.zero_grad();
  cuda_net.zero_grad();
  const auto dx = cpu_net.backward(dy);
  const auto cdx = cuda_net.backward(to_cuda<U>(dy));
  const double input_grad_error = norm_relative_error(dx, cdx);
  CHECK(input_grad_error < tolerance.gradient);
  std::string worst;
  const double grad_error = testing::worst_gradient_error(
      cpu_net, cuda_net, [](const auto& e, const auto& a) { return norm_relative_error(e, a); }, worst);
  INFO("worst parameter gradient: " << worst);
  CHECK(grad_error < tolerance.gradient);
  MESSAGE("measured: output " << output_error << ", input gradient " << input_grad_error
                              << ", worst parameter gradient " << grad_error << " (" << worst << ")");
}

}  // namespace

TEST_CASE_TEMPLATE("StyleTransformNet forward, input and parameter gradients match the CPU backend", T, double, float) {
  PERCEPTUAL_PARITY_CASE(rng);
  check_net_parity<nets::StyleTransformNet<>, T>({2, 3, 32, 36}, rng);
}

TEST_CASE("StyleTransformNet in bf16 matches the CPU's float32 within the bf16 tolerance") {
  PERCEPTUAL_PARITY_CASE(rng);
  PERCEPTUAL_REQUIRE_BF16();
  check_net_parity<nets::StyleTransformNet<>, float, bf16>({2, 3, 32, 36}, rng);
}

TEST_CASE("StyleTransformNet with batch norm matches the CPU backend in training and in evaluation") {
  PERCEPTUAL_PARITY_CASE(rng);
  using Net = nets::StyleTransformNet<nets::BatchNormDefault>;
  check_net_parity<Net, double>({2, 3, 16, 20}, rng, true);
  check_net_parity<Net, double>({2, 3, 16, 20}, rng, false);
}

TEST_CASE("SuperResolutionNet<4> and the Engstrom preset match the CPU backend") {
  PERCEPTUAL_PARITY_CASE(rng);
  check_net_parity<nets::SuperResolutionNet<4>, double>({1, 3, 9, 11}, rng);
  check_net_parity<nets::EngstromNet, double>({1, 3, 16, 12}, rng);
}

TEST_CASE("a CUDA model has the CPU model's parameter names and shapes, in the same order") {
  PERCEPTUAL_REQUIRE_DEVICE();
  Model<nets::StyleTransformNet<>, Cpu> cpu_net;
  Model<nets::StyleTransformNet<>, Cuda> cuda_net;
  auto a = cpu_net.parameters();
  auto b = cuda_net.parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].name == b[i].name);
    CHECK(a[i].value->shape() == b[i].value->shape());
  }
}
