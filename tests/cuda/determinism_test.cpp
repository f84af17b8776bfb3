// Run-to-run reproducibility on the device: the same training step (StyleTransformNet -> VGG-16 at
// relu1_2..relu4_3 -> content, style and TV losses -> Adam) taken twice from identical state and
// inputs must give the same bits: loss values, gradients, parameters and Adam's moments. Checkpoints
// promise a bit-identical continuation (train/checkpoint.hpp), which a kernel or a cuDNN algorithm
// that adds in a run-dependent order (atomics) breaks. In float, and in bf16, whose Adam rounds
// stochastically from bits that must depend on the step and the entry only; at a small size and at
// train_style's batch of 4x256x256. Both runs share the process's cuDNN plans, so this checks the
// algorithms; that another process chooses the same ones is conv_test's heuristic-search case.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/random_vgg.hpp"
#include "cuda/support.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/losses/losses.hpp"
#include "perceptual/nets/transform.hpp"
#include "perceptual/nets/vgg.hpp"
#include "perceptual/optim/adam.hpp"
#include "perceptual/train/style_trainer.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_vgg.hpp"

using namespace perceptual;
using testing::to_cuda;

namespace {

using StyleNet = nets::StyleTransformNet<>;
using Vgg = nets::JohnsonStyleVgg;
constexpr int content_tap = 1;  // relu2_2, the paper's content layer
using HostTensor = Tensor<float, Cpu>;

struct Terms {
  double content = 0, style = 0, tv = 0;
};

// The entries of a and b whose bits differ (0: the same tensor, bit for bit).
template <class T>
std::size_t differing_entries(const Tensor<T, Cuda>& a, const Tensor<T, Cuda>& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<T> x = a.to_host(), y = b.to_host();
  std::size_t n = 0;
  for (std::size_t i = 0; i < x.size(); ++i) n += std::memcmp(&x[i], &y[i], sizeof(T)) != 0;
  return n;
}

// Every parameter, gradient and Adam moment of `a` against `b`'s, bit for bit, naming each that
// differs and by how many entries (what the device session needs to find the kernel).
template <class P>
void check_same_bits(P a, P b, const char* what) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO(what << " " << a[i].name);
    REQUIRE(a[i].name == b[i].name);
    CHECK(differing_entries(*a[i].value, *b[i].value) == 0);
    if (a[i].learnable()) CHECK(differing_entries(*a[i].grad, *b[i].grad) == 0);
  }
}

void check_same_terms(const Terms& a, const Terms& b) {
  CHECK(a.content == b.content);
  CHECK(a.style == b.style);
  CHECK(a.tv == b.tv);
}

// One side of the comparison: Johnson et al.'s objective on the device in T, as
// training_step_test.cpp builds it, with Adam. Holds pointers into itself: built in place.
template <class T>
struct DeviceTrainer {
  Model<StyleNet, Cuda, T> net;
  nets::LossNetwork<Vgg, Cuda, T> vgg;
  losses::StyleTarget<T, Cuda> style_target;
  optim::Adam<T, Cuda> adam{net.parameters(), {.lr = 1e-3}};

  // The nets' state from the CPU's (the same for every trainer made from them), and the style.
  DeviceTrainer(Model<StyleNet, Cpu, float>& cpu_net, nets::LossNetwork<Vgg, Cpu, float>& cpu_vgg,
                const HostTensor& style_image) {
    testing::copy_parameters(cpu_net, net);
    testing::copy_parameters(cpu_vgg, vgg);
    const auto f = vgg.forward(to_cuda<T>(style_image));
    style_target = losses::make_style_target(std::vector<Tensor<T, Cuda>>(f.begin(), f.end()));
  }
  DeviceTrainer(const DeviceTrainer&) = delete;
  DeviceTrainer& operator=(const DeviceTrainer&) = delete;

  // Forward and backward through the whole objective, then one Adam update; the terms before it.
  Terms step(const HostTensor& batch) {
    const Tensor<T, Cuda> x = to_cuda<T>(batch);
    net.zero_grad();
    const Tensor<T, Cuda> y = net.forward(x);
    const Tensor<T, Cuda> content_target = vgg.forward(x)[content_tap];
    const auto f = vgg.forward(y);
    const auto content = losses::feature_loss(f[content_tap], content_target, 1.0);
    const auto style = losses::style_loss(std::vector<Tensor<T, Cuda>>(f.begin(), f.end()), style_target,
                                          std::vector<double>(Vgg::num_taps, 1e-4));
    typename nets::LossNetwork<Vgg, Cuda, T>::Features grads;
    for (int t = 0; t < Vgg::num_taps; ++t) grads[t] = style.grads[t];
    axpy(grads[content_tap], T(1), content.grad);
    Tensor<T, Cuda> dy = vgg.backward(grads);
    const auto tv = losses::total_variation_loss(y, 1e-6);
    axpy(dy, T(1), tv.grad);
    net.backward(dy);
    adam.step();
    return {content.value, style.value, tv.value};
  }
};

