// What the training programs (train_style, train_sr; their loop: app/training.hpp) do when training
// cannot go on: a NaN or Inf in a loss term, a gradient or the state to be saved, a weights file or
// checkpoint holding one, a full disk. Each stops with a message naming the iteration and the term,
// parameter or file, writes nothing from the bad state, and says which checkpoint is kept, which
// stays whole and loadable. And when it should not go on: --time-limit ends a run as its last
// iteration would.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "perceptual/io/image.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/io/safetensors.hpp"
#include "support/program.hpp"
#include "support/random.hpp"
#include "support/spawn.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_training_data.hpp"

using namespace perceptual;
namespace fs = std::filesystem;
using testing::operator+;

namespace {

bool available() {
  return testing::Program("train_style").available() && testing::Program("train_sr").available();
}

struct Fixture : testing::TinyTrainingData {
  fs::path out() const { return dir / "out.safetensors"; }
  fs::path ckpt() const { return dir / "out.ckpt.safetensors"; }

  // train_style on 16 px crops, batch 1, writing out.safetensors (and out.ckpt.safetensors).
  std::vector<std::string> style(const std::string& more) const {
    return std::vector<std::string>{
               "--style", (dir / "style.png").string(), "--weights", (dir / "vgg.safetensors").string(),
               "--data",  (dir / "data").string(),      "-o",        out().string()} +
           testing::words("--style-layers relu1_2,relu2_2 --image-size 16 --batch-size 1 --seed 5 --threads 1 " + more);
  }
  // train_sr x4 with the pixel loss on 20 px HR crops, batch 2.
  std::vector<std::string> sr(const std::string& more) const {
    return std::vector<std::string>{"--data", (dir / "data").string(), "-o", out().string()} +
           testing::words("--factor 4 --loss pixel --crop-size 20 --batch-size 2 --seed 5 --threads 1 " + more);
  }

