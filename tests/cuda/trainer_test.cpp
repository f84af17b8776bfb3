// CPU/CUDA parity of the trainers (include/perceptual/train/): a StyleTrainer and an SrTrainer step
// on each backend from the same seed and batch (a tiny random VGG-16 to relu2_2), and checkpoints
// and model files that pass between the backends byte for byte.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "cuda/support.hpp"
#include "perceptual/train/sr_trainer.hpp"
#include "perceptual/train/style_trainer.hpp"
#include "support/norm_fed.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_vgg.hpp"

using namespace perceptual;
using testing::relative_error;

namespace {

using StyleCpu = train::StyleTrainer<nets::AllReluVgg16>;
using StyleCuda = train::StyleTrainer<nets::AllReluVgg16, nets::StyleTransformNet<>, Cuda>;
using SrCpu = train::SrTrainer<4>;
using SrCuda = train::SrTrainer<4, nets::BatchNormDefault, Cuda>;
using HostTensor = Tensor<float, Cpu>;

constexpr double lr = 1e-3;

// The loss terms of the step after the first, whose nets differ where Adam's first step went the
// other way (see check_step_state): a step that did not update at all would be 14% off or more.
constexpr double next_step_tolerance = 5e-3;

train::StyleTrainerOptions style_options() {
  train::StyleTrainerOptions o;
  o.objective.content_layers = {"relu2_2"};
  o.objective.style_layers = {"relu1_2", "relu2_2"};  // what the tiny VGG has
  o.objective.style_weight = 1e-2;
  o.objective.tv_weight = 1e-4;
  o.lr = lr;
  o.seed = 3;
  return o;
}

train::SrTrainerOptions sr_options(train::SrLoss loss) {
  return {.loss = loss, .tv_weight = 1e-4, .lr = lr, .seed = 3};
}

void check_terms(const train::StyleTerms& e, const train::StyleTerms& a, double tolerance) {
  CHECK(relative_error(e.content, a.content) < tolerance);
  CHECK(relative_error(e.style, a.style) < tolerance);
  CHECK(relative_error(e.tv, a.tv) < tolerance);
  CHECK(relative_error(e.total, a.total) < tolerance);
}

void check_terms(const train::SrTerms& e, const train::SrTerms& a, double tolerance) {
  CHECK(relative_error(e.pixel, a.pixel) < tolerance);
  CHECK(relative_error(e.feature, a.feature) < tolerance);
  CHECK(relative_error(e.tv, a.tv) < tolerance);
  CHECK(relative_error(e.total, a.total) < tolerance);
}

template <class Trainer>
std::vector<std::vector<float>> host_parameters(Trainer& trainer) {
  std::vector<std::vector<float>> out;
  for (const auto& p : trainer.model().parameters()) out.push_back(p.value->to_host());
  return out;
}

// After one step of each trainer from the same start: the gradients the step left, and the
// parameters after the update, but for the norm-fed biases (support/norm_fed.hpp) whose gradients
// are rounding noise. Gradients by norm (float whole-net tolerance). Adam's first step moves an
// entry by lr * g / (|g| + eps), about lr * sign(g), so an entry whose gradient is within rounding
// of zero may move the other way on the other backend and end 2 lr away: every entry within 2 lr,
// and at most 1% of them further apart than lr / 100 (a wrong update moves nearly all; the CPU run
// against itself on inputs 1e-6 apart moves 0.13% apart, and its worst gradient is 1.1e-2 off).
// Running statistics (not learnable) by relative_error.
template <class CpuTrainer, class CudaTrainer>
void check_step_state(CpuTrainer& cpu, CudaTrainer& gpu) {
  auto e = cpu.model().parameters();
  auto a = gpu.model().parameters();
  REQUIRE(e.size() == a.size());
  std::set<std::string> names;
  for (const auto& p : e) names.insert(p.name);
  double worst_gradient = 0, widest_step = 0;
  std::string worst;
  std::size_t entries = 0, apart = 0;
  for (std::size_t i = 0; i < e.size(); ++i) {
    INFO("parameter " << e[i].name);
    REQUIRE(e[i].name == a[i].name);
    REQUIRE(e[i].learnable() == a[i].learnable());
    if (!e[i].learnable()) {
      CHECK(relative_error(*e[i].value, *a[i].value) < testing::parity_tolerance);
      continue;
    }
    const std::vector<float> pe = e[i].value->to_host(), pa = a[i].value->to_host();
    for (std::size_t k = 0; k < pe.size(); ++k) widest_step = std::max(widest_step, std::abs(double(pe[k]) - pa[k]));
    if (testing::feeds_norm(e[i].name, [&](const std::string& n) { return names.contains(n); })) continue;
    const double g = testing::norm_relative_error(*e[i].grad, *a[i].grad);
    if (g >= worst_gradient) {
      worst_gradient = g;
      worst = e[i].name;
    }
    entries += pe.size();
    for (std::size_t k = 0; k < pe.size(); ++k) apart += std::abs(double(pe[k]) - pa[k]) > lr / 100;
  }
  INFO("worst parameter gradient: " << worst);
  CHECK(worst_gradient < testing::float_net_gradient_tolerance);
  CHECK(widest_step <= 2 * lr * (1 + 1e-3));
  CHECK(apart <= entries / 100);
  MESSAGE("measured: worst parameter gradient " << worst_gradient << " (" << worst << "); " << apart << " of "
                                                << entries << " parameters further apart than lr / 100");
}

std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every parameter and Adam moment of `b` equals `a`'s exactly, and so do the counts.
template <class A, class B>
void check_same_state(A& a, B& b) {
  auto pa = a.model().parameters();
  auto pb = b.model().parameters();
  auto sa = a.optimizer().state_tensors();
  auto sb = b.optimizer().state_tensors();
  REQUIRE(pa.size() == pb.size());
  REQUIRE(sa.size() == sb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) {
    INFO(pa[i].name);
    CHECK(pa[i].value->to_host() == pb[i].value->to_host());
  }
  for (std::size_t i = 0; i < sa.size(); ++i) {
    INFO(sa[i].name);
    CHECK(sa[i].value->to_host() == sb[i].value->to_host());
  }
  CHECK(a.iteration() == b.iteration());
  CHECK(a.optimizer().step_count() == b.optimizer().step_count());
}

// A checkpoint and a model file written on the device load into a CPU trainer (made from another
// seed, so everything must come from the file), which writes them again byte for byte; a fresh
// device trainer loads the CPU's checkpoint back.
template <class CpuTrainer, class CudaTrainer>
void check_checkpoint_round_trip(CudaTrainer& gpu, CpuTrainer& cpu, CudaTrainer& fresh_gpu) {
  testing::TempDir dir;
  gpu.save_checkpoint(dir / "cuda.ckpt", {{"note", "kept"}});
  gpu.save_model(dir / "cuda.safetensors", {{"note", "kept"}});
  const auto meta = cpu.load_checkpoint(dir / "cuda.ckpt");
  CHECK(meta.at("note") == "kept");
  check_same_state(gpu, cpu);
  cpu.save_checkpoint(dir / "cpu.ckpt", {{"note", "kept"}});
  cpu.save_model(dir / "cpu.safetensors", {{"note", "kept"}});
  CHECK(file_bytes(dir / "cpu.ckpt") == file_bytes(dir / "cuda.ckpt"));
  CHECK(file_bytes(dir / "cpu.safetensors") == file_bytes(dir / "cuda.safetensors"));
  fresh_gpu.load_checkpoint(dir / "cpu.ckpt");
  check_same_state(cpu, fresh_gpu);
}

}  // namespace

