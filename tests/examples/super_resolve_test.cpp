// Runs the built examples/super_resolve program on tiny untrained models and generated images.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/io/histogram.hpp"
#include "perceptual/io/image.hpp"
#include "perceptual/io/resample.hpp"
#include "perceptual/nets/super_resolver.hpp"
#include "support/program.hpp"
#include "support/random.hpp"
#include "support/sr_model.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;
using TensorF = Tensor<float, Cpu>;
namespace fs = std::filesystem;

namespace {

const testing::Program program("super_resolve");

// The largest difference between an 8-bit image file and the float image it was written from.
double max_difference(const fs::path& file, const TensorF& want) {
  const TensorF got = io::read_image<float>(file);
  REQUIRE(got.shape() == want.shape());
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    worst = std::max(
        worst, static_cast<double>(std::abs(got.data()[i] - std::round(std::clamp(want.data()[i], 0.0f, 255.0f)))));
  return worst;
}

}  // namespace

TEST_CASE("super_resolve --help names the histogram matching and exits 0") {
  program.check_help({"--histogram-match", "--model"});
}

TEST_CASE("super_resolve writes the network's output at the factor's size, histogram-matched when asked") {
  if (!program.available()) return;
  testing::TempDir dir;
  testing::write_sr_model<4>(dir / "x4.safetensors", 2);
  std::mt19937_64 rng(8);
  fs::create_directories(dir / "in");
  const TensorF a = testing::random_tensor<float>({1, 3, 6, 9}, rng, 0, 255);
  const TensorF b = testing::random_tensor<float>({1, 3, 7, 5}, rng, 0, 255);
  io::write_image(a, dir / "in" / "a.png");
  io::write_image(b, dir / "b.png");
  auto r = program.run("-m " + testing::quoted(dir / "x4.safetensors") + " " + testing::quoted(dir / "in") + " " +
                       testing::quoted(dir / "b.png") + " -o " + testing::quoted(dir / "out"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("x4 network (batch norm)") != std::string::npos);
  CHECK(r.output.find("(9x6) -> ") != std::string::npos);
  CHECK(r.output.find("(36x24) in ") != std::string::npos);
  CHECK(r.output.find("2 images, ") != std::string::npos);

  nets::SuperResolver net(dir / "x4.safetensors");
  const TensorF la = io::read_image<float>(dir / "in" / "a.png");
  const TensorF sa = net.upscale(la);
  CHECK(max_difference(dir / "out" / "a_x4.png", sa) <= 1);
  CHECK(max_difference(dir / "out" / "b_x4.png", net.upscale(io::read_image<float>(dir / "b.png"))) <= 1);

  r = program.run("-m " + testing::quoted(dir / "x4.safetensors") + " " + testing::quoted(dir / "in") +
                  " --histogram-match --suffix _hm -o " + testing::quoted(dir / "out"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  TensorF reference = io::resize_bicubic(la, 24, 36);
  box_project(reference, 0.0f, 255.0f);
  const TensorF matched = io::match_histograms(sa, reference);
  CHECK(max_difference(dir / "out" / "a_hm.png", matched) <= 1);
  CHECK(max_difference(dir / "out" / "a_hm.png", sa) > 10);  // the matching did change it
}

TEST_CASE("super_resolve: a style network, a corrupt or tiny image and a missing input are clear errors") {
  if (!program.available()) return;
  testing::TempDir dir;
  testing::write_sr_model<4>(dir / "x4.safetensors");
  std::mt19937_64 rng(8);
  io::write_image(testing::random_tensor<float>({1, 3, 8, 8}, rng, 0, 255), dir / "ok.png");
  const std::string model =
      "-m " + testing::quoted(dir / "x4.safetensors") + " -o " + testing::quoted(dir / "out") + " ";

  Model<nets::StyleTransformNet<>, Cpu, float> style;
  io::save_parameters(style, dir / "style.safetensors", {{"architecture", "johnson-style"}});
  auto r = program.run("-m " + testing::quoted(dir / "style.safetensors") + " " + testing::quoted(dir / "ok.png"));
  CHECK(r.status == 1);
  CHECK(r.output.find("super_resolve: error: ") != std::string::npos);
  CHECK(r.output.find("is not a super-resolution network (expected johnson-sr; style networks are for stylize)") !=
        std::string::npos);

  std::ofstream(dir / "corrupt.png") << "not a PNG";
  program.check_error(model + testing::quoted(dir / "corrupt.png") + " " + testing::quoted(dir / "ok.png"),
                      "super_resolve: error: read_image " + (dir / "corrupt.png").string() + ": cannot decode");
  CHECK(fs::exists(dir / "out" / "ok_x4.png"));  // the other image is still done

  io::write_image(testing::random_tensor<float>({1, 3, 4, 6}, rng, 0, 255), dir / "tiny.png");
  program.check_error(model + testing::quoted(dir / "tiny.png"), "H, W >= 5");

  program.check_error(model + testing::quoted(dir / "absent.png"), "absent.png: no such file or folder");
}

TEST_CASE("super_resolve --max-memory runs an image too large for it band by band, with the one pass's output") {
  if (!program.available()) return;
  testing::TempDir dir;
  testing::write_sr_model<4>(dir / "x4.safetensors", 3);
  std::mt19937_64 rng(10);
  // 300x200 gives 1200x800: its one pass needs several hundred MiB, its smallest band a few.
  io::write_image(testing::random_tensor<float>({1, 3, 200, 300}, rng, 0, 255), dir / "lr.png");
  const std::string args = "-m " + testing::quoted(dir / "x4.safetensors") + " " + testing::quoted(dir / "lr.png");
  const auto bands = program.run(args + " -o " + testing::quoted(dir / "bands") + " --max-memory 256M");
  INFO(bands.output);
  REQUIRE(bands.status == 0);
  CHECK(bands.output.find("band by band in") != std::string::npos);
  nets::SuperResolver net(dir / "x4.safetensors");
  CHECK(max_difference(dir / "bands" / "lr_x4.png", net.upscale(io::read_image<float>(dir / "lr.png"))) <= 1);

  // The histogram matching needs the whole image: refused for one run band by band, and said why.
  const auto matched =
      program.run(args + " -o " + testing::quoted(dir / "hm") + " --max-memory 256M --histogram-match");
  INFO(matched.output);
  CHECK(matched.status == 1);
  CHECK(matched.output.find("--histogram-match matches whole-image histograms") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "hm" / "lr_x4.png"));
}
