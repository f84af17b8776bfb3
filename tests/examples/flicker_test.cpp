// Runs the built examples/flicker program on generated clips: a pan over a still photo (2 px per
// frame, so its flow is known) and outputs that follow it or flicker (skipped, saying why, where
// the program is not built (no OpenCV) or FFmpeg is not installed).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "support/csv.hpp"
#include "support/ffmpeg.hpp"
#include "support/program.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_vgg.hpp"

using namespace perceptual;
namespace fs = std::filesystem;

namespace {

const testing::Program program("flicker");

bool ready() {
  return program.available() && testing::ffmpeg_available();
}

fs::path chelsea() {
  return fs::path(std::getenv("PERCEPTUAL_SOURCE_DIR")) / "assets" / "chelsea.png";
}

void ffmpeg(const std::string& args) {
  REQUIRE(std::system(("ffmpeg -v error -nostdin -y " + args).c_str()) == 0);
}

// 12 frames of 96x64 panning right over the photo by 2 px a frame; its twin of independent noise.
void write_clips(const testing::TempDir& dir) {
  ffmpeg("-loop 1 -framerate 10 -i " + testing::quoted(chelsea()) +
         " -vf 'crop=96:64:2*n:100' -frames:v 12 -c:v libx264 -crf 10 -pix_fmt yuv444p " +
         testing::quoted(dir / "pan.mp4"));
  ffmpeg("-f lavfi -i 'nullsrc=s=96x64:r=10:d=1.2,geq=random(1)*255:128:128' -frames:v 12 -c:v libx264 -crf 10 " +
         testing::quoted(dir / "noise.mp4"));
}

}  // namespace

TEST_CASE("flicker --help says what it measures") {
  program.check_help({"warping error", "Lai", "--style", "--weights", "--csv"});
}

TEST_CASE("flicker finds a pan steady and noise flickering, and measures the style distance") {
  if (!ready()) return;
  testing::TempDir dir;
  write_clips(dir);
  testing::write_tiny_vgg(dir / "vgg.safetensors");  // VGG-16's first two blocks: VGG-19's too
  const auto r = program.run(testing::quoted(dir / "pan.mp4") + " " + testing::quoted(dir / "pan.mp4") + " " +
                             testing::quoted(dir / "noise.mp4") + " --style " + testing::quoted(chelsea()) +
                             " --weights " + testing::quoted(dir / "vgg.safetensors") +
                             " --layers relu1_2,relu2_2 --style-every 1 --csv " + testing::quoted(dir / "t.csv"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  const auto rows = testing::read_csv(dir / "t.csv");  // video,frames,warping_error,reliable,style_distance
  REQUIRE(rows.size() == 3);
  REQUIRE(rows[0].size() == 5);
  const double pan = std::stod(rows[1][2]), noise = std::stod(rows[2][2]);
  CHECK(rows[1][1] == "12");
  CHECK(std::stod(rows[1][3]) > 0.8);  // all but the entering edge and the photo's flat patches
  CHECK(pan < 0.005);
  CHECK(noise > 0.05);
  // The photo is nearer its own style than grey noise is.
  CHECK(std::stod(rows[1][4]) < std::stod(rows[2][4]));
}

TEST_CASE("flicker says what is wrong and exits 1") {
  if (!ready()) return;
  testing::TempDir dir;
  write_clips(dir);
  program.check_error(testing::quoted(dir / "pan.mp4") + " " + testing::quoted(dir / "none.mp4"),
                      "flicker: error: video " + (dir / "none.mp4").string() + ": no such file");
  program.check_error(testing::quoted(dir / "pan.mp4") + " " + testing::quoted(dir / "noise.mp4") + " --style " +
                          testing::quoted(chelsea()),
                      "--style and --weights go together");
  ffmpeg("-i " + testing::quoted(dir / "pan.mp4") + " -vf scale=48:32 " + testing::quoted(dir / "small.mp4"));
  program.check_error(testing::quoted(dir / "pan.mp4") + " " + testing::quoted(dir / "small.mp4"), "is 48x32");
}
