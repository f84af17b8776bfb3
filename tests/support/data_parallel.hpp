#pragma once
// How close data-parallel training must come to one process's (tests/dist, tests/examples): the
// ranks sum their shards' gradients separately, so the sums round differently, and Adam turns a
// gradient near 0 that rounds to the other sign into a step of about lr the other way. So: almost
// every parameter within 1e-5 of one process's, and none further than a few such steps.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace perceptual::testing {

inline void check_data_parallel_close(const std::vector<double>& one, const std::vector<double>& ranks, double lr,
                                      int steps) {
  REQUIRE(one.size() == ranks.size());
  std::size_t apart = 0;
  double largest = 0;
  for (std::size_t i = 0; i < one.size(); ++i) {
    const double d = std::abs(one[i] - ranks[i]);
    apart += d > 1e-5;
    largest = std::max(largest, d);
  }
  INFO(apart << " of " << one.size() << " parameters more than 1e-5 apart; the largest difference " << largest);
  CHECK(static_cast<double>(apart) <= 0.01 * static_cast<double>(one.size()));
  CHECK(largest <= 4 * lr * steps);
}

}  // namespace perceptual::testing
