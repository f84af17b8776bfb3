#pragma once
// Whether FFmpeg's programs (ffmpeg, ffprobe) are on PATH, for the tests that run them; when not,
// the test says why it skips.
#include <doctest/doctest.h>

#include <cstdlib>

namespace perceptual::testing {

inline bool ffmpeg_available() {
  if (std::system("ffmpeg -version >/dev/null 2>&1") == 0 && std::system("ffprobe -version >/dev/null 2>&1") == 0)
    return true;
  MESSAGE("skipped: ffmpeg or ffprobe is not on PATH (on Debian: apt-get install ffmpeg)");
  return false;
}

}  // namespace perceptual::testing
