// Video files through ffmpeg and ffprobe: generated clips written, probed and read back (skipped,
// saying so, where FFmpeg is not installed).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "perceptual/video/ffmpeg.hpp"
#include "support/clips.hpp"
#include "support/ffmpeg.hpp"
#include "support/program.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;

namespace {

double mean_abs_difference(const Tensor<float, Cpu>& a, const Tensor<float, Cpu>& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += std::abs(a.data()[i] - b.data()[i]);
  return sum / static_cast<double>(a.size());
}

// ffmpeg's own test pattern with a tone, `seconds` long at 10 frames per second.
void write_clip_with_audio(const std::filesystem::path& path, double seconds) {
  const std::string d = std::to_string(seconds);
  REQUIRE(std::system(("ffmpeg -v error -nostdin -y -f lavfi -i testsrc=size=64x48:rate=10:duration=" + d +
                       " -f lavfi -i sine=frequency=440:duration=" + d + " -c:v libx264 -pix_fmt yuv420p -c:a aac " +
                       testing::quoted(path))
                          .c_str()) == 0);
}

}  // namespace

TEST_CASE("A clip written by VideoWriter is probed and read back as it was written") {
  if (!testing::ffmpeg_available()) return;
  testing::TempDir dir;
  const auto clip = testing::pan_clip(5, 48, 64, 8);
  video::VideoWriter writer(dir / "pan.mp4", 64, 48, "10/1");
  for (const auto& f : clip) writer.write(f);
  writer.finish();

  const video::VideoInfo info = video::probe(dir / "pan.mp4");
  CHECK(info.width == 64);
  CHECK(info.height == 48);
  CHECK(info.frame_rate == "10/1");
  CHECK(info.frames == 5);

  video::VideoReader reader(dir / "pan.mp4");
  Tensor<float, Cpu> frame;
  int t = 0;
  while (reader.read(frame)) {
    REQUIRE(t < 5);
    CHECK(frame.shape() == clip[t].shape());
    // H.264 at CRF 18 in 4:2:0 is lossy: a few levels on this texture, whose colours change every few
    // pixels (measured 4.4); frames out of order or channels swapped would be tens of levels off.
    INFO("frame " << t);
    CHECK(mean_abs_difference(frame, clip[t]) < 8);
    if (t > 0) CHECK(mean_abs_difference(frame, clip[t - 1]) > 12);
    ++t;
  }
  CHECK(t == 5);
}

TEST_CASE("VideoWriter keeps the audio of the file it is given") {
  if (!testing::ffmpeg_available()) return;
  testing::TempDir dir;
  write_clip_with_audio(dir / "in.mp4", 1);
  video::VideoReader reader(dir / "in.mp4");
  video::VideoWriter writer(dir / "out.mp4", 64, 48, reader.info().frame_rate, dir / "in.mp4");
  for (Tensor<float, Cpu> f; reader.read(f);) writer.write(f);
  writer.finish();
  const auto r = testing::run_program(
      "ffprobe", "-v error -show_entries stream=codec_type -of csv=p=0 " + testing::quoted(dir / "out.mp4"));
  CHECK(r.output == "video\naudio\n");
  CHECK(video::probe(dir / "out.mp4").frames == 10);
}

TEST_CASE("probe says what is wrong with a file that holds no video") {
  if (!testing::ffmpeg_available()) return;
  testing::TempDir dir;
  CHECK_THROWS_WITH_AS(video::probe(dir / "none.mp4"), doctest::Contains("no such file"), FileError);
  std::ofstream(dir / "text.mp4") << "not a video";
  CHECK_THROWS_WITH_AS(video::probe(dir / "text.mp4"), doctest::Contains("ffprobe cannot read it"), FileError);
  REQUIRE(std::system(("ffmpeg -v error -nostdin -y -f lavfi -i sine=duration=0.2 " + testing::quoted(dir / "tone.wav"))
                          .c_str()) == 0);
  CHECK_THROWS_WITH_AS(video::probe(dir / "tone.wav"), doctest::Contains("no video stream"), FileError);
}

TEST_CASE("A program that is not on PATH is an Error that says so") {
  CHECK_THROWS_WITH_AS(video::Process({"perceptual-no-such-program", "-x"}, video::Process::Pipe::from_stdout),
                       doctest::Contains("not found on PATH"), Error);
}

TEST_CASE("A VideoWriter dropped before finish leaves no ffmpeg behind and does not hang") {
  if (!testing::ffmpeg_available()) return;
  testing::TempDir dir;
  {
    video::VideoWriter writer(dir / "half.mp4", 64, 48, "10/1");
    writer.write(testing::texture_window(48, 64, 0));
  }  // the destructor kills and reaps ffmpeg; a wait for it to end by itself would never return
  CHECK(true);
}
