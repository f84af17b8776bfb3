// CPU/CUDA parity of the loss network: VGG-16 with random weights, the features at the paper's
// taps (relu1_2, relu2_2, relu3_3, relu4_3) and the input gradient from gradients injected at
// all of them. In float a max-pool or ReLU decision may flip by rounding, so the gradient is
// compared by norm there; in double the backends must agree to rounding; bf16 on the device is
// compared with float32 on the CPU.
#include <doctest/doctest.h>

#include <algorithm>
#include <type_traits>

#include "cuda/support.hpp"
#include "perceptual/nets/vgg.hpp"

using namespace perceptual;
using testing::norm_relative_error;
using testing::relative_error;
using testing::to_cuda;

namespace {

// A CPU VGG in T against a CUDA VGG in U: features by relative_error (norm_relative_error for
// bf16), the input gradient by norm_relative_error.
template <class T, class U>
void check_vgg_parity(std::mt19937_64& rng, double forward_tolerance, double gradient_tolerance) {
  constexpr bool reduced = std::is_same_v<U, bf16>;
  using Net = nets::JohnsonStyleVgg;
  nets::LossNetwork<Net, Cpu, T> vgg;
  nets::LossNetwork<Net, Cuda, U> cuda_vgg;
  testing::randomize_parameters(vgg, rng);
  if (reduced) testing::round_parameters_to_bf16(vgg);
  testing::copy_parameters(vgg, cuda_vgg);

  auto x = testing::random_tensor<T>({2, 3, 32, 40}, rng, 0, 255);
  if (reduced) x = testing::bf16_rounded(x);
  const auto features = vgg.forward(x);
  const auto cuda_features = cuda_vgg.forward(to_cuda<U>(x));
  typename nets::LossNetwork<Net, Cpu, T>::Features grads;
  typename nets::LossNetwork<Net, Cuda, U>::Features cuda_grads;
  double worst_feature = 0;
  for (int t = 0; t < Net::num_taps; ++t) {
    INFO("tap " << Net::tap_names()[t]);
    const auto& f = features[t];
    const auto& cf = cuda_features[t];
    const double feature_error = reduced ? norm_relative_error(f, cf) : relative_error(f, cf);
    CHECK(feature_error < forward_tolerance);
    worst_feature = std::max(worst_feature, feature_error);
    grads[t] = testing::random_tensor<T>(features[t].shape(), rng);
    if (reduced) grads[t] = testing::bf16_rounded(grads[t]);
    cuda_grads[t] = to_cuda<U>(grads[t]);
  }
  const double gradient_error = norm_relative_error(vgg.backward(grads), cuda_vgg.backward(cuda_grads));
  CHECK(gradient_error < gradient_tolerance);
  MESSAGE("measured: worst feature " << worst_feature << ", input gradient " << gradient_error);
}

}  // namespace

TEST_CASE("Vgg16 features at relu1_2..relu4_3 and the input gradient match the CPU backend in double") {
  PERCEPTUAL_PARITY_CASE(rng);
  check_vgg_parity<double, double>(rng, 1e-9, 1e-9);
}

TEST_CASE("Vgg16 features at relu1_2..relu4_3 and the input gradient match the CPU backend in float") {
  PERCEPTUAL_PARITY_CASE(rng);
  check_vgg_parity<float, float>(rng, testing::parity_tolerance, testing::float_net_gradient_tolerance);
}

TEST_CASE("Vgg16 in bf16 matches the CPU's float32 within the bf16 tolerance") {
  PERCEPTUAL_PARITY_CASE(rng);
  PERCEPTUAL_REQUIRE_BF16();
  check_vgg_parity<float, bf16>(rng, testing::bf16_net_tolerance, testing::bf16_gradient_tolerance);
}

TEST_CASE("Vgg19 with only some taps active stops at the deepest one on the device too") {
  PERCEPTUAL_PARITY_CASE(rng);
  using Net = nets::Vgg19<"relu1_1", "relu3_4", "relu5_4">;
  nets::LossNetwork<Net, Cpu, double> vgg;
  nets::LossNetwork<Net, Cuda, double> cuda_vgg;
  vgg.set_active_taps({true, true, false});
  cuda_vgg.set_active_taps({true, true, false});
  testing::randomize_parameters(vgg, rng);
  testing::copy_parameters(vgg, cuda_vgg);
  const auto x = testing::random_tensor<double>({1, 3, 16, 16}, rng, 0, 255);
  const auto f = vgg.forward(x);
  const auto cf = cuda_vgg.forward(to_cuda(x));
  CHECK(cf[2].empty());
  CHECK(relative_error(f[1], cf[1]) < 1e-9);
}
