// app/training.hpp: the training programs' loop, with a trainer that only records what it is asked
// (the programs themselves: tests/examples/).
#include "perceptual/app/training.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

using namespace perceptual;
namespace fs = std::filesystem;

namespace {

// What run_training needs of a trainer: the iteration count, the optimiser's learning rate and the
// two writes, recorded.
struct FakeOptimizer {
  optim::AdamOptions o;
  optim::AdamOptions& options() { return o; }
};

struct FakeTrainer {
  long long it = 0;
  std::vector<std::string> writes;
  FakeOptimizer adam;
  std::vector<double> lrs;  // the learning rate of each step
  long long fail_at = -1;   // the step that throws (NonFiniteError), -1: none
  dist::Communicator* comm = &dist::alone();
  long long iteration() const { return it; }
  dist::Communicator& communicator() const { return *comm; }
  FakeOptimizer& optimizer() { return adam; }
  void save_checkpoint(const fs::path& path, const std::map<std::string, std::string>&) {
    writes.push_back("checkpoint " + path.filename().string() + " @" + std::to_string(it));
  }
  void save_model(const fs::path& path, const std::map<std::string, std::string>&) {
    writes.push_back("model " + path.filename().string() + " @" + std::to_string(it));
  }
  std::vector<double> step() {
    ++it;
    lrs.push_back(adam.o.lr);
    if (it == fail_at) throw train::NonFiniteError("FakeTrainer: NaN at iteration " + std::to_string(it));
    return {3.0 / static_cast<double>(it), 1, 2};
  }
};

// Rank 1 of a data-parallel run of 2 (the root's stop decisions, summed in, are "go on").
struct SecondRank final : dist::Communicator {
  int rank() const override { return 1; }
  int size() const override { return 2; }
};

app::TrainingFlags flags(const fs::path& dir) {
  app::TrainingFlags f;
  f.output = (dir / "net.safetensors").string();
  f.log = (dir / "log.csv").string();
  f.iterations = 5;
  f.checkpoint_every = 2;
  f.sample_every = 4;
  return f;
}

}  // namespace

TEST_CASE(
    "run_training logs every step, checkpoints and samples on cadence, and ends with a checkpoint and the model") {
  testing::TempDir dir;
  const auto f = flags(dir.path);
  FakeTrainer trainer;
  app::TrainingLoop loop("test", f, 0, {"total", "a", "b"});
  std::vector<std::string> samples;
  const int status = app::run_training(
      "test", f, trainer, loop, {}, [&](long) { return trainer.step(); },
      [&](const fs::path& p) { samples.push_back(p.filename().string()); });
  CHECK(status == 0);
  CHECK(trainer.writes == std::vector<std::string>{"checkpoint net.ckpt.safetensors @2",
                                                   "checkpoint net.ckpt.safetensors @4",
                                                   "checkpoint net.ckpt.safetensors @5", "model net.safetensors @5"});
  CHECK(samples == std::vector<std::string>{"net_sample_4.png"});
  std::ifstream log(f.log);
  std::vector<std::string> lines;
  for (std::string line; std::getline(log, line);) lines.push_back(line);
  REQUIRE(lines.size() == 6);
  CHECK(lines[0] == "iteration,total,a,b,seconds");
  CHECK(lines[5].starts_with("5,0.6,1,2,"));
}

TEST_CASE("run_training stops at an error, writes no model, and exits 1 keeping the last checkpoint") {
  testing::TempDir dir;
  const auto f = flags(dir.path);
  FakeTrainer trainer;
  trainer.fail_at = 4;
  app::TrainingLoop loop("test", f, 0, {"total", "a", "b"});
  const int status = app::run_training(
      "test", f, trainer, loop, {}, [&](long) { return trainer.step(); }, [](const fs::path&) {});
  CHECK(status == 1);
  CHECK(trainer.writes == std::vector<std::string>{"checkpoint net.ckpt.safetensors @2"});
}

TEST_CASE("run_training continues a resumed run from the loop's first iteration") {
  testing::TempDir dir;
  auto f = flags(dir.path);
  f.checkpoint_every = 0;
  FakeTrainer trainer;
  trainer.it = 3;
  app::TrainingLoop loop("test", f, 3, {"total", "a", "b"});
  CHECK(app::run_training(
            "test", f, trainer, loop, {}, [&](long) { return trainer.step(); }, [](const fs::path&) {}) == 0);
  CHECK(trainer.writes == std::vector<std::string>{"model net.safetensors @5"});
}

TEST_CASE(
    "run_training steps at --lr, or anneals it by a cosine to --lr-final, and a resumed run continues the schedule") {
  testing::TempDir dir;
  auto f = flags(dir.path);
  f.lr = 0.01;
  f.checkpoint_every = 0;
  const auto run = [&](long long from) {
    FakeTrainer trainer;
    trainer.it = from;
    app::TrainingLoop loop("test", f, from, {"total", "a", "b"});
    REQUIRE(app::run_training(
                "test", f, trainer, loop, {}, [&](long) { return trainer.step(); }, [](const fs::path&) {}) == 0);
    return trainer.lrs;
  };
  CHECK(run(0) == std::vector<double>(5, 0.01));
  f.lr_final = 0.001;
  const auto lrs = run(0);
  REQUIRE(lrs.size() == 5);
  CHECK(lrs[0] == doctest::Approx(0.01));
  CHECK(lrs[2] == doctest::Approx(0.0055));  // halfway: the mean
  CHECK(lrs[1] == doctest::Approx(0.001 + 0.009 * (1 + std::cos(std::numbers::pi / 4)) / 2));
  CHECK(lrs[4] == doctest::Approx(0.001));
  CHECK(run(3) == std::vector<double>(lrs.begin() + 3, lrs.end()));
  CHECK(app::run_metadata(f).at("lr_final") == "0.001");
}

TEST_CASE("run_training on a rank other than the root steps alike but writes, logs and prints nothing") {
  testing::TempDir dir;
  const auto f = flags(dir.path);
  SecondRank second;
  FakeTrainer trainer;
  trainer.comm = &second;
  app::TrainingLoop loop("test", f, 0, {"total", "a", "b"}, second.root());
  int samples = 0;
  CHECK(app::run_training(
            "test", f, trainer, loop, {}, [&](long) { return trainer.step(); }, [&](const fs::path&) { ++samples; }) ==
        0);
  CHECK(trainer.it == 5);
  CHECK(trainer.writes.empty());
  CHECK(samples == 0);
  CHECK_FALSE(fs::exists(f.log));

  // A NaN reaches every rank alike (the combined loss): this one stops too, without a word.
  FakeTrainer failing;
  failing.comm = &second;
  failing.fail_at = 2;
  app::TrainingLoop again("test", f, 0, {"total", "a", "b"}, second.root());
  CHECK(app::run_training(
            "test", f, failing, again, {}, [&](long) { return failing.step(); }, [](const fs::path&) {}) == 1);
}
