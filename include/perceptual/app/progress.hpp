#pragma once
// A one-line progress report for long runs: count, percentage, rate, ETA and the caller's
// figures (loss terms), redrawn in place on a terminal and printed every `every` steps otherwise.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "perceptual/app/timing.hpp"

namespace perceptual::app {

class Progress {
 public:
  Progress(std::string what, long total, long every = 10)
      : what_(std::move(what)), total_(total), every_(every), tty_(isatty(fileno(stderr)) != 0) {}

  // Reports step `done` (1-based) of the total, with extra text such as "loss 1.2e5".
  void update(long done, const std::string& extra = "") {
    if (!tty_ && done % every_ != 0 && done != total_) return;
    const double elapsed = seconds();
    const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total_ - done) : 0;
    std::fprintf(stderr, "%s%s %ld/%ld (%3.0f%%) %s elapsed, ETA %s  %s%s", tty_ ? "\r\033[K" : "", what_.c_str(), done,
                 total_, 100.0 * static_cast<double>(done) / static_cast<double>(total_), format_time(elapsed).c_str(),
                 format_time(eta).c_str(), extra.c_str(), tty_ ? "" : "\n");
    if (tty_ && done == total_) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

  double seconds() const { return seconds_since(start_); }

  static std::string format_time(double s) {
    char buf[32];
    const long t = static_cast<long>(s + 0.5);
    if (t >= 3600)
      std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
      std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
    else
      std::snprintf(buf, sizeof buf, "%.1fs", s);
    return buf;
  }

 private:
  std::string what_;
  long total_;
  long every_;
  bool tty_;
  Clock::time_point start_ = Clock::now();
};

}  // namespace perceptual::app
