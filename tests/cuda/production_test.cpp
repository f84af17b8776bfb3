// CPU/CUDA parity at the sizes the programs run, in float as they do: stylize's forward pass at
// 1024x1024, train_style's batch (4 images of 256x256) through the transformation network, the
// loss network (VGG-19 to relu3_4, what the shared weights hold) and a whole StyleTrainer step
// with VGG-16 to relu4_3 (the paper's layers). The other parity tests use 16 to 40 pixels, where
// cuDNN picks other algorithms, reductions are short and no tensor passes 2^24 entries.
//
// Why the tolerances of support.hpp hold at these sizes: every comparison is norm-relative, and
// both sources of difference keep their relative size as the tensors grow. Rounding in a sum of n
// terms grows as about sqrt(n) * 6e-8 in float when summed in blocks, as cuDNN and OpenBLAS do
// (1e-5 for a 262144-term filter gradient at 4x256x256), and the reductions that would grow
// further (instance and batch statistics, loss sums, bias gradients) are accumulated in double, or
// in short float runs merged in double, on both backends; so outputs stay within parity_tolerance. A ReLU or max-pool
// decision flipped by rounding moves one gradient entry, and the number of flips grows with the entries, so their share
// of the gradient's norm is about sqrt(fraction flipped), the same at any size: far inside
// float_net_gradient_tolerance (the estimate in support.hpp). These are estimates made before any
// run on a device; each case prints what it measures.
//
// Run time: the CPU side dominates: about a minute of wall time on 2 busy cores of the development
// machine (the cold 1024x1024 pass half of it, the StyleTrainer step most of the rest); an
// estimated 15 to 30 s on a GPU machine's 16 cores, plus a few seconds of cuDNN algorithm searches.
#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "cuda/random_vgg.hpp"
#include "cuda/support.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/nets/transform.hpp"
#include "perceptual/nets/vgg.hpp"
#include "perceptual/train/style_trainer.hpp"
#include "support/norm_fed.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;
using testing::norm_relative_error;
using testing::to_cuda;

namespace {

using StyleNet = nets::StyleTransformNet<>;
using HostTensor = Tensor<float, Cpu>;

// train_style's defaults (examples/train_style.hpp): --image-size 256, --batch-size 4.
constexpr Shape4 training_batch{4, 3, 256, 256};

}  // namespace

TEST_CASE("StyleTransformNet stylises a 1024x1024 image as the CPU backend does") {
  PERCEPTUAL_PARITY_CASE(rng);
  Model<StyleNet, Cpu, float> cpu_net;
  Model<StyleNet, Cuda, float> cuda_net;
  cpu_net.initialize(rng());
  testing::copy_parameters(cpu_net, cuda_net);
  cpu_net.eval();  // as stylize runs it
  cuda_net.eval();
  const auto x = testing::random_tensor<float>({1, 3, 1024, 1024}, rng, 0, 255);
  const double error = norm_relative_error(cpu_net.forward(x), cuda_net.forward(to_cuda(x)));
  CHECK(error < testing::parity_tolerance);
  MESSAGE("measured: output " << error);
}

TEST_CASE("StyleTransformNet forward and backward on a 4x256x256 batch match the CPU backend") {
  PERCEPTUAL_PARITY_CASE(rng);
  Model<StyleNet, Cpu, float> cpu_net;
  Model<StyleNet, Cuda, float> cuda_net;
  cpu_net.initialize(rng());
  testing::copy_parameters(cpu_net, cuda_net);
  const auto x = testing::random_tensor<float>(training_batch, rng, 0, 255);
  const auto y = cpu_net.forward(x);
  const double output_error = norm_relative_error(y, cuda_net.forward(to_cuda(x)));
  CHECK(output_error < testing::parity_tolerance);

  const auto dy = testing::random_tensor<float>(y.shape(), rng);
  cpu_net.zero_grad();
  cuda_net.zero_grad();
  const double input_error = norm_relative_error(cpu_net.backward(dy), cuda_net.backward(to_cuda(dy)));
  CHECK(input_error < testing::float_net_gradient_tolerance);
  std::string worst;
  const double grad_error = testing::worst_gradient_error(
      cpu_net, cuda_net, [](const auto& e, const auto& a) { return norm_relative_error(e, a); }, worst);
  INFO("worst parameter gradient: " << worst);
  CHECK(grad_error < testing::float_net_gradient_tolerance);
  MESSAGE("measured: output " << output_error << ", input gradient " << input_error << ", worst parameter gradient "
                              << grad_error << " (" << worst << ")");
}

