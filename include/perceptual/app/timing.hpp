#pragma once
// Wall-clock timing for the programs (progress, ETA) and the benchmarks: seconds since a point,
// and the median of repeated runs.
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace perceptual::app {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The median of a list of figures (the mean of the middle two for an even count); 0 for none.
inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Median wall time of `reps` calls of f after `warmup` calls (caches, allocator, BLAS threads);
// f must wait for its own work (a device backend synchronises inside it).
inline double median_seconds(int warmup, int reps, const std::function<void()>& f) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t(static_cast<std::size_t>(std::max(1, reps)));
  for (auto& s : t) {
    const auto start = Clock::now();
    f();
    s = seconds_since(start);
  }
  return median(std::move(t));
}

}  // namespace perceptual::app
