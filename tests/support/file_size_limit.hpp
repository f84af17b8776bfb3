#pragma once
// A full disk, simulated in this process: while a FileSizeLimit lives, no file may grow past
// `bytes` (RLIMIT_FSIZE, with SIGXFSZ ignored), so a write past it fails with EFBIG ("File too
// large"), as one on a full disk fails with ENOSPC. Keep the scope to the one call under test.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>

namespace perceptual::testing {

class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved_) == 0);
    previous_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::signal(SIGXFSZ, previous_handler_);
  }

 private:
  rlimit saved_{};
  sighandler_t previous_handler_ = SIG_DFL;
};

}  // namespace perceptual::testing
