// app/timing.hpp: the medians the benchmarks report.
#include "perceptual/app/timing.hpp"

#include <doctest/doctest.h>

using namespace perceptual;

TEST_CASE("median is the middle figure, or the mean of the middle two") {
  CHECK(app::median({3, 1, 2}) == 2);
  CHECK(app::median({4, 1, 3, 2}) == 2.5);
  CHECK(app::median({}) == 0);
}

TEST_CASE("median_seconds runs the warm-up and the timed calls") {
  int calls = 0;
  const double s = app::median_seconds(2, 3, [&] { ++calls; });
  CHECK(calls == 5);
  CHECK(s >= 0);
}