  // Runs `name` to its end; its exit status, with its output in `text`.
  int run(const std::string& name, const std::vector<std::string>& args, std::string& text, long max_file_bytes = 0) {
    return testing::run_to_end(testing::Program(name).path(), args, dir / "output.txt", text, max_file_bytes);
  }
};

std::vector<std::string> resume(const fs::path& checkpoint) {
  return {"--resume", checkpoint.string()};
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Every value of every tensor of a file is finite.
bool all_finite(const fs::path& path) {
  const io::SafetensorsFile file(path);
  for (const auto& name : file.names())
    for (float v : file.read<float>(name))
      if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace

TEST_CASE("train_style: an infinite loss stops at its iteration, naming the term, and writes nothing") {
  if (!available()) return;
  Fixture f;
  std::string text;
  REQUIRE(f.run("train_style", f.style("-n 3 --checkpoint-every 1 --style-weight 1e308"), text) == 1);
  INFO(text);
  CHECK(has(text, "train_style: error: StyleTrainer: iteration 1: the style loss is inf (content "));
  CHECK(has(text, ", style inf, tv "));
  CHECK(has(text, "stopped before updating the network: no checkpoint or model holds this state\n"));
  CHECK(has(text, "train_style: no checkpoint was written (--checkpoint-every N writes one every N iterations)"));
  CHECK_FALSE(fs::exists(f.out()));
  CHECK_FALSE(fs::exists(f.ckpt()));
}

TEST_CASE("train_style: a diverging run stops at the first NaN gradient and keeps the last good checkpoint") {
  if (!available()) return;
  Fixture f;
  std::string text;
  // Adam at 1e30 throws the weights to 1e30 in one step; the second step's gradients overflow.
  REQUIRE(f.run("train_style", f.style("-n 4 --checkpoint-every 1 --lr 1e30"), text) == 1);
  INFO(text);
  CHECK(has(text,
            "train_style: error: StyleTrainer: iteration 2: the gradient of conv1.weight holds nan at index 0 "
            "(of 7776; 7776 values are not finite), though the loss is finite (content "));
  CHECK(has(text, "train_style: the last checkpoint, " + f.ckpt().string() +
                      " (iteration 1), is kept: --resume it to continue (with a lower --lr or loss weight)"));
  CHECK_FALSE(fs::exists(f.out()));
  CHECK(io::SafetensorsFile(f.ckpt()).metadata().at("iteration") == "1");
  CHECK(all_finite(f.ckpt()));
}

TEST_CASE("train_style: an update too large for float is never saved; the loss after it names the cause") {
  if (!available()) return;
  Fixture f;
  std::string text;
  // A learning rate of 1e39 is Inf in float: the first update makes the weights infinite.
  REQUIRE(f.run("train_style", f.style("-n 3 --checkpoint-every 1 --lr 1e39"), text) == 1);
  INFO(text);
  // (+inf or -inf: the sign of the first gradient)
  CHECK(has(text, "train_style: error: StyleTrainer: not writing the checkpoint " + f.ckpt().string() +
                      ": after iteration 1, conv1.weight holds "));
  CHECK(has(text, "inf at index 0 (of 7776; 7776 values are not finite)"));
  CHECK_FALSE(fs::exists(f.ckpt()));
  REQUIRE(f.run("train_style", f.style("-n 3 --lr 1e39"), text) == 1);
  CHECK(has(text, "train_style: error: StyleTrainer: iteration 2: the "));
  CHECK(has(text, " loss is nan ("));
  CHECK(has(text, "), as conv1.weight holds "));
  CHECK(has(text,
            "inf at index 0 (of 7776; 7776 values are not finite) after the update of iteration 1 (from finite "
            "gradients: is the learning rate too high?)"));
  CHECK_FALSE(fs::exists(f.out()));
}

TEST_CASE("train_style: VGG weights holding a NaN are refused, naming the file, the tensor and the index") {
  if (!available()) return;
  Fixture f;
  io::SafetensorsFile vgg(f.dir / "vgg.safetensors");
  std::map<std::string, io::HostTensor<float>> tensors;
  for (const auto& name : vgg.names()) tensors[name] = {vgg.shape(name), vgg.read<float>(name)};
  tensors["conv1_2.weight"].values[5] = std::numeric_limits<float>::quiet_NaN();
  io::save_safetensors(f.dir / "vgg_nan.safetensors", tensors, vgg.metadata());
  auto args = f.style("-n 1");
  args[3] = (f.dir / "vgg_nan.safetensors").string();
  std::string text;
  REQUIRE(f.run("train_style", args, text) == 1);
  INFO(text);
  CHECK(has(text, "train_style: error: load_parameters: tensor \"conv1_2.weight\" in " +
                      (f.dir / "vgg_nan.safetensors").string() +
                      " holds nan at index 5 (of 36864; 1 value is not finite) (VGG loss network)"));
}

TEST_CASE("train_style: a full disk stops the run naming the file and the reason; the last checkpoint stays whole") {
  if (!available()) return;
  Fixture f;
  std::string text;
  REQUIRE(f.run("train_style", f.style("-n 2 --checkpoint-every 1"), text) == 0);
  const std::string before = testing::read_text(f.ckpt());
  // Files may grow to 1 MB: the 20 MB checkpoint of iteration 3 fails with EFBIG, as on a full disk.
  REQUIRE(f.run("train_style", f.style("-n 4 --checkpoint-every 1") + resume(f.ckpt()), text, 1 << 20) == 1);
  INFO(text);
  CHECK(has(text, "train_style: error: cannot write " + f.ckpt().string() +
                      ": write out.ckpt.safetensors.partial: File too large\n"));
  CHECK(has(text, "train_style: the last checkpoint, " + f.ckpt().string() +
                      " (iteration 2), is kept: --resume it to continue\n"));
  CHECK(testing::read_text(f.ckpt()) == before);
  CHECK_FALSE(fs::exists(io::partial_path(f.ckpt())));
  // And it resumes, with room again.
  REQUIRE(f.run("train_style", f.style("-n 3") + resume(f.ckpt()), text) == 0);
  CHECK(io::SafetensorsFile(f.out()).metadata().at("iterations") == "3");
}

TEST_CASE("train_sr: an infinite loss, a NaN gradient and a checkpoint holding a NaN stop it with clear messages") {
  if (!available()) return;
  Fixture f;
  std::string text;
  REQUIRE(f.run("train_sr", f.sr("-n 2 --tv-weight 1e300"), text) == 1);  // Inf as a float
  CHECK(has(text, "train_sr: error: SrTrainer: iteration 1: the tv loss is inf (pixel "));
  CHECK_FALSE(fs::exists(f.out()));

  // 1e36 fits in float, but the TV gradient, 2 * 1e36 * a difference, does not; the loss, a double, does.
  REQUIRE(f.run("train_sr", f.sr("-n 2 --tv-weight 1e36"), text) == 1);
  CHECK(has(text,
            "train_sr: error: SrTrainer: iteration 1: the gradient of conv1.weight holds nan at index 0 (of "
            "15552; 15552 values are not finite), though the loss is finite (pixel "));

  REQUIRE(f.run("train_sr", f.sr("-n 4 --checkpoint-every 1 --lr 1e30"), text) == 1);
  INFO(text);
  CHECK(has(text, "train_sr: error: SrTrainer: iteration 2: the gradient of conv1.weight holds nan"));
  CHECK(has(text, "train_sr: the last checkpoint, " + f.ckpt().string() + " (iteration 1), is kept"));
  CHECK(all_finite(f.ckpt()));
  CHECK_FALSE(fs::exists(f.out()));

  // The kept checkpoint with a running mean turned NaN (as a bad disk might): refused on resume.
  io::SafetensorsFile ckpt(f.ckpt());
  std::map<std::string, io::HostTensor<float>> tensors;
  for (const auto& name : ckpt.names()) tensors[name] = {ckpt.shape(name), ckpt.read<float>(name)};
  tensors.at("conv1.norm.running_mean").values.at(3) = std::numeric_limits<float>::quiet_NaN();
  io::save_safetensors(f.dir / "bad.ckpt.safetensors", tensors, ckpt.metadata());
  REQUIRE(f.run("train_sr", f.sr("-n 4") + resume(f.dir / "bad.ckpt.safetensors"), text) == 1);
  CHECK(has(text, "train_sr: error: load_parameters: tensor \"conv1.norm.running_mean\" in " +
                      (f.dir / "bad.ckpt.safetensors").string() +
                      " holds nan at index 3 (of 64; 1 value is not finite) (the checkpoint's network)"));
}

TEST_CASE("--time-limit ends both programs after the iteration that reaches it, as if it were the last") {
  if (!available()) return;
  Fixture f;
  std::string text;
  // A limit of a nanosecond is reached by the end of the first iteration, whatever the machine.
  REQUIRE(f.run("train_style",
                f.style("-n 50 --checkpoint-every 10 --time-limit 1e-9 --log " + (f.dir / "log.csv").string()),
                text) == 0);
  INFO(text);
  CHECK(has(text, "after 1 iterations ("));
  CHECK(has(text, ", stopped by --time-limit)"));
  CHECK(fs::exists(f.out()));
  CHECK(io::SafetensorsFile(f.ckpt()).metadata().at("iteration") == "1");
  std::string log_text = testing::read_text(f.dir / "log.csv");
  CHECK(std::count(log_text.begin(), log_text.end(), '\n') == 2);  // the header and iteration 1
  // The checkpoint continues the run; without the limit it reaches -n.
  REQUIRE(f.run("train_style", f.style("-n 3") + resume(f.ckpt()), text) == 0);
  CHECK(has(text, "after 3 iterations ("));
  CHECK_FALSE(has(text, "--time-limit"));
  REQUIRE(f.run("train_sr", f.sr("-n 50 --time-limit 1e-9"), text) == 0);
  CHECK(has(text, "train_sr: wrote " + f.out().string() + " after 1 iterations ("));
}
