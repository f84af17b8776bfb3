// Runs scripts/convert_vgg.py (with python3, torch and torchvision; skipped without them) and
// reads what it writes with our SafetensorsFile.
#include <doctest/doctest.h>

#include "support/program.hpp"
#include "support/temp_dir.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/tensor.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/io/safetensors.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/wait.h>
#endif

using namespace perceptual;
using namespace perceptual::io;
namespace fs = std::filesystem;

namespace {

using testing::TempDir;

// The command's exit code (its output goes to `log`).
int run(const std::string& command, const fs::path& log) {
  const int status = std::system((command + " >" + testing::quoted(log.string()) + " 2>&1").c_str());
#if defined(__unix__) || defined(__APPLE__)
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
#else
  return status;
#endif
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path script_path() {
  const char* source = std::getenv("PERCEPTUAL_SOURCE_DIR");
  return source ? fs::path(source) / "scripts" / "convert_vgg.py" : fs::path();
}

// A Python that can import `modules`: $PERCEPTUAL_PYTHON, python3 on the PATH, /usr/bin/python3.
std::optional<std::string> find_python(const std::string& modules, const TempDir& dir) {
  std::vector<std::string> candidates;
  if (const char* p = std::getenv("PERCEPTUAL_PYTHON")) candidates.emplace_back(p);
  candidates.emplace_back("python3");
  candidates.emplace_back("/usr/bin/python3");
  for (const auto& python : candidates)
    if (run(testing::quoted(python) + " -c " + testing::quoted("import " + modules), dir / "probe.log") == 0)
      return python;
  return std::nullopt;
}

}  // namespace

TEST_CASE("convert_vgg.py --help describes its options") {
  TempDir dir;
  const fs::path script = script_path();
  if (script.empty()) {
    MESSAGE("skipped: PERCEPTUAL_SOURCE_DIR is not set (ctest sets it)");
    return;
  }
  const auto python = find_python("json", dir);
  if (!python) {
    MESSAGE("skipped: no python3 found");
    return;
  }
  REQUIRE(run(testing::quoted(*python) + " " + testing::quoted(script.string()) + " --help", dir / "help.log") == 0);
  const std::string help = read_text(dir / "help.log");
  for (const char* option : {"--arch", "--weights", "--pretrained", "--random-init", "--seed", "--output"})
    CHECK(help.find(option) != std::string::npos);
  // Bad arguments fail with a non-zero status rather than writing anything.
  CHECK(run(testing::quoted(*python) + " " + testing::quoted(script.string()) +
                " --arch vgg13 --random-init --output " + testing::quoted((dir / "x.safetensors").string()),
            dir / "bad.log") != 0);
  CHECK_FALSE(fs::exists(dir / "x.safetensors"));
}

TEST_CASE("a random VGG-16 converts to conv1_1..conv5_3 with torchvision's normalisation") {
  TempDir dir;
  const fs::path script = script_path();
  const auto python = script.empty() ? std::nullopt : find_python("torch, torchvision, numpy", dir);
  if (!python) {
    MESSAGE(
        "skipped: needs PERCEPTUAL_SOURCE_DIR and a python3 that imports torch, torchvision and numpy "
        "(set PERCEPTUAL_PYTHON to choose one)");
    return;
  }
  const fs::path out = dir / "vgg16.safetensors", summary = dir / "summary.json";
  const std::string command = testing::quoted(*python) + " " + testing::quoted(script.string()) +
                              " --arch vgg16 --random-init --seed 5 --output " + testing::quoted(out.string()) +
                              " --summary " + testing::quoted(summary.string());
  INFO(command);
  const int rc = run(command, dir / "convert.log");
  INFO(read_text(dir / "convert.log"));
  REQUIRE(rc == 0);

  const SafetensorsFile file(out);
  const std::vector<std::string> convs{"conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
                                       "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3"};
  REQUIRE(file.names().size() == 2 * convs.size());
  for (std::size_t i = 0; i < convs.size(); ++i) {
    CHECK(file.names()[2 * i] == convs[i] + ".weight");
    CHECK(file.dtype(convs[i] + ".weight") == Dtype::f32);
  }
  CHECK(file.shape("conv1_1.weight") == std::vector<std::int64_t>{64, 3, 3, 3});
  CHECK(file.shape("conv3_1.weight") == std::vector<std::int64_t>{256, 128, 3, 3});
  CHECK(file.shape("conv5_3.weight") == std::vector<std::int64_t>{512, 512, 3, 3});
  CHECK(file.shape("conv5_3.bias") == std::vector<std::int64_t>{512});
  CHECK(file.metadata().at("input_mean") == "123.675,116.28,103.53");
  CHECK(file.metadata().at("input_std") == "58.395,57.12,57.375");
  CHECK(file.metadata().at("architecture") == "vgg16");

  // The values match what the script saw: first values exactly, sums to rounding.
  const auto expected = nlohmann::json::parse(read_text(summary));
  REQUIRE(expected.size() == file.names().size());
  for (const auto& name : file.names()) {
    INFO(name);
    const auto values = file.read<float>(name);
    const auto& e = expected.at(name);
    CHECK(e.at("shape").get<std::vector<std::int64_t>>() == file.shape(name));
    for (std::size_t i = 0; i < 4; ++i) CHECK(values[i] == e.at("first")[i].get<double>());
    double sum = 0;
    for (float v : values) sum += v;
    CHECK(sum == doctest::Approx(e.at("sum").get<double>()).epsilon(1e-6));
  }

  // And they load into parameters shaped as our layers shape them.
  Tensor<float, Cpu> weight({512, 512, 3, 3}), bias({1, 512, 1, 1});
  load_parameters(Parameters<float, Cpu>{{"conv5_3.weight", &weight, nullptr}, {"conv5_3.bias", &bias, nullptr}}, file);
  CHECK(bias.to_host() == file.read<float>("conv5_3.bias"));
}

TEST_CASE("a saved torchvision VGG-19 state dict converts by torchvision's feature indices") {
  TempDir dir;
  const fs::path script = script_path();
  const auto python = script.empty() ? std::nullopt : find_python("torch, torchvision, numpy", dir);
  if (!python) {
    MESSAGE("skipped: needs PERCEPTUAL_SOURCE_DIR and a python3 that imports torch, torchvision and numpy");
    return;
  }
  // A DataParallel-style checkpoint ("module." prefix, a classifier to ignore); the reference values
  // are taken by torchvision's indices: features.10 is conv3_1, features.16 conv3_4 in VGG-19.
  const fs::path pth = dir / "vgg19.pth", reference = dir / "reference.json", maker = dir / "make.py";
  std::ofstream(maker) << "import json, sys, torch\n"
                          "from torchvision.models import vgg\n"
                          "torch.manual_seed(3)\n"
                          "features = vgg.make_layers(vgg.cfgs['E'])\n"
                          "state = {'module.features.' + k: v for k, v in features.state_dict().items()}\n"
                          "state['module.classifier.0.weight'] = torch.zeros(2, 2)\n"
                          "torch.save(state, sys.argv[1])\n"
                          "json.dump({'conv3_1.bias': state['module.features.10.bias'][:4].tolist(),\n"
                          "           'conv3_4.weight': state['module.features.16.weight'].flatten()[:4].tolist()},\n"
                          "          open(sys.argv[2], 'w'))\n";
  REQUIRE(run(testing::quoted(*python) + " " + testing::quoted(maker.string()) + " " + testing::quoted(pth.string()) +
                  " " + testing::quoted(reference.string()),
              dir / "make.log") == 0);
  const fs::path out = dir / "vgg19.safetensors";
  const int rc = run(testing::quoted(*python) + " " + testing::quoted(script.string()) +
                         " --arch vgg19 --last conv3_4 --weights " + testing::quoted(pth.string()) + " --output " +
                         testing::quoted(out.string()),
                     dir / "convert.log");
  INFO(read_text(dir / "convert.log"));
  REQUIRE(rc == 0);

  const SafetensorsFile file(out);
  CHECK(file.names().size() == 16);
  CHECK(file.names().back() == "conv3_4.bias");
  CHECK(file.metadata().at("arch") == "vgg19");
  const auto expected = nlohmann::json::parse(read_text(reference));
  for (const char* name : {"conv3_1.bias", "conv3_4.weight"}) {
    const auto values = file.read<float>(name);
    for (std::size_t i = 0; i < 4; ++i) CHECK(values[i] == static_cast<float>(expected.at(name)[i].get<double>()));
  }

  // Same names and shapes as the shared VGG-19 file, when it is here.
  if (const char* data = std::getenv("PERCEPTUAL_DATA")) {
    const fs::path shared = fs::path(data) / "weights" / "vgg19_conv1_1-conv3_4.safetensors";
    if (fs::exists(shared)) {
      const SafetensorsFile other(shared);
      CHECK(other.names() == file.names());
      for (const auto& name : file.names()) CHECK(other.shape(name) == file.shape(name));
    }
  }

  // A state dict of the other network is refused, naming the mismatch.
  CHECK(run(testing::quoted(*python) + " " + testing::quoted(script.string()) + " --arch vgg16 --weights " +
                testing::quoted(pth.string()) + " --output " + testing::quoted((dir / "wrong.safetensors").string()),
            dir / "wrong.log") == 1);
  CHECK(read_text(dir / "wrong.log").find("vgg16") != std::string::npos);
}