TEST_CASE("VGG-19 to relu3_4 on a 4x256x256 batch matches the CPU backend: features and input gradient") {
  PERCEPTUAL_PARITY_CASE(rng);
  using Net = nets::Vgg19<"relu1_2", "relu2_2", "relu3_4">;  // the shared weights' layers, as the programs use them
  nets::LossNetwork<Net, Cpu, float> vgg;
  nets::LossNetwork<Net, Cuda, float> cuda_vgg;
  testing::randomize_parameters(vgg, rng);
  testing::copy_parameters(vgg, cuda_vgg);
  const auto x = testing::random_tensor<float>(training_batch, rng, 0, 255);
  const auto features = vgg.forward(x);
  const auto cuda_features = cuda_vgg.forward(to_cuda(x));
  typename nets::LossNetwork<Net, Cpu, float>::Features grads;
  typename nets::LossNetwork<Net, Cuda, float>::Features cuda_grads;
  double worst_feature = 0;
  for (int t = 0; t < Net::num_taps; ++t) {
    INFO("tap " << Net::tap_names()[t]);
    const double error = norm_relative_error(features[t], cuda_features[t]);
    CHECK(error < testing::parity_tolerance);
    worst_feature = std::max(worst_feature, error);
    grads[t] = testing::random_tensor<float>(features[t].shape(), rng);
    cuda_grads[t] = to_cuda(grads[t]);
  }
  const double gradient_error = norm_relative_error(vgg.backward(grads), cuda_vgg.backward(cuda_grads));
  CHECK(gradient_error < testing::float_net_gradient_tolerance);
  MESSAGE("measured: worst feature " << worst_feature << ", input gradient " << gradient_error);
}

// As trainer_test.cpp's first case, at train_style's sizes and default layers (content relu2_2,
// style relu1_2..relu4_3) and a 256x256 style image: the loss terms, every gradient, and the
// parameters after Adam's first step (lr * g / (|g| + eps), about lr * sign(g), so an entry whose
// gradient is within rounding of zero may move the other way: every entry within 2 lr, at most 1%
// further apart than lr / 100; a wrong update moves nearly all).
TEST_CASE("a StyleTrainer step on a 4x256x256 batch with VGG-16 to relu4_3 matches the CPU's") {
  PERCEPTUAL_PARITY_CASE(rng);
  testing::TempDir dir;
  testing::write_random_vgg16(dir / "vgg16.safetensors", rng());
  train::StyleTrainerOptions options;
  options.seed = rng();
  const HostTensor style = testing::random_tensor<float>({1, 3, 256, 256}, rng, 0, 255);
  const HostTensor batch = testing::random_tensor<float>(training_batch, rng, 0, 255);
  train::StyleTrainer<nets::AllReluVgg16> cpu(options, dir / "vgg16.safetensors", style);
  train::StyleTrainer<nets::AllReluVgg16, StyleNet, Cuda> gpu(options, dir / "vgg16.safetensors", style);

  const train::StyleTerms e = cpu.step(batch), a = gpu.step(batch);
  const double term_errors[] = {testing::relative_error(e.content, a.content),
                                testing::relative_error(e.style, a.style), testing::relative_error(e.tv, a.tv),
                                testing::relative_error(e.total, a.total)};
  for (const double error : term_errors) CHECK(error < testing::parity_tolerance);

  std::string worst;
  const double grad_error = testing::worst_gradient_error(
      cpu.model(), gpu.model(), [](const auto& x, const auto& y) { return norm_relative_error(x, y); }, worst);
  INFO("worst parameter gradient: " << worst);
  CHECK(grad_error < testing::float_net_gradient_tolerance);

  auto p = cpu.model().parameters();
  auto q = gpu.model().parameters();
  REQUIRE(p.size() == q.size());
  std::set<std::string> names;
  for (const auto& param : p) names.insert(param.name);
  const double lr = options.lr;
  double widest_step = 0;
  std::size_t entries = 0, apart = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    REQUIRE(p[i].name == q[i].name);
    const std::vector<float> pe = p[i].value->to_host(), pa = q[i].value->to_host();
    for (std::size_t k = 0; k < pe.size(); ++k) widest_step = std::max(widest_step, std::abs(double(pe[k]) - pa[k]));
    if (!p[i].learnable() || testing::feeds_norm(p[i].name, [&](const std::string& n) { return names.contains(n); }))
      continue;
    entries += pe.size();
    for (std::size_t k = 0; k < pe.size(); ++k) apart += std::abs(double(pe[k]) - pa[k]) > lr / 100;
  }
  CHECK(widest_step <= 2 * lr * (1 + 1e-3));
  CHECK(apart <= entries / 100);
  MESSAGE("measured: loss terms " << term_errors[0] << ", " << term_errors[1] << ", " << term_errors[2] << ", "
                                  << term_errors[3] << "; worst parameter gradient " << grad_error << " (" << worst
                                  << "); " << apart << " of " << entries << " parameters further apart than lr / 100");
}
