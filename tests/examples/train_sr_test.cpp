// Runs the built examples/train_sr program on tiny generated images: the model file it writes,
// and a resumed run that must end where an uninterrupted one does.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "perceptual/io/image.hpp"
#include "perceptual/io/safetensors.hpp"
#include "support/program.hpp"
#include "support/random.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_vgg.hpp"

using namespace perceptual;
namespace fs = std::filesystem;

namespace {

const testing::Program program("train_sr");

void write_images(const fs::path& folder) {
  fs::create_directories(folder);
  std::mt19937_64 rng(3);
  for (int i = 0; i < 3; ++i)
    io::write_image(testing::random_tensor<float>({1, 3, 30 + i, 34}, rng, 0, 255),
                    folder / ("img" + std::to_string(i) + ".png"));
}

// Every tensor of a file, by name.
std::map<std::string, std::vector<float>> tensors(const fs::path& path) {
  const io::SafetensorsFile file(path);
  std::map<std::string, std::vector<float>> out;
  for (const auto& name : file.names()) out[name] = file.read<float>(name);
  return out;
}

}  // namespace

TEST_CASE("train_sr writes a model with its settings, and a resumed run ends where an uninterrupted one does") {
  if (!program.available()) return;
  testing::TempDir dir;
  write_images(dir / "data");
  const std::string common = "--data " + testing::quoted(dir / "data") +
                             " --factor 4 --loss pixel --crop-size 24 --batch-size 2 --seed 5 --threads 2 ";
  auto r = program.run(common + "-n 3 -o " + testing::quoted(dir / "whole.safetensors") + " --log " +
                       testing::quoted(dir / "whole.csv"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("train_sr: initial loss") != std::string::npos);
  CHECK(r.output.find("ETA") != std::string::npos);
  const io::SafetensorsFile model(dir / "whole.safetensors");
  const auto& meta = model.metadata();
  CHECK(meta.at("architecture") == "johnson-sr");
  CHECK(meta.at("factor") == "4");
  CHECK(meta.at("norm") == "batch");
  CHECK(meta.at("loss") == "pixel");
  CHECK(meta.at("crop_size") == "24");
  CHECK(meta.at("batch_size") == "2");
  CHECK(meta.at("iterations") == "3");
  CHECK(meta.at("value_range") == "0,255");
  CHECK_FALSE(model.has("adam.conv1.weight.exp_avg"));

  r = program.run(common + "-n 2 -o " + testing::quoted(dir / "part.safetensors") + " --checkpoint " +
                  testing::quoted(dir / "part.ckpt"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  r = program.run(common + "-n 3 -o " + testing::quoted(dir / "resumed.safetensors") + " --resume " +
                  testing::quoted(dir / "part.ckpt"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("resumed") != std::string::npos);
  CHECK(r.output.find("warning") == std::string::npos);
  const auto whole = tensors(dir / "whole.safetensors"), resumed = tensors(dir / "resumed.safetensors");
  REQUIRE(whole.size() == resumed.size());
  CHECK(whole == resumed);
  CHECK(whole != tensors(dir / "part.safetensors"));
}

TEST_CASE("train_sr with the feature loss reads the VGG weights, and impossible options are clear errors") {
  if (!program.available()) return;
  testing::TempDir dir;
  write_images(dir / "data");
  testing::write_tiny_vgg(dir / "vgg.safetensors");
  const std::string data = "--data " + testing::quoted(dir / "data") + " ";
  auto r = program.run(data + "--factor 8 --loss feature --weights " + testing::quoted(dir / "vgg.safetensors") +
                       " --crop-size 40 --batch-size 1 -n 1 -o " + testing::quoted(dir / "x8.safetensors"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  const io::SafetensorsFile model(dir / "x8.safetensors");
  CHECK(model.metadata().at("factor") == "8");
  CHECK(model.metadata().at("loss") == "feature");
  CHECK(model.metadata().at("feature_layer") == "relu2_2");
  CHECK(model.metadata().at("vgg_weights") == "vgg.safetensors");
  CHECK(model.has("deconv3.weight"));

  program.check_error(data + "--factor 8 --crop-size 44", "--crop-size 44 is not a multiple of --factor 8");
  r = program.run(data + "--factor 8 --crop-size 32 --loss pixel");
  CHECK(r.status == 1);
  CHECK(r.output.find("gives 4x4 LR inputs at --factor 8; the network needs at least 5x5") != std::string::npos);
  program.check_error(data + "--loss feature", "--loss feature needs --weights");
  program.check_error(data + "--loss pixel --crop-size 24 -n 1 --resume " + testing::quoted(dir / "x8.safetensors"),
                      "is not a training checkpoint");
}
