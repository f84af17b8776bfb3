// TrainingState (include/perceptual/train/checkpoint.hpp) on a miniature net with batch norm.
#include "perceptual/train/checkpoint.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>

#include "perceptual/layers/layers.hpp"
#include "perceptual/losses/losses.hpp"
#include "support/random.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;
using namespace perceptual::train;
using namespace perceptual::layers;
using TensorF = Tensor<float, Cpu>;
using MiniNet = Sequential<Named<"conv1", Conv2d<3, 4, 3, Reflect>>, Named<"conv1.norm", BatchNorm<4>>, ReLU,
                           Named<"conv_out", Conv2d<4, 3, 3, Reflect>>>;
using State = TrainingState<MiniNet>;

namespace {

const CheckpointKind kind{"MiniTrainer", "mini_trainer", "mini"};

// n Adam steps on fixed data (pixel loss towards a fixed target).
void run_steps(State& s, int n) {
  std::mt19937_64 rng(21);
  const TensorF x = testing::random_tensor<float>({2, 3, 6, 5}, rng, 0, 255);
  const TensorF target = testing::random_tensor<float>({2, 3, 6, 5}, rng, 0, 255);
  for (int i = 0; i < n; ++i) {
    s.model().train().zero_grad();
    s.model().backward(losses::pixel_loss(s.model().forward(x), target).grad);
    s.update();
  }
}

std::vector<std::vector<float>> everything(State& s) {
  std::vector<std::vector<float>> out;
  for (const auto& p : s.model().parameters()) out.push_back(p.value->to_host());
  for (const auto& p : s.optimizer().state_tensors()) out.push_back(p.value->to_host());
  return out;
}

}  // namespace

TEST_CASE("TrainingState: a checkpoint restores parameters, batch-norm statistics, Adam and the iteration") {
  testing::TempDir dir;
  State whole(kind, 1, 1e-2), first(kind, 1, 1e-2);
  run_steps(whole, 5);
  run_steps(first, 3);
  first.save_checkpoint(dir / "ckpt.safetensors", {{"note", "kept"}, {"iteration", "overwritten"}});

  State resumed(kind, 99, 1e-2);  // other initial weights: all must come from the file
  const auto meta = resumed.load_checkpoint(dir / "ckpt.safetensors", {{"note", "kept"}});
  CHECK(meta.at("note") == "kept");
  CHECK(meta.at("architecture") == "mini");
  CHECK(meta.at("checkpoint") == "mini_trainer");
  CHECK(meta.at("iteration") == "3");
  CHECK(meta.at("lr") == "0.01");
  CHECK(resumed.iteration() == 3);
  CHECK(resumed.optimizer().step_count() == 3);
  CHECK(everything(resumed) == everything(first));
  run_steps(resumed, 2);  // the data is the same each step, so steps 4 and 5 are as in `whole`
  CHECK(everything(resumed) == everything(whole));
  CHECK(resumed.iteration() == 5);
}

TEST_CASE("TrainingState: the model file has the network only; wrong files are clear errors") {
  testing::TempDir dir;
  State s(kind, 1, 1e-3);
  run_steps(s, 1);
  s.save_model(dir / "model.safetensors", {{"factor", "4"}});
  const io::SafetensorsFile model(dir / "model.safetensors");
  CHECK(model.metadata().at("architecture") == "mini");
  CHECK(model.metadata().at("iterations") == "1");
  CHECK(model.has("conv1.norm.running_mean"));
  CHECK_FALSE(model.has("adam.conv1.weight.exp_avg"));
  const std::string message = "MiniTrainer: " + (dir / "model.safetensors").string() +
                              " is not a training checkpoint (no \"checkpoint\" metadata)";
  CHECK_THROWS_WITH_AS(s.load_checkpoint(dir / "model.safetensors"), doctest::Contains(message.c_str()), FileError);

  s.save_checkpoint(dir / "ckpt.safetensors", {{"factor", "4"}});
  State other({"OtherTrainer", "other_trainer", "mini"}, 1, 1e-3);
  CHECK_THROWS_WITH_AS(other.load_checkpoint(dir / "ckpt.safetensors"),
                       doctest::Contains("is a \"mini_trainer\" checkpoint, not a \"other_trainer\" one"), FileError);
  CHECK_THROWS_WITH_AS(s.load_checkpoint(dir / "ckpt.safetensors", {{"factor", "8"}}),
                       doctest::Contains("has factor \"4\", this run needs \"8\""), FileError);
  CHECK_THROWS_WITH_AS(s.load_checkpoint(dir / "ckpt.safetensors", {{"norm", "batch"}}),
                       doctest::Contains("has norm \"(none)\""), FileError);
}
