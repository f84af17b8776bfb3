// Runs the built examples/eval_sr program: found next to the tests in the build tree
// ($PERCEPTUAL_EXAMPLES_DIR/eval_sr, set by ctest); skipped when absent.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "perceptual/io/image.hpp"
#include "perceptual/io/metrics.hpp"
#include "perceptual/io/resample.hpp"
#include "perceptual/nets/super_resolver.hpp"
#include "support/csv.hpp"
#include "support/program.hpp"
#include "support/shared_data.hpp"
#include "support/sr_model.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;
using namespace perceptual::io;
namespace fs = std::filesystem;

namespace {

using TensorF = Tensor<float, Cpu>;

const testing::Program program("eval_sr");

// A smooth 8-bit RGB test image, so that bicubic upscaling is neither perfect nor hopeless.
TensorF test_image(int h, int w) {
  TensorF x({1, 3, h, w});
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < w; ++j)
        x.data()[(static_cast<std::size_t>(c) * h + i) * w + j] =
            std::round(128 + 90 * std::sin(i / (3.0 + c)) * std::cos(j / 4.0 + c));
  return x;
}

}  // namespace

TEST_CASE("eval_sr --help describes the protocol and exits 0") {
  program.check_help({"--degrade", "--save-dir"});
}

TEST_CASE("eval_sr reports a missing folder, a folder without pairs, a size mismatch and a missing model") {
  if (!program.available()) return;
  testing::TempDir dir;
  auto r = program.run("'" + (dir.path / "absent").string() + "'");
  CHECK(r.status == 1);
  CHECK(r.output.find("eval_sr: error: folder") != std::string::npos);
  CHECK(r.output.find("does not exist") != std::string::npos);

  program.check_error("'" + dir.path.string() + "'", "has no test images");

  write_image(test_image(40, 44), dir.path / "a_HR.png");
  write_image(test_image(10, 10), dir.path / "a_LR.png");  // 40x44 is not 4 x 10x10
  r = program.run("'" + dir.path.string() + "'");
  CHECK(r.status == 1);
  CHECK(r.output.find("40x44") != std::string::npos);
  CHECK(r.output.find("10x10") != std::string::npos);
  CHECK(r.output.find("must be exactly 4 x the LR") != std::string::npos);
  // --degrade makes the LR from the HR, so the given one no longer matters.
  CHECK(program.run("'" + dir.path.string() + "' --degrade").status == 0);

  program.check_error("'" + dir.path.string() + "' --method model --model absent.safetensors", "absent.safetensors",
                      testing::Program::any_failure);
  program.check_error("'" + dir.path.string() + "' --method model", "--method model needs --model FILE");
}

TEST_CASE("eval_sr's figures and saved images are bicubic upscaling measured by psnr_y and ssim_y") {
  if (!program.available()) return;
  testing::TempDir dir;
  const fs::path data = dir.path / "set", out = dir.path / "out", csv = dir.path / "figures.csv";
  fs::create_directories(data);
  const std::vector<std::pair<int, int>> sizes{{40, 44}, {48, 36}};
  std::vector<double> psnrs, ssims;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    const auto [h, w] = sizes[k];
    const std::string name = "img_00" + std::to_string(k + 1) + "_SRF_4";
    const TensorF hr = test_image(h, w);
    write_image(hr, data / (name + "_HR.png"));
    write_image(resize_bicubic(hr, h / 4, w / 4), data / (name + "_LR.png"));
    const TensorF sr = resize_bicubic(read_image<float>(data / (name + "_LR.png")), h, w);
    psnrs.push_back(psnr_y(sr, hr, 4));
    ssims.push_back(ssim_y(sr, hr, 4));
  }
  const auto r = program.run("'" + data.string() + "' --csv '" + csv.string() + "' --save-dir '" + out.string() + "'");
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("mean (2 images)") != std::string::npos);

  const auto rows = testing::read_csv(csv);
  REQUIRE(rows.size() == sizes.size() + 2);
  CHECK(rows[0] == std::vector<std::string>{"image", "hr_height", "hr_width", "lr", "psnr_y", "ssim_y"});
  for (std::size_t k = 0; k <= sizes.size(); ++k) {
    const auto& fields = rows[k + 1];
    REQUIRE(fields.size() == 6);
    if (k < sizes.size()) {
      CHECK(fields[0] == "img_00" + std::to_string(k + 1) + "_SRF_4");
      CHECK(fields[3] == "given");
      CHECK(std::stod(fields[4]) == doctest::Approx(psnrs[k]).epsilon(1e-6));
      CHECK(std::stod(fields[5]) == doctest::Approx(ssims[k]).epsilon(1e-6));
    } else {
      CHECK(fields[0] == "mean");
      CHECK(std::stod(fields[4]) == doctest::Approx((psnrs[0] + psnrs[1]) / 2).epsilon(1e-6));
      CHECK(std::stod(fields[5]) == doctest::Approx((ssims[0] + ssims[1]) / 2).epsilon(1e-6));
    }
  }
  const auto saved = read_image<float>(out / "img_001_SRF_4_bicubic_x4.png");
  CHECK(saved.shape() == Shape4{1, 3, 40, 44});
  CHECK(std::isinf(psnr_y(saved, resize_bicubic(read_image<float>(data / "img_001_SRF_4_LR.png"), 40, 44))));
}

