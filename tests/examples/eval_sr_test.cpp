// Runs the built examples/eval_sr program: found next to the tests in the build tree
// ($PERCEPTUAL_EXAMPLES_DIR/eval_sr, set by ctest); skipped when absent.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

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
#include "support/temp_dir.hpp"

using namespace perceptual;
using namespace perceptual::io;
namespace fs = std::filesystem;

namespace {

using TensorF = Tensor<float, Cpu>;

fs::path program() {
  const char* dir = std::getenv("PERCEPTUAL_EXAMPLES_DIR");
  return dir ? fs::path(dir) / "eval_sr" : fs::path();
}

struct Run {
  int status = -1;
  std::string output;  // stdout and stderr
};

Run run(const std::string& args) {
  Run r;
  // Appended piecewise: GCC 12 warns (-Wrestrict, a false positive) on "'" + std::string.
  std::string command = program().string();
  command.insert(0, 1, '\'');
  command.append("' ").append(args).append(" 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

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

bool available() {
  if (fs::exists(program())) return true;
  MESSAGE("skipped: " << program().string() << " is absent (build the examples; ctest sets PERCEPTUAL_EXAMPLES_DIR)");
  return false;
}

}  // namespace

TEST_CASE("eval_sr --help describes the protocol and exits 0") {
  if (!available()) return;
  const auto r = run("--help");
  CHECK(r.status == 0);
  CHECK(r.output.find("--degrade") != std::string::npos);
  CHECK(r.output.find("--save-dir") != std::string::npos);
}

TEST_CASE("eval_sr reports a missing folder, a folder without pairs, a size mismatch and --method model") {
  if (!available()) return;
  testing::TempDir dir;
  auto r = run("'" + (dir.path / "absent").string() + "'");
  CHECK(r.status == 1);
  CHECK(r.output.find("eval_sr: error: folder") != std::string::npos);
  CHECK(r.output.find("does not exist") != std::string::npos);

  r = run("'" + dir.path.string() + "'");
  CHECK(r.status == 1);
  CHECK(r.output.find("has no test images") != std::string::npos);

  write_image(test_image(40, 44), dir.path / "a_HR.png");
  write_image(test_image(10, 10), dir.path / "a_LR.png");  // 40x44 is not 4 x 10x10
  r = run("'" + dir.path.string() + "'");
  CHECK(r.status == 1);
  CHECK(r.output.find("40x44") != std::string::npos);
  CHECK(r.output.find("10x10") != std::string::npos);
  CHECK(r.output.find("must be exactly 4 x the LR") != std::string::npos);
  // --degrade makes the LR from the HR, so the given one no longer matters.
  CHECK(run("'" + dir.path.string() + "' --degrade").status == 0);

  r = run("'" + dir.path.string() + "' --method model --model absent.safetensors");
  CHECK(r.status == 1);
  CHECK(r.output.find("super-resolution models arrive with train_sr") != std::string::npos);
}

TEST_CASE("eval_sr's figures and saved images are bicubic upscaling measured by psnr_y and ssim_y") {
  if (!available()) return;
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
  const auto r = run("'" + data.string() + "' --csv '" + csv.string() + "' --save-dir '" + out.string() + "'");
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("mean (2 images)") != std::string::npos);

  std::ifstream in(csv);
  std::string line;
  REQUIRE(std::getline(in, line));
  CHECK(line == "image,hr_height,hr_width,lr,psnr_y,ssim_y");
  for (std::size_t k = 0; k <= sizes.size(); ++k) {
    REQUIRE(std::getline(in, line));
    std::vector<std::string> fields;
    std::stringstream row(line);
    for (std::string f; std::getline(row, f, ',');) fields.push_back(f);
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

TEST_CASE("eval_sr reproduces the published bicubic x4 figure on Set5: 28.43 dB") {
  if (!available()) return;
  const char* data = std::getenv("PERCEPTUAL_DATA");
  if (!data) {
    MESSAGE("skipped: set PERCEPTUAL_DATA (e.g. /work/shared/data) to check eval_sr on Set5");
    return;
  }
  const fs::path dir = fs::path(data) / "sr" / "Set5" / "x4";
  if (!fs::exists(dir)) {
    MESSAGE("skipped: " << dir.string() << " is absent");
    return;
  }
  const auto r = run("'" + dir.string() + "'");
  INFO(r.output);
  CHECK(r.status == 0);
  CHECK(r.output.find("mean (5 images)") != std::string::npos);
  const auto mean = r.output.substr(r.output.find("mean (5 images)"));
  CHECK(mean.find(" 28.43 ") != std::string::npos);
}
