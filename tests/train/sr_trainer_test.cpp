// SrTrainer (include/perceptual/train/sr_trainer.hpp) on tiny generated images, with a tiny random
// VGG-16 for the feature loss.
#include "perceptual/train/sr_trainer.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/io/image.hpp"
#include "perceptual/nets/super_resolver.hpp"
#include "perceptual/train/data.hpp"
#include "support/random.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_vgg.hpp"

using namespace perceptual;
using namespace perceptual::train;
using TensorF = Tensor<float, Cpu>;
namespace fs = std::filesystem;
using Trainer4 = SrTrainer<4>;

namespace {

// Smooth coloured waves of random frequency and phase, 8-bit: learnable detail at any scale.
void write_images(const fs::path& folder, int n) {
  fs::create_directories(folder);
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < n; ++i) {
    TensorF x({1, 3, 40, 44});
    const double fy = 0.2 + 0.4 * u(rng), fx = 0.2 + 0.4 * u(rng), phase = 6 * u(rng), level = 60 + 100 * u(rng);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 40; ++y)
        for (int xx = 0; xx < 44; ++xx)
          x.data()[(c * 40 + y) * 44 + xx] =
              std::round(level + 20 * c + 50 * std::sin(fy * y + phase + c) * std::cos(fx * xx - phase));
    io::write_image(x, folder / ("img" + std::to_string(i) + ".png"));
  }
}

struct Fixture {
  testing::TempDir dir;
  Fixture() {
    testing::write_tiny_vgg(dir / "vgg.safetensors");
    write_images(dir / "data", 5);
  }
  LoaderOptions loader(int factor, std::uint64_t seed = 9, int threads = 0) const {
    return {.image_size = 6 * factor,
            .batch_size = 2,
            .seed = seed,
            .threads = threads,
            .crop = LoaderOptions::Crop::random,
            .lr_factor = factor};
  }
};

SrTrainerOptions options(SrLoss loss, double tv_weight = 0) {
  return {.loss = loss, .tv_weight = tv_weight, .lr = 1e-3, .seed = 3};
}

template <class T>
std::vector<std::vector<float>> state(T& trainer) {
  std::vector<std::vector<float>> out;
  for (const auto& p : trainer.model().parameters()) out.push_back(p.value->to_host());
  for (const auto& p : trainer.optimizer().state_tensors()) out.push_back(p.value->to_host());
  return out;
}

}  // namespace

TEST_CASE("SrTrainer: Adam steps on one batch at least halve the pixel loss, and the feature loss, with TV") {
  Fixture f;
  const ImageDataset data({f.dir / "data"});
  BatchLoader loader(data, f.loader(4));
  const Batch batch = loader.next();
  for (const SrLoss loss : {SrLoss::pixel, SrLoss::feature}) {
    INFO("loss " << sr_loss_name(loss));
    Trainer4 trainer(options(loss, 1e-4), f.dir / "vgg.safetensors");
    SrTerms first, last;
    for (int i = 0; i < 30; ++i) {
      const SrTerms t = trainer.step(batch.inputs, batch.images);
      if (i == 0) first = t;
      last = t;
    }
    INFO("first " << first.total << " last " << last.total);
    CHECK((loss == SrLoss::pixel ? first.pixel : first.feature) > 0);
    CHECK((loss == SrLoss::pixel ? first.feature : first.pixel) == 0);
    CHECK(first.tv > 0);
    CHECK(first.total == doctest::Approx(first.pixel + first.feature + first.tv));
    CHECK(last.total < 0.5 * first.total);
    CHECK(trainer.iteration() == 30);
    const TensorF y = trainer.upscale(batch.inputs);
    CHECK(y.shape() == batch.images.shape());
    const auto v = y.to_host();
    CHECK(*std::min_element(v.begin(), v.end()) >= 0.0f);
    CHECK(*std::max_element(v.begin(), v.end()) <= 255.0f);
  }
}

TEST_CASE("SrTrainer: resuming from a checkpoint reproduces an uninterrupted run exactly") {
  Fixture f;
  const ImageDataset data({f.dir / "data"});
  const auto lo = f.loader(4, 9, 2);
  auto run = [&](Trainer4& trainer, int from, int to) {
    auto o = lo;
    o.first_batch = from;
    BatchLoader loader(data, o);
    std::vector<double> totals;
    for (int i = from; i < to; ++i) {
      const Batch b = loader.next();
      totals.push_back(trainer.step(b.inputs, b.images).total);
    }
    return totals;
  };
  Trainer4 whole(options(SrLoss::feature, 1e-4), f.dir / "vgg.safetensors");
  const auto whole_totals = run(whole, 0, 4);

  Trainer4 first(options(SrLoss::feature, 1e-4), f.dir / "vgg.safetensors");
  run(first, 0, 2);
  first.save_checkpoint(f.dir / "ckpt.safetensors", {{"data", "tiny"}});
  auto other = options(SrLoss::feature, 1e-4);
  other.seed = 77;
  Trainer4 resumed(other, f.dir / "vgg.safetensors");
  const auto meta = resumed.load_checkpoint(f.dir / "ckpt.safetensors");
  CHECK(meta.at("data") == "tiny");
  CHECK(meta.at("architecture") == "johnson-sr");
  CHECK(meta.at("factor") == "4");
  CHECK(meta.at("norm") == "batch");
  CHECK(resumed.iteration() == 2);
  const auto resumed_totals = run(resumed, 2, 4);
  CHECK(resumed_totals[0] == whole_totals[2]);
  CHECK(resumed_totals[1] == whole_totals[3]);
  CHECK(state(resumed) == state(whole));
  CHECK(resumed.optimizer().step_count() == 4);
}

