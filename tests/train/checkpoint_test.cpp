// TrainingState (include/perceptual/train/checkpoint.hpp) on a miniature net with batch norm.
#include "perceptual/train/checkpoint.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/layers/layers.hpp"
#include "perceptual/losses/losses.hpp"
#include "support/file_size_limit.hpp"
#include "support/random.hpp"
#include "support/spawn.hpp"
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

// Sets entry `index` of the tensor called `name` among `params` to `value`.
void poison(const Parameters<float, Cpu>& params, const std::string& name, std::size_t index, float value,
            bool gradient = false) {
  for (const auto& p : params)
    if (p.name == name) {
      TensorF& t = gradient ? *p.grad : *p.value;
      auto v = t.to_host();
      v.at(index) = value;
      t = TensorF::from_host(t.shape(), v);
      return;
    }
  FAIL("no parameter " << name);
}

// One forward and backward (gradients ready for update()), as run_steps takes them.
void backward_once(State& s) {
  std::mt19937_64 rng(21);
  const TensorF x = testing::random_tensor<float>({2, 3, 6, 5}, rng, 0, 255);
  const TensorF target = testing::random_tensor<float>({2, 3, 6, 5}, rng, 0, 255);
  s.model().train().zero_grad();
  s.model().backward(losses::pixel_loss(s.model().forward(x), target).grad);
}

// The message of the exception of type E that `f` throws ("" when it throws none).
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

constexpr float quiet_nan = std::numeric_limits<float>::quiet_NaN();
constexpr float inf = std::numeric_limits<float>::infinity();

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

TEST_CASE("TrainingState: a NaN or Inf loss term stops the update, naming the iteration and the term") {
  State s(kind, 1, 1e-2);
  run_steps(s, 3);
  backward_once(s);
  const auto before = everything(s);
  const std::string message = message_of<NonFiniteError>([&] {
    s.update({{"pixel", 12.5}, {"tv", inf}, {"total", inf}});
  });
  CHECK(message ==
        "MiniTrainer: iteration 4: the tv loss is inf (pixel 12.5, tv inf, total inf); stopped before updating the "
        "network: no checkpoint or model holds this state");
  CHECK(message_of<NonFiniteError>([&] {
          s.update({{"pixel", std::nan("")}});
        }).starts_with("MiniTrainer: iteration 4: the pixel loss is nan (pixel nan)"));
  CHECK(everything(s) == before);
  CHECK(s.iteration() == 3);
  CHECK(s.optimizer().step_count() == 3);
  s.update({{"pixel", 12.5}});  // finite: the update goes ahead
  CHECK(s.iteration() == 4);
}

TEST_CASE("TrainingState: a NaN or Inf gradient stops the update, naming the iteration and the parameter") {
  State s(kind, 1, 1e-2);
  run_steps(s, 3);
  backward_once(s);
  poison(s.model().parameters(), "conv_out.weight", 5, inf, true);
  poison(s.model().parameters(), "conv_out.weight", 9, quiet_nan, true);
  const auto before = everything(s);
  CHECK(message_of<NonFiniteError>([&] {
          s.update({{"pixel", 12.5}});
        }) ==
        "MiniTrainer: iteration 4: the gradient of conv_out.weight holds inf at index 5 (of 108; 2 values are not "
        "finite), though the loss is finite (pixel 12.5); stopped before updating the network: no checkpoint or "
        "model holds this state");
  CHECK(everything(s) == before);
  CHECK(s.iteration() == 3);
  poison(s.model().parameters(), "conv1.weight", 0, quiet_nan, true);  // the first learnable parameter is named
  CHECK(message_of<NonFiniteError>([&] { s.update(); })
            .starts_with("MiniTrainer: iteration 4: the gradient of conv1.weight holds nan at index 0 (of 108; 1 "
                         "value is not finite); stopped"));
}

