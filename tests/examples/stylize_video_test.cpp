// Runs the built examples/stylize_video program on generated clips with the shipped candy network
// (skipped, saying why, where the program is not built (no OpenCV) or FFmpeg is not installed).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "support/ffmpeg.hpp"
#include "support/program.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;
namespace fs = std::filesystem;

namespace {

const testing::Program program("stylize_video");

bool ready() {
  return program.available() && testing::ffmpeg_available();
}

fs::path candy() {
  return fs::path(std::getenv("PERCEPTUAL_SOURCE_DIR")) / "models" / "candy.safetensors";
}

// ffmpeg's test pattern moving, with a tone: 10 frames at 10 per second, 64x48.
fs::path write_clip(const testing::TempDir& dir) {
  const fs::path path = dir / "in.mp4";
  REQUIRE(std::system(("ffmpeg -v error -nostdin -y -f lavfi -i testsrc=size=64x48:rate=10:duration=1 -f lavfi -i "
                       "sine=frequency=440:duration=1 -c:v libx264 -pix_fmt yuv420p -c:a aac " +
                       testing::quoted(path))
                          .c_str()) == 0);
  return path;
}

std::string probe(const fs::path& path) {
  return testing::run_program("ffprobe",
                              "-v error -show_entries stream=codec_type,width,height,r_frame_rate,nb_frames "
                              "-of compact=p=0 " +
                                  testing::quoted(path))
      .output;
}

}  // namespace

TEST_CASE("stylize_video --help names the stability methods") {
  program.check_help({"--stability", "per-frame", "ema", "flow", "--alpha", "--momentum", "--scene-cut"});
}

TEST_CASE("stylize_video writes every frame at the input's size and rate, with its audio, by each method") {
  if (!ready()) return;
  testing::TempDir dir;
  const fs::path in = write_clip(dir);
  for (const char* method : {"per-frame", "ema", "flow"}) {
    INFO(method);
    const fs::path out = dir / (std::string(method) + ".mp4");
    const auto r = program.run(testing::quoted(in) + " -o " + testing::quoted(out) + " -m " + testing::quoted(candy()) +
                               " --stability " + method);
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(r.output.find("10 frames") != std::string::npos);
    CHECK(probe(out) ==
          "codec_type=video|width=64|height=48|r_frame_rate=10/1|nb_frames=10\n"
          "codec_type=audio|r_frame_rate=0/0|nb_frames=" +
              probe(in).substr(probe(in).rfind('=') + 1));
  }
}

TEST_CASE("stylize_video --max-frames stops early and leaves no ffmpeg behind") {
  if (!ready()) return;
  testing::TempDir dir;
  const fs::path in = write_clip(dir), out = dir / "out.mkv";
  const auto r = program.run(testing::quoted(in) + " -o " + testing::quoted(out) + " -m " + testing::quoted(candy()) +
                             " --max-frames 3");
  INFO(r.output);
  CHECK(r.status == 0);
  CHECK(r.output.find("Broken pipe") == std::string::npos);
  CHECK(probe(out).find("codec_type=video|width=64|height=48") == 0);
}

TEST_CASE("stylize_video says what is wrong and exits 1") {
  if (!ready()) return;
  testing::TempDir dir;
  const std::string model = " -m " + testing::quoted(candy());
  program.check_error(testing::quoted(dir / "none.mp4") + " -o " + testing::quoted(dir / "out.mp4") + model,
                      "stylize_video: error: video " + (dir / "none.mp4").string() + ": no such file");
  REQUIRE(std::system(("ffmpeg -v error -nostdin -y -f lavfi -i sine=duration=0.2 " + testing::quoted(dir / "tone.wav"))
                          .c_str()) == 0);
  program.check_error(testing::quoted(dir / "tone.wav") + " -o " + testing::quoted(dir / "out.mp4") + model,
                      "no video stream");
  const fs::path in = write_clip(dir);
  program.check_error(testing::quoted(in) + " -o " + testing::quoted(dir / "out.mp4") + " -m " + testing::quoted(in),
                      "stylize_video: error: safetensors");
  program.check_error(testing::quoted(in) + " -o " + testing::quoted(in) + model, "would replace the input");
  // Without FFmpeg on PATH: named, not a hang or a crash.
  const auto r = testing::run_program(
      "/bin/sh", "-c " + testing::quoted("PATH=/nonexistent " + testing::quoted(program.path()) + " " +
                                         testing::quoted(in) + " -o " + testing::quoted(dir / "out.mp4") + model));
  INFO(r.output);
  CHECK(r.status == 1);
  CHECK(r.output.find("ffprobe not found on PATH") != std::string::npos);
}
