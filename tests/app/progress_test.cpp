// app/progress.hpp: the progress line's times.
#include "perceptual/app/progress.hpp"

#include <doctest/doctest.h>

using namespace perceptual;

TEST_CASE("format_time writes seconds, then minutes, then hours") {
  CHECK(app::Progress::format_time(4.5) == "4.5s");
  CHECK(app::Progress::format_time(75) == "1m15s");
  CHECK(app::Progress::format_time(3 * 3600 + 5 * 60) == "3h05m");
}
