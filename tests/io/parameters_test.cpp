#include "perceptual/io/parameters.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/layers/activation.hpp"
#include "perceptual/layers/compose.hpp"
#include "support/file_size_limit.hpp"
#include "support/random.hpp"
#include "support/shared_data.hpp"
#include "support/spawn.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;
using namespace perceptual::io;
namespace fs = std::filesystem;

namespace {

using testing::TempDir;

// Stands in for a model: anything with parameters(). A conv's weight and bias (learnable) and a
// norm's running mean (saved state, no gradient), shaped as our layers shape them.
template <class T>
struct TinyNet {
  Tensor<T, Cpu> weight{{4, 3, 3, 3}}, bias{{1, 4, 1, 1}}, mean{{1, 4, 1, 1}};
  Tensor<T, Cpu> weight_grad{{4, 3, 3, 3}}, bias_grad{{1, 4, 1, 1}};
  Parameters<T, Cpu> parameters() {
    return {{"conv.weight", &weight, &weight_grad}, {"conv.bias", &bias, &bias_grad}, {"norm.mean", &mean, nullptr}};
  }
};

template <class T>
TinyNet<T> random_net(std::mt19937_64& rng) {
  TinyNet<T> net;
  testing::randomize(net.weight, rng);
  testing::randomize(net.bias, rng);
  testing::randomize(net.mean, rng);
  return net;
}

}  // namespace

TEST_CASE("parameters saved to a file load back exactly, state tensors included") {
  TempDir dir;
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  auto saved = random_net<float>(rng);
  save_parameters(saved, dir / "net.safetensors", {{"architecture", "tiny"}});

  const SafetensorsFile file(dir / "net.safetensors");
  CHECK(file.names() == std::vector<std::string>{"conv.weight", "conv.bias", "norm.mean"});
  CHECK(file.shape("conv.bias") == std::vector<std::int64_t>{1, 4, 1, 1});
  CHECK(file.metadata().at("architecture") == "tiny");

  TinyNet<float> loaded;
  const auto report = load_parameters(loaded, dir / "net.safetensors");
  CHECK(report.loaded == std::vector<std::string>{"conv.weight", "conv.bias", "norm.mean"});
  CHECK(report.missing.empty());
  CHECK(report.unused.empty());
  CHECK(loaded.weight.to_host() == saved.weight.to_host());
  CHECK(loaded.bias.to_host() == saved.bias.to_host());
  CHECK(loaded.mean.to_host() == saved.mean.to_host());

  // Into double parameters, through a Parameters vector rather than a model.
  TinyNet<double> wide;
  load_parameters(wide.parameters(), file);
  const auto narrow = saved.weight.to_host();
  const auto widened = wide.weight.to_host();
  for (std::size_t i = 0; i < narrow.size(); ++i) CHECK(widened[i] == static_cast<double>(narrow[i]));
}

TEST_CASE("save_parameters on a full disk is a FileError naming the file and the reason; the old file still loads") {
  TempDir dir;
  std::mt19937_64 rng(5);
  auto first = random_net<float>(rng), second = random_net<float>(rng);
  const fs::path path = dir / "net.safetensors";
  save_parameters(first, path);
  const std::string before = testing::read_text(path);
  std::string message;
  {
    const testing::FileSizeLimit full(256);  // the file is some 700 bytes
    try {
      save_parameters(second, path);
    } catch (const FileError& e) {
      message = e.what();
    }
  }
  CHECK(message == "cannot write " + path.string() + ": write net.safetensors.partial: File too large");
  CHECK(testing::read_text(path) == before);
  CHECK_FALSE(fs::exists(dir / "net.safetensors.partial"));
  TinyNet<float> loaded;
  load_parameters(loaded, path);
  CHECK(loaded.weight.to_host() == first.weight.to_host());
}

