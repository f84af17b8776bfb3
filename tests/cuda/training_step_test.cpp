// CPU/CUDA parity of one whole training step of Johnson et al.'s style transfer (their eq. 5):
// transform net -> VGG-16 at relu1_2..relu4_3 -> feature (relu2_2), style and TV losses ->
// gradients of every transform-net parameter -> one Adam update. Same random weights, input and
// style image on both backends; bf16 on the device is compared with float32 on the CPU.
#include <doctest/doctest.h>

#include <array>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda/support.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/losses/losses.hpp"
#include "perceptual/nets/transform.hpp"
#include "perceptual/nets/vgg.hpp"
#include "perceptual/optim/adam.hpp"

using namespace perceptual;
using testing::norm_relative_error;
using testing::relative_error;
using testing::to_cuda;

namespace {

using Vgg = nets::JohnsonStyleVgg;
constexpr int content_tap = 1;  // relu2_2, the paper's content layer

struct Weights {
  double content = 1, style = 1, tv = 1;
};
struct Terms {
  double content = 0, style = 0, tv = 0;
};

// One side (a backend and scalar) of the comparison: the nets, the style target, an optimiser.
template <class B, class T>
struct Trainer {
  Model<nets::StyleTransformNet<>, B, T> net;
  nets::LossNetwork<Vgg, B, T> vgg;
  losses::StyleTarget<T, B> style_target;

  void set_style(const Tensor<T, B>& style_image) {
    const auto f = vgg.forward(style_image);
    style_target = losses::make_style_target(std::vector<Tensor<T, B>>(f.begin(), f.end()));
  }

  // Zeroes the gradients, then forward and backward through the whole objective.
  Terms step(const Tensor<T, B>& x, const Weights& w) {
    net.zero_grad();
    const Tensor<T, B> y = net.forward(x);
    const Tensor<T, B> content_target = vgg.forward(x)[content_tap];
    const auto f = vgg.forward(y);
    const auto content = losses::feature_loss(f[content_tap], content_target, w.content);
    const auto style = losses::style_loss(std::vector<Tensor<T, B>>(f.begin(), f.end()), style_target,
                                          std::vector<double>(Vgg::num_taps, w.style));
    typename nets::LossNetwork<Vgg, B, T>::Features grads;
    for (int t = 0; t < Vgg::num_taps; ++t) grads[t] = style.grads[t];
    axpy(grads[content_tap], T(1), content.grad);
    Tensor<T, B> dy = vgg.backward(grads);
    const auto tv = losses::total_variation_loss(y, w.tv);
    axpy(dy, T(1), tv.grad);
    net.backward(dy);
    return {content.value, style.value, tv.value};
  }
};

// The CPU in T against the device in U (T, or bf16 against the CPU's float).
template <class T, class U = T>
void check_training_step(std::mt19937_64& rng, double value_tolerance, double gradient_tolerance, bool compare_update) {
  constexpr bool reduced = std::is_same_v<U, bf16>;
  Trainer<Cpu, T> cpu;
  Trainer<Cuda, U> gpu;
  cpu.net.initialize(rng());
  testing::randomize_parameters(cpu.vgg, rng);
  auto style_image = testing::random_tensor<T>({1, 3, 40, 32}, rng, 0, 255);
  auto x = testing::random_tensor<T>({2, 3, 32, 32}, rng, 0, 255);
  if (reduced) {
    testing::round_parameters_to_bf16(cpu.net);
    testing::round_parameters_to_bf16(cpu.vgg);
    style_image = testing::bf16_rounded(style_image);
    x = testing::bf16_rounded(x);
  }
  testing::copy_parameters(cpu.net, gpu.net);
  testing::copy_parameters(cpu.vgg, gpu.vgg);
  cpu.set_style(style_image);
  gpu.set_style(to_cuda<U>(style_image));

  // Weights that make each term 1 at this point, so every gradient path counts.
  const Terms unit = cpu.step(x, {});
  const Weights w{1 / unit.content, 1 / unit.style, 1 / unit.tv};
  const Terms expected = cpu.step(x, w);
  const Terms actual = gpu.step(to_cuda<U>(x), w);
  const double content_error = relative_error(expected.content, actual.content);
  const double style_error = relative_error(expected.style, actual.style);
  const double tv_error = relative_error(expected.tv, actual.tv);
  CHECK(content_error < value_tolerance);
  CHECK(style_error < value_tolerance);
  CHECK(tv_error < value_tolerance);

  std::string worst;
  const double grad_error = testing::worst_gradient_error(
      cpu.net, gpu.net, [](const auto& e, const auto& a) { return norm_relative_error(e, a); }, worst);
  INFO("worst parameter gradient: " << worst);
  CHECK(grad_error < gradient_tolerance);
  MESSAGE("measured: losses " << content_error << ", " << style_error << ", " << tv_error
                              << "; worst parameter gradient " << grad_error << " (" << worst << ")");
  if (!compare_update) return;

  optim::Adam<T, Cpu> adam(cpu.net.parameters(), {.lr = 1e-3});
  optim::Adam<U, Cuda> cuda_adam(gpu.net.parameters(), {.lr = 1e-3});
  adam.step();
  cuda_adam.step();
  auto p = cpu.net.parameters();
  auto q = gpu.net.parameters();
  for (std::size_t i = 0; i < p.size(); ++i) {
    INFO("parameter " << p[i].name);
    CHECK((reduced ? norm_relative_error(*p[i].value, *q[i].value) : relative_error(*p[i].value, *q[i].value)) <
          gradient_tolerance);
  }
}

}  // namespace

TEST_CASE("a whole training step in double precision matches the CPU backend: losses, gradients, Adam update") {
  PERCEPTUAL_PARITY_CASE(rng);
  check_training_step<double>(rng, 1e-9, 1e-9, true);
}

// Adam's first step moves each parameter by about lr * sign(gradient), so a gradient entry near
// zero whose sign rounding flips moves its parameter by 2 lr: the update is compared in double only.
TEST_CASE("a whole training step in float matches the CPU backend: losses and gradients") {
  PERCEPTUAL_PARITY_CASE(rng);
  check_training_step<float>(rng, testing::parity_tolerance, testing::float_net_gradient_tolerance, false);
}

// bf16: the losses within the network tolerance; the gradients, and the parameters after one Adam
// step (stochastically rounded to bf16), within the gradient tolerance.
TEST_CASE("a whole training step in bf16 matches the CPU's float32 within the bf16 tolerance") {
  PERCEPTUAL_PARITY_CASE(rng);
  PERCEPTUAL_REQUIRE_BF16();
  check_training_step<float, bf16>(rng, testing::bf16_net_tolerance, testing::bf16_gradient_tolerance, true);
}