TEST_CASE("a StyleTrainer step on CUDA matches the CPU's: loss terms, gradients, parameters, the next step") {
  PERCEPTUAL_PARITY_CASE(rng);
  testing::TempDir dir;
  testing::write_tiny_vgg(dir / "vgg.safetensors");
  const HostTensor style = testing::random_tensor<float>({1, 3, 16, 20}, rng, 0, 255);
  const HostTensor batch = testing::random_tensor<float>({2, 3, 16, 16}, rng, 0, 255);
  const HostTensor next = testing::random_tensor<float>({2, 3, 16, 16}, rng, 0, 255);
  StyleCpu cpu(style_options(), dir / "vgg.safetensors", style);
  StyleCuda gpu(style_options(), dir / "vgg.safetensors", style);
  CHECK(host_parameters(cpu) == host_parameters(gpu));  // the seed's weights are drawn on the host

  const train::StyleTerms expected = cpu.step(batch);
  const train::StyleTerms actual = gpu.step(batch);
  check_terms(expected, actual, testing::parity_tolerance);
  CHECK(gpu.iteration() == 1);
  check_step_state(cpu, gpu);
  // The next step sees nets that differ in the entries Adam moved apart (the norm-fed biases change
  // nothing): 6e-4 at most when the CPU is run against itself on inputs 1e-6 apart.
  check_terms(cpu.step(next), gpu.step(testing::to_cuda(next)), next_step_tolerance);

  const HostTensor image = testing::random_tensor<float>({1, 3, 18, 14}, rng, 0, 255);
  const HostTensor a = cpu.stylize(image), b = gpu.stylize(image);
  REQUIRE(b.shape() == Shape4{1, 3, 18, 14});  // cropped back from 20x16 through the host
  CHECK(testing::norm_relative_error(a, testing::to_cuda(b)) < 1e-2);
}