// Two trainers from the same weights take two steps each on the same batches (the second step
// reads Adam's moments from the first); after each, everything matches bit for bit.
template <class T>
void check_repeatable_steps(Shape4 batch_shape, std::mt19937_64& rng) {
  Model<StyleNet, Cpu, float> cpu_net;
  nets::LossNetwork<Vgg, Cpu, float> cpu_vgg;
  cpu_net.initialize(rng());
  testing::randomize_parameters(cpu_vgg, rng);
  const HostTensor style = testing::random_tensor<float>({1, 3, batch_shape.h, batch_shape.w}, rng, 0, 255);
  DeviceTrainer<T> first(cpu_net, cpu_vgg, style);
  DeviceTrainer<T> second(cpu_net, cpu_vgg, style);
  check_same_bits(first.net.parameters(), second.net.parameters(), "before any step:");
  for (int step = 1; step <= 2; ++step) {
    INFO("step " << step);
    const HostTensor batch = testing::random_tensor<float>(batch_shape, rng, 0, 255);
    const Terms a = first.step(batch);
    const Terms b = second.step(batch);
    check_same_terms(a, b);
    check_same_bits(first.net.parameters(), second.net.parameters(), "parameter");
    check_same_bits(first.adam.state_tensors(), second.adam.state_tensors(), "Adam moment");
    MESSAGE("step " << step << ": loss terms " << a.content << ", " << a.style << ", " << a.tv);
  }
}

using CudaStyleTrainer = train::StyleTrainer<nets::AllReluVgg16, StyleNet, Cuda>;

void check_same_trainer_state(CudaStyleTrainer& a, CudaStyleTrainer& b) {
  check_same_bits(a.model().parameters(), b.model().parameters(), "parameter");
  check_same_bits(a.optimizer().state_tensors(), b.optimizer().state_tensors(), "Adam moment");
  CHECK(a.iteration() == b.iteration());
  CHECK(a.optimizer().step_count() == b.optimizer().step_count());
}

void check_same_terms(const train::StyleTerms& a, const train::StyleTerms& b) {
  CHECK(a.content == b.content);
  CHECK(a.style == b.style);
  CHECK(a.tv == b.tv);
  CHECK(a.total == b.total);
}

// What train_style_cuda does across an interruption: a trainer that takes two steps, and one that
// takes the first, writes a checkpoint that a third trainer (another seed, so everything must
// come from the file) loads to take the second, end with the same bits; so do two uninterrupted
// runs.
void check_resumed_training(const std::filesystem::path& vgg, const train::StyleTrainerOptions& options,
                            Shape4 batch_shape, std::mt19937_64& rng) {
  testing::TempDir dir;
  const HostTensor style = testing::random_tensor<float>({1, 3, batch_shape.h, batch_shape.w}, rng, 0, 255);
  const HostTensor first_batch = testing::random_tensor<float>(batch_shape, rng, 0, 255);
  const HostTensor second_batch = testing::random_tensor<float>(batch_shape, rng, 0, 255);
  CudaStyleTrainer straight(options, vgg, style), again(options, vgg, style), stopped(options, vgg, style);
  auto other = options;
  other.seed = options.seed + 1;
  CudaStyleTrainer resumed(other, vgg, style);

  const train::StyleTerms first_terms = straight.step(first_batch);
  check_same_terms(first_terms, again.step(first_batch));
  check_same_terms(first_terms, stopped.step(first_batch));
  stopped.save_checkpoint(dir / "stopped.ckpt");
  resumed.load_checkpoint(dir / "stopped.ckpt");
  const train::StyleTerms terms = straight.step(second_batch);
  check_same_terms(terms, again.step(second_batch));
  check_same_terms(terms, resumed.step(second_batch));
  {
    INFO("two uninterrupted runs");
    check_same_trainer_state(straight, again);
  }
  {
    INFO("an uninterrupted run and one resumed from its checkpoint");
    check_same_trainer_state(straight, resumed);
  }
  MESSAGE("second step: loss terms " << terms.content << ", " << terms.style << ", " << terms.tv);
}

}  // namespace

TEST_CASE("a float training step on the device is bit-identical run to run, on a 2x3x32x32 batch") {
  PERCEPTUAL_PARITY_CASE(rng);
  check_repeatable_steps<float>({2, 3, 32, 32}, rng);
}

TEST_CASE("a float training step on the device is bit-identical run to run, on a 4x256x256 batch") {
  PERCEPTUAL_PARITY_CASE(rng);
  check_repeatable_steps<float>({4, 3, 256, 256}, rng);
}

TEST_CASE("a bf16 training step on the device is bit-identical run to run, on a 2x3x32x32 batch") {
  PERCEPTUAL_PARITY_CASE(rng);
  PERCEPTUAL_REQUIRE_BF16();
  check_repeatable_steps<bf16>({2, 3, 32, 32}, rng);
}

TEST_CASE("a bf16 training step on the device is bit-identical run to run, on a 4x256x256 batch") {
  PERCEPTUAL_PARITY_CASE(rng);
  PERCEPTUAL_REQUIRE_BF16();
  check_repeatable_steps<bf16>({4, 3, 256, 256}, rng);
}

TEST_CASE("a CUDA StyleTrainer resumed from a checkpoint continues bit-identically, with the tiny VGG at 16x16") {
  PERCEPTUAL_PARITY_CASE(rng);
  testing::TempDir dir;
  testing::write_tiny_vgg(dir / "vgg.safetensors");
  train::StyleTrainerOptions options;
  options.objective.content_layers = {"relu2_2"};
  options.objective.style_layers = {"relu1_2", "relu2_2"};  // what the tiny VGG has
  options.seed = rng();
  check_resumed_training(dir / "vgg.safetensors", options, {2, 3, 16, 16}, rng);
}

TEST_CASE("a CUDA StyleTrainer resumed from a checkpoint continues bit-identically, with VGG-16 at 4x256x256") {
  PERCEPTUAL_PARITY_CASE(rng);
  testing::TempDir dir;
  testing::write_random_vgg16(dir / "vgg16.safetensors", rng());
  train::StyleTrainerOptions options;  // train_style's defaults: the paper's layers
  options.seed = rng();
  check_resumed_training(dir / "vgg16.safetensors", options, {4, 3, 256, 256}, rng);
}
