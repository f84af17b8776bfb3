// StyleTrainer (include/perceptual/train/style_trainer.hpp) on tiny images with a tiny random VGG-16.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "perceptual/train/data.hpp"
#include "perceptual/train/style_trainer.hpp"
#include "support/random.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_vgg.hpp"

using namespace perceptual;
using namespace perceptual::train;
using TensorF = Tensor<float, Cpu>;
namespace fs = std::filesystem;
using Trainer = StyleTrainer<nets::AllReluVgg16>;

namespace {

StyleTrainerOptions tiny_options() {
  StyleTrainerOptions o;
  o.objective.content_layers = {"relu2_2"};
  o.objective.style_layers = {"relu1_2", "relu2_2"};
  o.objective.content_weight = 1;
  o.objective.style_weight = 1e-2;
  o.objective.tv_weight = 1e-4;
  o.lr = 1e-3;
  o.seed = 3;
  return o;
}

void write_images(const fs::path& folder, int n) {
  fs::create_directories(folder);
  std::mt19937_64 rng(11);
  for (int i = 0; i < n; ++i)
    io::write_image(testing::random_tensor<float>({1, 3, 20, 24}, rng, 0, 255),
                    folder / ("img" + std::to_string(i) + ".png"));
}

struct Fixture {
  testing::TempDir dir;
  TensorF style;
  Fixture() {
    testing::write_tiny_vgg(dir / "vgg.safetensors");
    write_images(dir / "data", 5);
    std::mt19937_64 rng(5);
    style = testing::random_tensor<float>({1, 3, 16, 16}, rng, 0, 255);
  }
};

void check_same_state(Trainer& a, Trainer& b) {
  auto pa = a.model().parameters(), pb = b.model().parameters();
  auto sa = a.optimizer().state_tensors(), sb = b.optimizer().state_tensors();
  pa.insert(pa.end(), sa.begin(), sa.end());
  pb.insert(pb.end(), sb.begin(), sb.end());
  REQUIRE(pa.size() == pb.size());
  int differing = 0;
  for (std::size_t i = 0; i < pa.size(); ++i)
    if (pa[i].value->to_host() != pb[i].value->to_host()) {
      ++differing;
      INFO(pa[i].name);
      CHECK(pa[i].value->to_host() == pb[i].value->to_host());
      if (differing > 3) break;
    }
  CHECK(differing == 0);
  CHECK(a.optimizer().step_count() == b.optimizer().step_count());
  CHECK(a.iteration() == b.iteration());
}

}  // namespace

TEST_CASE("StyleTrainer: a few Adam steps on one batch at least halve the loss") {
  Fixture f;
  Trainer trainer(tiny_options(), f.dir / "vgg.safetensors", f.style);
  const ImageDataset data({f.dir / "data"});
  BatchLoader loader(data, {.image_size = 16, .batch_size = 2, .threads = 0});
  const TensorF batch = loader.next().images;
  const StyleTerms before = trainer.evaluate(batch);
  CHECK(before.content > 0);
  CHECK(before.style > 0);
  CHECK(before.tv > 0);
  CHECK(before.total == doctest::Approx(before.content + before.style + before.tv));
  StyleTerms first;
  for (int i = 0; i < 15; ++i) {
    const auto t = trainer.step(batch);
    if (i == 0) first = t;
  }
  CHECK(first.total == doctest::Approx(before.total).epsilon(1e-5));  // instance norm: train == eval
  const StyleTerms after = trainer.evaluate(batch);
  INFO("before " << before.total << " after " << after.total);
  CHECK(after.total < 0.5 * before.total);
  CHECK(trainer.iteration() == 15);
  CHECK(trainer.optimizer().step_count() == 15);
}

TEST_CASE("StyleTrainer: resuming from a checkpoint reproduces an uninterrupted run exactly") {
  Fixture f;
  const ImageDataset data({f.dir / "data"});
  const LoaderOptions lo{.image_size = 16, .batch_size = 2, .seed = 9, .threads = 2};

  Trainer whole(tiny_options(), f.dir / "vgg.safetensors", f.style);
  std::vector<StyleTerms> whole_terms;
  {
    BatchLoader loader(data, lo);
    for (int i = 0; i < 4; ++i) whole_terms.push_back(whole.step(loader.next().images));
  }

  Trainer first(tiny_options(), f.dir / "vgg.safetensors", f.style);
  {
    BatchLoader loader(data, lo);
    for (int i = 0; i < 2; ++i) first.step(loader.next().images);
  }
  first.save_checkpoint(f.dir / "ckpt.safetensors", {{"note", "kept"}});

  auto other = tiny_options();
  other.seed = 1234;  // different initial weights: everything must come from the checkpoint
  Trainer resumed(other, f.dir / "vgg.safetensors", f.style);
  const auto meta = resumed.load_checkpoint(f.dir / "ckpt.safetensors");
  CHECK(meta.at("note") == "kept");
  CHECK(meta.at("architecture") == "johnson-style");
  CHECK(resumed.iteration() == 2);
  CHECK(resumed.optimizer().step_count() == 2);
  {
    auto resume_options = lo;
    resume_options.first_batch = resumed.iteration();
    BatchLoader loader(data, resume_options);
    for (int i = 2; i < 4; ++i) {
      const auto t = resumed.step(loader.next().images);
      CHECK(t.total == whole_terms[i].total);
      CHECK(t.style == whole_terms[i].style);
    }
  }
  check_same_state(whole, resumed);
}