TEST_CASE("a weights file holding NaN or Inf is a FileError naming the file, the tensor and the first bad index") {
  TempDir dir;
  std::vector<float> w(4 * 3 * 3 * 3, 0.5f), b(4, 1.0f);
  const std::vector<float> mean(4, 0.0f);
  w[17] = std::numeric_limits<float>::quiet_NaN();
  w[40] = -std::numeric_limits<float>::infinity();
  b[2] = std::numeric_limits<float>::infinity();
  const fs::path path = dir / "nan.safetensors";
  SafetensorsWriter()
      .add<float>("conv.weight", {4, 3, 3, 3}, w)
      .add<float>("conv.bias", {4}, b)
      .add<float>("norm.mean", {4}, mean)
      .write(path);
  TinyNet<float> net;
  CHECK_THROWS_WITH_AS(load_parameters(net, path, {.context = "a style network"}),
                       ("load_parameters: tensor \"conv.weight\" in " + path.string() +
                        " holds nan at index 17 (of 108; 2 values are not finite) (a style network)")
                           .c_str(),
                       FileError);
  // Nothing loads, not even the tensors before the bad one.
  CHECK(net.weight.to_host() == std::vector<float>(w.size(), 0.0f));

  w[17] = w[40] = 0.5f;
  SafetensorsWriter()
      .add<float>("conv.weight", {4, 3, 3, 3}, w)
      .add<float>("conv.bias", {4}, b)
      .add<float>("norm.mean", {4}, mean)
      .write(path);
  CHECK_THROWS_WITH_AS(load_parameters(net, path),
                       ("load_parameters: tensor \"conv.bias\" in " + path.string() +
                        " holds inf at index 2 (of 4; 1 value is not finite)")
                           .c_str(),
                       FileError);
  CHECK(net.weight.to_host() == std::vector<float>(w.size(), 0.0f));  // loaded before the bias: untouched

  // A finite F64 value beyond float's range is Inf once read.
  b[2] = 1.0f;
  SafetensorsWriter()
      .add<float>("conv.weight", {4, 3, 3, 3}, w)
      .add<double>("conv.bias", {4}, std::vector<double>{1, 2, 1e300, 4}, Dtype::f64)
      .add<float>("norm.mean", {4}, mean)
      .write(path);
  CHECK_THROWS_WITH_AS(load_parameters(net, path), doctest::Contains("\"conv.bias\""), FileError);
  TinyNet<double> wide;
  load_parameters(wide, path);  // fits in double
  CHECK(wide.bias.to_host()[2] == 1e300);
}

TEST_CASE("parameters saved as F16 load back within half precision") {
  TempDir dir;
  std::mt19937_64 rng(7);
  auto saved = random_net<float>(rng);
  save_parameters(saved, dir / "half.safetensors", {}, Dtype::f16);
  CHECK(SafetensorsFile(dir / "half.safetensors").dtype("conv.weight") == Dtype::f16);
  TinyNet<float> loaded;
  load_parameters(loaded, dir / "half.safetensors");
  const auto a = saved.weight.to_host(), b = loaded.weight.to_host();
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(b[i] == doctest::Approx(a[i]).epsilon(0x1p-11));
}

TEST_CASE("a 1-D bias in the file fills a 1xCx1x1 or Cx1x1x1 parameter, a wrong count never") {
  TempDir dir;
  const std::vector<float> bias{1, 2, 3, 4};
  SafetensorsWriter().add<float>("b", {4}, bias).add<float>("m", {1, 4}, bias).write(dir / "b.safetensors");
  Tensor<float, Cpu> ours({1, 4, 1, 1}), leading({4, 1, 1, 1}), five({1, 5, 1, 1}), square({1, 1, 2, 2});
  load_parameters(Parameters<float, Cpu>{{"b", &ours, nullptr}, {"m", &leading, nullptr}}, dir / "b.safetensors");
  CHECK(ours.to_host() == bias);
  CHECK(leading.to_host() == bias);
  CHECK_THROWS_AS(load_parameters(Parameters<float, Cpu>{{"b", &five, nullptr}}, dir / "b.safetensors"), ShapeError);
  // Same element count, different layout: not lenient.
  CHECK_THROWS_AS(load_parameters(Parameters<float, Cpu>{{"b", &square, nullptr}}, dir / "b.safetensors"), ShapeError);
  CHECK(shapes_compatible({64, 3, 3, 3}, {64, 3, 3, 3}));
  CHECK(shapes_compatible({1, 64}, {1, 64, 1, 1}));
  CHECK_FALSE(shapes_compatible({64, 3, 3, 3}, {64, 3, 1, 9}));
  CHECK_FALSE(shapes_compatible({3, 64}, {1, 64, 3, 1}));
}