TEST_CASE("TrainingState: a state holding NaN or Inf is never written, and the previous files stay") {
  testing::TempDir dir;
  State s(kind, 1, 1e-2);
  run_steps(s, 2);
  s.save_checkpoint(dir / "ckpt.safetensors", {});
  s.save_model(dir / "model.safetensors", {});
  const std::string checkpoint = testing::read_text(dir / "ckpt.safetensors");
  const std::string model = testing::read_text(dir / "model.safetensors");
  run_steps(s, 1);
  // What an update too large for float leaves (from finite gradients), and a NaN batch in batch norm.
  poison(s.model().parameters(), "conv1.weight", 7, -inf);
  CHECK(message_of<NonFiniteError>([&] { s.save_checkpoint(dir / "ckpt.safetensors", {}); }) ==
        "MiniTrainer: not writing the checkpoint " + (dir / "ckpt.safetensors").string() +
            ": after iteration 3, conv1.weight holds -inf at index 7 (of 108; 1 value is not finite)");
  poison(s.model().parameters(), "conv1.weight", 7, 0.5f);
  poison(s.model().parameters(), "conv1.norm.running_mean", 2, quiet_nan);
  CHECK(message_of<NonFiniteError>([&] { s.save_model(dir / "model.safetensors", {}); }) ==
        "MiniTrainer: not writing the model " + (dir / "model.safetensors").string() +
            ": after iteration 3, conv1.norm.running_mean holds nan at index 2 (of 4; 1 value is not finite)");
  poison(s.model().parameters(), "conv1.norm.running_mean", 2, 0.0f);
  poison(s.optimizer().state_tensors(), "conv_out.bias.exp_avg_sq", 1, inf);  // a gradient too large to square
  CHECK(message_of<NonFiniteError>([&] { s.save_checkpoint(dir / "ckpt.safetensors", {}); })
            .ends_with("after iteration 3, adam.conv_out.bias.exp_avg_sq holds inf at index 1 (of 3; 1 value is not "
                       "finite)"));
  CHECK(testing::read_text(dir / "ckpt.safetensors") == checkpoint);
  CHECK(testing::read_text(dir / "model.safetensors") == model);
  CHECK_FALSE(std::filesystem::exists(dir / "ckpt.safetensors.partial"));
}

TEST_CASE("TrainingState: a full disk is a FileError naming the file and the reason; the previous checkpoint loads") {
  testing::TempDir dir;
  const auto path = dir / "ckpt.safetensors";
  State s(kind, 1, 1e-2);
  run_steps(s, 2);
  s.save_checkpoint(path, {});
  const auto at_two = everything(s);
  const std::string before = testing::read_text(path);
  run_steps(s, 1);
  std::string message;
  {
    const testing::FileSizeLimit full(1024);  // the checkpoint is some 3 KB
    message = message_of<FileError>([&] { s.save_checkpoint(path, {}); });
  }
  CHECK(message == "cannot write " + path.string() + ": write ckpt.safetensors.partial: File too large");
  CHECK(testing::read_text(path) == before);
  CHECK_FALSE(std::filesystem::exists(dir / "ckpt.safetensors.partial"));
  State resumed(kind, 99, 1e-2);
  resumed.load_checkpoint(path);
  CHECK(resumed.iteration() == 2);
  CHECK(everything(resumed) == at_two);
}

TEST_CASE("TrainingState: a checkpoint holding a NaN is refused on resume, naming the file, tensor and index") {
  testing::TempDir dir;
  const auto path = dir / "ckpt.safetensors";
  State s(kind, 1, 1e-2);
  run_steps(s, 2);
  s.save_checkpoint(path, {});
  {  // A bit flip on disk: the exponent of Adam's second moment of conv_out.weight[3] all ones.
    const io::SafetensorsFile file(path);
    std::ifstream in(path, std::ios::binary);
    char length[8];
    in.read(length, 8);
    std::uint64_t header = 0;
    for (int i = 7; i >= 0; --i) header = header << 8 | static_cast<unsigned char>(length[i]);
    const auto offset = 8 + header + file.entry("adam.conv_out.weight.exp_avg_sq").begin + 3 * sizeof(float);
    std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
    out.seekp(static_cast<std::streamoff>(offset));
    const float bad = quiet_nan;
    out.write(reinterpret_cast<const char*>(&bad), sizeof bad);
  }
  State resumed(kind, 99, 1e-2);
  const auto fresh = everything(resumed);
  CHECK(message_of<FileError>([&] { resumed.load_checkpoint(path); }) ==
        "load_parameters: tensor \"adam.conv_out.weight.exp_avg_sq\" in " + path.string() +
            " holds nan at index 3 (of 108; 1 value is not finite) (the checkpoint's Adam moments)");
  CHECK(resumed.iteration() == 0);
}