TEST_CASE("SrTrainer: the saved model records its settings and SuperResolver reproduces the trainer's output") {
  Fixture f;
  SrTrainer<8> trainer(options(SrLoss::pixel));
  const ImageDataset data({f.dir / "data"});
  BatchLoader loader(data, f.loader(8));
  const Batch b = loader.next();
  REQUIRE(b.inputs.shape() == Shape4{2, 3, 6, 6});
  trainer.step(b.inputs, b.images);
  trainer.save_model(f.dir / "x8.safetensors", {{"data", "tiny"}});
  const io::SafetensorsFile file(f.dir / "x8.safetensors");
  const auto& meta = file.metadata();
  CHECK(meta.at("architecture") == "johnson-sr");
  CHECK(meta.at("factor") == "8");
  CHECK(meta.at("norm") == "batch");
  CHECK(meta.at("loss") == "pixel");
  CHECK(meta.at("value_range") == "0,255");
  CHECK(meta.at("iterations") == "1");
  CHECK(meta.at("data") == "tiny");
  CHECK_FALSE(meta.contains("feature_layer"));
  CHECK(file.has("deconv3.norm.running_var"));

  nets::SuperResolver sr(f.dir / "x8.safetensors");
  CHECK(sr.factor() == 8);
  CHECK(sr.info().batch_norm);
  std::mt19937_64 rng(2);
  const TensorF lr = testing::random_tensor<float>({1, 3, 7, 5}, rng, 0, 255);
  const TensorF mine = trainer.upscale(lr);
  CHECK(mine.shape() == Shape4{1, 3, 56, 40});
  CHECK(sr.upscale(lr).to_host() == mine.to_host());
}

TEST_CASE("SrTrainer: missing weights, wrong shapes and other runs' checkpoints are clear errors") {
  Fixture f;
  CHECK_THROWS_WITH_AS(Trainer4(options(SrLoss::feature)), doctest::Contains("the feature loss needs VGG weights"),
                       ArgumentError);
  CHECK_THROWS_AS(Trainer4(options(SrLoss::feature), f.dir / "absent.safetensors"), FileError);
  CHECK_THROWS_AS(Trainer4(options(SrLoss::pixel, -1)), ArgumentError);
  CHECK_THROWS_AS(parse_sr_loss("perceptual"), ArgumentError);
  CHECK(parse_sr_loss("feature") == SrLoss::feature);

  Trainer4 trainer(options(SrLoss::pixel));
  std::mt19937_64 rng(1);
  const TensorF lr = testing::random_tensor<float>({2, 3, 6, 6}, rng, 0, 255);
  CHECK_THROWS_WITH_AS(trainer.step(lr, testing::random_tensor<float>({2, 3, 24, 20}, rng, 0, 255)),
                       doctest::Contains("2x3x6x6 and target 2x3x24x20"), ShapeError);
  CHECK_THROWS_WITH_AS(trainer.upscale(testing::random_tensor<float>({1, 3, 4, 9}, rng, 0, 255)),
                       doctest::Contains("H, W >= 5"), ShapeError);

  trainer.save_checkpoint(f.dir / "x4.safetensors");
  SrTrainer<8> x8(options(SrLoss::pixel));
  CHECK_THROWS_WITH_AS(x8.load_checkpoint(f.dir / "x4.safetensors"),
                       doctest::Contains("has factor \"4\", this run needs \"8\""), FileError);
  SrTrainer<4, nets::InstanceNormDefault> instance(options(SrLoss::pixel));
  CHECK_THROWS_WITH_AS(instance.load_checkpoint(f.dir / "x4.safetensors"),
                       doctest::Contains("has norm \"batch\", this run needs \"instance\""), FileError);
}

TEST_CASE("SrTrainer: a NaN or Inf loss term or gradient stops step, naming the iteration and the term") {
  Fixture f;
  const ImageDataset data({f.dir / "data"});
  BatchLoader loader(data, f.loader(4));
  const Batch batch = loader.next();
  Trainer4 inf_loss(options(SrLoss::pixel, 1e300));  // Inf as a float: so is the TV term
  // The weights and Adam's moments (batch norm's running statistics see the batch in forward).
  const auto learned = [](Trainer4& t) {
    std::vector<std::vector<float>> out;
    for (const auto& p : t.model().parameters())
      if (p.learnable()) out.push_back(p.value->to_host());
    for (const auto& p : t.optimizer().state_tensors()) out.push_back(p.value->to_host());
    return out;
  };
  const auto before = learned(inf_loss);
  CHECK_THROWS_WITH_AS(inf_loss.step(batch.inputs, batch.images),
                       doctest::Contains("SrTrainer: iteration 1: the tv loss is inf (pixel "), NonFiniteError);
  CHECK(inf_loss.iteration() == 0);
  CHECK(learned(inf_loss) == before);
  // 1e36 fits in float, the TV gradient 2 * 1e36 * a difference does not (the loss, a double, does).
  Trainer4 nan_gradient(options(SrLoss::feature, 1e36), f.dir / "vgg.safetensors");
  CHECK_THROWS_WITH_AS(
      nan_gradient.step(batch.inputs, batch.images),
      doctest::Contains("SrTrainer: iteration 1: the gradient of conv1.weight holds nan at index 0 "
                        "(of 15552; 15552 values are not finite), though the loss is finite (feature "),
      NonFiniteError);
  CHECK(nan_gradient.iteration() == 0);
}