TEST_CASE("a wrong shape names the tensor, the file and both shapes, and loads nothing") {
  TempDir dir;
  std::mt19937_64 rng(1);
  auto saved = random_net<float>(rng);
  save_parameters(saved, dir / "net.safetensors");
  TinyNet<float> other;
  other.weight = Tensor<float, Cpu>({4, 3, 5, 5});
  const auto path = (dir / "net.safetensors").string();
  try {
    load_parameters(other, dir / "net.safetensors");
    FAIL("no error");
  } catch (const ShapeError& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find("\"conv.weight\"") != std::string::npos);
    CHECK(message.find(path) != std::string::npos);
    CHECK(message.find("4x3x3x3") != std::string::npos);
    CHECK(message.find("4x3x5x5") != std::string::npos);
  }
  // Every check precedes every copy: the bias, listed after the bad weight, is untouched.
  CHECK(other.bias.to_host() == std::vector<float>(4, 0.0f));
}

TEST_CASE("a missing tensor names the tensor, the file and the caller's context") {
  TempDir dir;
  const std::vector<float> w(4 * 3 * 3 * 3, 0.5f);
  SafetensorsWriter().add<float>("conv.weight", {4, 3, 3, 3}, w).write(dir / "partial.safetensors");
  TinyNet<float> net;
  const LoadOptions options{.context = "needed for tap relu3_3"};
  try {
    load_parameters(net, dir / "partial.safetensors", options);
    FAIL("no error");
  } catch (const FileError& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find("\"conv.bias\" not found") != std::string::npos);
    CHECK(message.find((dir / "partial.safetensors").string()) != std::string::npos);
    CHECK(message.find("needed for tap relu3_3") != std::string::npos);
    CHECK(message.find("1 more missing: \"norm.mean\"") != std::string::npos);
  }
  CHECK(net.weight.to_host() == std::vector<float>(w.size(), 0.0f));

  const auto report = load_parameters(net, dir / "partial.safetensors", {.allow_missing = true});
  CHECK(report.loaded == std::vector<std::string>{"conv.weight"});
  CHECK(report.missing == std::vector<std::string>{"conv.bias", "norm.mean"});
  CHECK(net.weight.to_host() == w);
}

TEST_CASE("a prefix maps parameter names to file names, and unused tensors are reported") {
  TempDir dir;
  const std::vector<float> w(4 * 3 * 3 * 3, 2.0f), b(4, 3.0f), extra{9};
  SafetensorsWriter()
      .add<float>("features.conv.weight", {4, 3, 3, 3}, w)
      .add<float>("features.conv.bias", {4}, b)
      .add<float>("features.norm.mean", {4}, b)
      .add<float>("classifier.weight", {1}, extra)
      .write(dir / "prefixed.safetensors");
  TinyNet<float> net;
  const auto report = load_parameters(net, dir / "prefixed.safetensors", {.prefix = "features."});
  CHECK(report.loaded.size() == 3);
  CHECK(report.unused == std::vector<std::string>{"classifier.weight"});
  CHECK(net.bias.to_host() == b);
}

TEST_CASE("a Model without parameters loads from any file and saves an empty one") {
  TempDir dir;
  Model<layers::Sequential<layers::ReLU>, Cpu> model;
  save_parameters(model, dir / "empty.safetensors");
  const auto report = load_safetensors(model, dir / "empty.safetensors");
  CHECK(report.loaded.empty());
  CHECK(SafetensorsFile(dir / "empty.safetensors").names().empty());
  CHECK_THROWS_AS(load_parameters(model, dir / "absent.safetensors"), FileError);
}

TEST_CASE("the shared VGG-19 weights load into parameters shaped as our layers shape them") {
  const fs::path path =
      testing::shared_data("weights/vgg19_conv1_1-conv3_4.safetensors", "to load the real VGG-19 weights");
  if (path.empty()) return;
  Tensor<float, Cpu> w({64, 3, 3, 3}), b({1, 64, 1, 1}), w4({256, 256, 3, 3});
  const auto report = load_parameters(
      Parameters<float, Cpu>{
          {"conv1_1.weight", &w, nullptr}, {"conv1_1.bias", &b, nullptr}, {"conv3_4.weight", &w4, nullptr}},
      path);
  CHECK(report.loaded.size() == 3);
  CHECK(report.unused.size() == 13);
  CHECK(w.to_host() == SafetensorsFile(path).read<float>("conv1_1.weight"));
  Tensor<float, Cpu> missing({512, 256, 3, 3});
  CHECK_THROWS_WITH_AS(load_parameters(Parameters<float, Cpu>{{"conv4_1.weight", &missing, nullptr}}, path,
                                       {.context = "needed for tap relu4_1"}),
                       doctest::Contains("relu4_1"), FileError);
}