TEST_CASE("an SrTrainer step on CUDA matches the CPU's, with the pixel loss and with the feature loss") {
  PERCEPTUAL_PARITY_CASE(rng);
  testing::TempDir dir;
  testing::write_tiny_vgg(dir / "vgg.safetensors");
  const HostTensor lr_batch = testing::random_tensor<float>({2, 3, 10, 10}, rng, 0, 255);
  const HostTensor hr_batch = testing::random_tensor<float>({2, 3, 40, 40}, rng, 0, 255);
  for (const auto loss : {train::SrLoss::pixel, train::SrLoss::feature}) {
    INFO(train::sr_loss_name(loss) << " loss");
    SrCpu cpu(sr_options(loss), dir / "vgg.safetensors");
    SrCuda gpu(sr_options(loss), dir / "vgg.safetensors");
    CHECK(host_parameters(cpu) == host_parameters(gpu));
    check_terms(cpu.step(lr_batch, hr_batch), gpu.step(lr_batch, hr_batch), testing::parity_tolerance);
    check_step_state(cpu, gpu);  // batch norm's running statistics too
    check_terms(cpu.step(lr_batch, hr_batch), gpu.step(testing::to_cuda(lr_batch), testing::to_cuda(hr_batch)),
                next_step_tolerance);
    const HostTensor a = cpu.upscale(lr_batch), b = gpu.upscale(lr_batch);
    REQUIRE(b.shape() == hr_batch.shape());
    CHECK(testing::norm_relative_error(a, testing::to_cuda(b)) < 1e-2);
  }
}

TEST_CASE("a StyleTrainer checkpoint written on CUDA resumes on the CPU, and the files are the same bytes") {
  PERCEPTUAL_PARITY_CASE(rng);
  testing::TempDir dir;
  testing::write_tiny_vgg(dir / "vgg.safetensors");
  const HostTensor style = testing::random_tensor<float>({1, 3, 16, 16}, rng, 0, 255);
  StyleCuda gpu(style_options(), dir / "vgg.safetensors", style);
  for (int i = 0; i < 2; ++i) gpu.step(testing::random_tensor<float>({2, 3, 16, 16}, rng, 0, 255));
  auto other = style_options();
  other.seed = 1234;
  StyleCpu cpu(other, dir / "vgg.safetensors", style);
  StyleCuda fresh(other, dir / "vgg.safetensors", style);
  check_checkpoint_round_trip(gpu, cpu, fresh);
}

TEST_CASE("an SrTrainer checkpoint written on CUDA resumes on the CPU, and the files are the same bytes") {
  PERCEPTUAL_PARITY_CASE(rng);
  SrCuda gpu(sr_options(train::SrLoss::pixel));
  for (int i = 0; i < 2; ++i)
    gpu.step(testing::random_tensor<float>({2, 3, 8, 8}, rng, 0, 255),
             testing::random_tensor<float>({2, 3, 32, 32}, rng, 0, 255));
  auto other = sr_options(train::SrLoss::pixel);
  other.seed = 1234;
  SrCpu cpu(other);
  SrCuda fresh(other);
  check_checkpoint_round_trip(gpu, cpu, fresh);
}