TEST_CASE("StyleTrainer: the saved model loads into a fresh network with the same output") {
  Fixture f;
  Trainer trainer(tiny_options(), f.dir / "vgg.safetensors", f.style);
  std::mt19937_64 rng(1);
  const TensorF batch = testing::random_tensor<float>({2, 3, 16, 16}, rng, 0, 255);
  trainer.step(batch);
  trainer.save_model(f.dir / "model.safetensors", {{"style", "random.png"}});
  const io::SafetensorsFile file(f.dir / "model.safetensors");
  CHECK(file.metadata().at("architecture") == "johnson-style");
  CHECK(file.metadata().at("iterations") == "1");
  CHECK(file.has("conv1.weight"));
  CHECK_FALSE(file.has("adam.conv1.weight.exp_avg"));

  Model<nets::StyleTransformNet<>, Cpu, float> net;
  io::load_parameters(net, file);
  const TensorF image = testing::random_tensor<float>({1, 3, 18, 14}, rng, 0, 255);
  const TensorF mine = trainer.stylize(image);
  REQUIRE(mine.shape() == Shape4{1, 3, 18, 14});  // cropped back from 20x16
  const TensorF theirs = net.eval().forward(image);
  const auto a = mine.to_host(), b = theirs.to_host();
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 18; ++i)
      for (int j = 0; j < 14; ++j) REQUIRE(a[(c * 18 + i) * 14 + j] == b[(c * 20 + i) * 16 + j]);
}

TEST_CASE("StyleTrainer: unknown layers, layers the weights lack and non-checkpoints are clear errors") {
  Fixture f;
  auto o = tiny_options();
  o.objective.style_layers = {"relu1_2", "relu9_9"};
  CHECK_THROWS_WITH_AS(Trainer(o, f.dir / "vgg.safetensors", f.style), doctest::Contains("no layer \"relu9_9\""),
                       ArgumentError);
  o.objective.style_layers = {"relu1_2", "relu3_3"};
  CHECK_THROWS_WITH_AS(Trainer(o, f.dir / "vgg.safetensors", f.style),
                       doctest::Contains("tap relu3_3 needs tensor \"conv3_1.weight\""), FileError);
  Trainer trainer(tiny_options(), f.dir / "vgg.safetensors", f.style);
  CHECK_THROWS_WITH_AS(trainer.load_checkpoint(f.dir / "vgg.safetensors"),
                       doctest::Contains("not a training checkpoint"), FileError);
}

TEST_CASE("StyleTrainer: a NaN or Inf loss term or gradient stops step, naming the iteration and the term") {
  Fixture f;
  std::mt19937_64 rng(1);
  const TensorF batch = testing::random_tensor<float>({2, 3, 16, 16}, rng, 0, 255);
  auto o = tiny_options();
  o.objective.style_weight = 1e308;  // the style term overflows double
  Trainer inf_loss(o, f.dir / "vgg.safetensors", f.style);
  Trainer fresh(o, f.dir / "vgg.safetensors", f.style);
  CHECK_THROWS_WITH_AS(inf_loss.step(batch),
                       doctest::Contains("StyleTrainer: iteration 1: the style loss is inf (content "), NonFiniteError);
  check_same_state(inf_loss, fresh);  // not updated
  o = tiny_options();
  o.objective.tv_weight = 1e36;  // fits in float; the TV gradient, 2 * 1e36 * a difference, does not
  Trainer nan_gradient(o, f.dir / "vgg.safetensors", f.style);
  CHECK_THROWS_WITH_AS(nan_gradient.step(batch),
                       doctest::Contains("StyleTrainer: iteration 1: the gradient of conv1.weight holds nan at index 0 "
                                         "(of 7776; 7776 values are not finite), though the loss is finite (content "),
                       NonFiniteError);
  CHECK(nan_gradient.iteration() == 0);
}
