#include "perceptual/nets/engstrom.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/io/image.hpp"
#include "perceptual/io/resample.hpp"
#include "support/engstrom_reference.hpp"
#include "support/random.hpp"
#include "support/shared_data.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;
using namespace perceptual::nets;
namespace fs = std::filesystem;

using testing::TempDir;
using namespace testing::engstrom;

TEST_CASE("EngstromNet's parameters map one to one onto the checkpoint's tensor names and shapes") {
  Model<EngstromNet, Cpu, float> net;
  const auto expected = engstrom_tensors();
  std::set<std::string> seen;
  for (auto& p : net.parameters()) {
    const std::string file_name = engstrom_tensor_name(p.name);
    INFO(p.name << " -> " << file_name);
    REQUIRE(expected.contains(file_name));
    CHECK(io::shapes_compatible(expected.at(file_name), p.value->shape()));
    CHECK(seen.insert(file_name).second);
  }
  CHECK(seen.size() == expected.size());
  CHECK(engstrom_tensor_name("res2.conv1.norm.weight") == "res2.conv1.norm.scale");
  CHECK(engstrom_tensor_name("conv_out.norm.bias") == "conv_out.norm.shift");
  CHECK(engstrom_tensor_name("deconv1.weight") == "deconv1.weight");
}

TEST_CASE("The engstrom preset reproduces a reference forward pass of a hand-made checkpoint") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  TempDir dir;
  const Weights w = random_weights(rng);
  write_file(w, dir / "net.safetensors");

  Model<EngstromNet, Cpu, double> net;
  const auto report = load_engstrom(net, dir / "net.safetensors");
  CHECK(report.loaded.size() == 48);

  for (Size2 s : {Size2{8, 12}, Size2{7, 10}}) {  // even, and odd (SAME's padding after)
    INFO("input " << to_string(s));
    const auto x = testing::random_tensor<double>({2, 3, s.h, s.w}, rng, 0, 255);
    const auto y = net.eval().forward(x);
    const Size2 out{4 * ((s.h + 3) / 4), 4 * ((s.w + 3) / 4)};
    REQUIRE(y.shape() == Shape4{2, 3, out.h, out.w});
    const auto xv = x.to_host();
    const auto yv = y.to_host();
    for (int n = 0; n < 2; ++n) {
      Image in(3, s.h, s.w);
      std::copy_n(xv.begin() + n * static_cast<std::ptrdiff_t>(in.v.size()), in.v.size(), in.v.begin());
      const Image ref = reference_forward(w, in);
      REQUIRE(ref.h == out.h);
      REQUIRE(ref.w == out.w);
      double worst = 0;
      for (std::size_t i = 0; i < ref.v.size(); ++i)
        worst = std::max(worst, std::abs(ref.v[i] - yv[n * ref.v.size() + i]));
      INFO("sample " << n << ": largest difference " << worst);
      CHECK(worst < 1e-7);
      const auto [lo, hi] = std::minmax_element(ref.v.begin(), ref.v.end());
      CHECK(*hi - *lo > 10);  // a real test: the output is not saturated to one value
    }
  }
}

TEST_CASE("load_engstrom names the tensor and the file when the checkpoint does not fit") {
  std::mt19937_64 rng(11);
  TempDir dir;
  const Weights w = random_weights(rng);
  Model<EngstromNet, Cpu, float> net;

  SUBCASE("a missing tensor") {
    const auto path = dir / "missing.safetensors";
    write_file(w, path, {"res3.conv2.norm.shift"});
    try {
      load_engstrom(net, path);
      FAIL("no error");
    } catch (const FileError& e) {
      const std::string m = e.what();
      INFO(m);
      CHECK(m.find("\"res3.conv2.norm.shift\"") != std::string::npos);
      CHECK(m.find(path.string()) != std::string::npos);
    }
  }
  SUBCASE("a tensor of the wrong shape") {
    const auto path = dir / "shape.safetensors";
    write_file(w, path, {}, {{"deconv1.weight", {64, 128, 3, 3}}});
    try {
      load_engstrom(net, path);
      FAIL("no error");
    } catch (const ShapeError& e) {
      const std::string m = e.what();
      INFO(m);
      CHECK(m.find("\"deconv1.weight\"") != std::string::npos);
      CHECK(m.find(path.string()) != std::string::npos);
      CHECK(m.find("64x128x3x3") != std::string::npos);
    }
  }
  SUBCASE("a tensor the network has no place for") {
    const auto path = dir / "extra.safetensors";
    io::SafetensorsWriter writer;
    const auto shapes = engstrom_tensors();
    for (const auto& [name, values] : w) writer.add(name, shapes.at(name), std::span<const double>(values));
    const std::vector<double> extra(4, 0.0);
    writer.add("res6.conv1.weight", {4}, std::span<const double>(extra));
    writer.write(path);
    CHECK_THROWS_WITH_AS(load_engstrom(net, path), doctest::Contains("res6.conv1.weight"), FileError);
  }
  SUBCASE("no file") {
    CHECK_THROWS_WITH_AS(load_engstrom(net, dir / "absent.safetensors"), doctest::Contains("absent.safetensors"),
                         FileError);
  }
}

TEST_CASE("save_engstrom writes what load_engstrom reads") {
  TempDir dir;
  Model<EngstromNet, Cpu, float> a, b;
  a.initialize(21);
  save_engstrom(a, dir / "a.safetensors");
  const io::SafetensorsFile file(dir / "a.safetensors");
  CHECK(file.has("conv_out.norm.scale"));
  CHECK(file.metadata().at("arch") == "engstrom-tf");
  load_engstrom(b, file);
  auto pa = a.parameters(), pb = b.parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) CHECK(pa[i].value->to_host() == pb[i].value->to_host());
}

TEST_CASE("The pretrained udnie network stylises an image into [0, 255]") {
  const fs::path root = testing::shared_data("", "to run the pretrained engstrom networks");
  if (root.empty()) return;
  Model<EngstromNet, Cpu, float> net;
  load_engstrom(net, root / "models/engstrom/udnie.safetensors");
  const auto image = io::resize_bicubic(io::read_image<float>(root / "images/content/chicago.jpg"), 64, 96);
  const auto y = net.eval().forward(image);
  REQUIRE(y.shape() == Shape4{1, 3, 64, 96});
  const auto v = y.to_host();
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  CHECK(*lo >= 0.0f);
  CHECK(*hi <= 255.0f);
  double mean = 0, var = 0;
  for (float e : v) mean += e / static_cast<double>(v.size());
  for (float e : v) var += (e - mean) * (e - mean) / static_cast<double>(v.size());
  INFO("mean " << mean << ", std " << std::sqrt(var));
  CHECK(std::sqrt(var) > 10);
  // Stylised, not copied: far from the input.
  const auto x = image.to_host();
  double diff = 0;
  for (std::size_t i = 0; i < v.size(); ++i) diff += std::abs(v[i] - x[i]) / static_cast<double>(v.size());
  CHECK(diff > 5);
}