TEST_CASE("eval_sr --method model measures a network's output on the given or made LR inputs") {
  if (!program.available()) return;
  testing::TempDir dir;
  const fs::path data = dir.path / "set", out = dir.path / "out", csv = dir.path / "figures.csv";
  fs::create_directories(data);
  testing::write_sr_model<4>(dir.path / "x4.safetensors", 3);
  testing::write_sr_model<8>(dir.path / "x8.safetensors", 4);
  const TensorF hr = test_image(40, 44);
  write_image(hr, data / "img_001_SRF_4_HR.png");
  write_image(resize_bicubic(hr, 10, 11), data / "img_001_SRF_4_LR.png");

  // x4 (the model's factor, no --factor given) on the given LR image.
  auto r =
      program.run(testing::quoted(data) + " --method model --model " + testing::quoted(dir.path / "x4.safetensors") +
                  " --csv " + testing::quoted(csv) + " --save-dir " + testing::quoted(out));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("model x4.safetensors x4") != std::string::npos);
  nets::SuperResolver x4(dir.path / "x4.safetensors");
  const TensorF sr = x4.upscale(read_image<float>(data / "img_001_SRF_4_LR.png"));
  auto rows = testing::read_csv(csv);
  REQUIRE(rows.size() == 3);
  CHECK(rows[1][3] == "given");
  CHECK(std::stod(rows[1][4]) == doctest::Approx(psnr_y(sr, hr, 4)).epsilon(1e-6));
  CHECK(std::stod(rows[1][5]) == doctest::Approx(ssim_y(sr, hr, 4)).epsilon(1e-6));
  CHECK(std::isinf(psnr_y(read_image<float>(out / "img_001_SRF_4_model_x4.png"), sr)));

  // x8: the folder has no x8 input, so it is made from the HR image (modcropped to 40x40).
  r = program.run(testing::quoted(data) + " --method model --model " + testing::quoted(dir.path / "x8.safetensors") +
                  " --csv " + testing::quoted(csv));
  INFO(r.output);
  REQUIRE(r.status == 0);
  rows = testing::read_csv(csv);
  REQUIRE(rows.size() == 3);
  CHECK(rows[1][1] == "40");
  CHECK(rows[1][2] == "40");
  CHECK(rows[1][3] == "made");
  nets::SuperResolver x8(dir.path / "x8.safetensors");
  TensorF hr40({1, 3, 40, 40});
  for (int p = 0; p < 3 * 40; ++p) std::copy_n(hr.data() + p * 44, 40, hr40.data() + p * 40);
  const TensorF sr8 = x8.upscale(sr_degrade(hr40, 8));
  CHECK(std::stod(rows[1][4]) == doctest::Approx(psnr_y(sr8, hr40, 8)).epsilon(1e-6));
}

TEST_CASE("eval_sr --method model: a factor other than the model's, a style network and --model alone are errors") {
  if (!program.available()) return;
  testing::TempDir dir;
  write_image(test_image(40, 44), dir.path / "a_HR.png");
  testing::write_sr_model<4>(dir.path / "x4.safetensors");
  program.check_error(
      testing::quoted(dir.path) + " --method model --factor 8 --model " + testing::quoted(dir.path / "x4.safetensors"),
      "is a x4 network, but --factor is 8");

  Model<nets::StyleTransformNet<>, Cpu, float> style;
  io::save_parameters(style, dir.path / "style.safetensors", {{"architecture", "johnson-style"}});
  program.check_error(
      testing::quoted(dir.path) + " --method model --model " + testing::quoted(dir.path / "style.safetensors"),
      "architecture \"johnson-style\" is not a super-resolution network");

  program.check_error(testing::quoted(dir.path) + " --model " + testing::quoted(dir.path / "x4.safetensors"),
                      "--model needs --method model");
}

TEST_CASE("eval_sr reproduces the published bicubic x4 figure on Set5: 28.43 dB") {
  if (!program.available()) return;
  const fs::path dir = testing::shared_data("sr/Set5/x4", "to check eval_sr on Set5");
  if (dir.empty()) return;
  const auto r = program.run("'" + dir.string() + "'");
  INFO(r.output);
  CHECK(r.status == 0);
  CHECK(r.output.find("mean (5 images)") != std::string::npos);
  const auto mean = r.output.substr(r.output.find("mean (5 images)"));
  CHECK(mean.find(" 28.43 ") != std::string::npos);
}
