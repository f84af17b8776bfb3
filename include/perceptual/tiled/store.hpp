#pragma once
// Where tiled inference keeps a whole C x H x W activation between layers: in memory (a tensor
// from the host pool, so that the memory of one layer's activation serves a later one without
// faulting its pages in again), or in a scratch file when the memory budget has no room for it.
// A band of rows is copied once each way: a memcpy, or a pread/pwrite per channel. A band of all
// rows of an activation in memory is not copied at all: write adopts it, read shares it.
//
// The scratch file is unnamed (O_TMPFILE: nothing is left behind by a crash or a kill) and its
// space is reserved when it is made (posix_fallocate), so a full disk is an error at that moment,
// not halfway through a write. It is read and written with pread/pwrite, not mapped: pages of a
// mapping count in the process's resident memory while mapped (the budget is about exactly that),
// and an I/O error on a mapping arrives as SIGBUS, a crash, where pwrite returns an error to report.
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/host.hpp"
#include "perceptual/core/tensor.hpp"

namespace perceptual::tiled {

// Bytes free for an unprivileged user on the file system of `dir`; FileError when it cannot be asked.
inline std::uint64_t free_disk_bytes(const std::filesystem::path& dir) {
  struct statvfs s {};
  if (::statvfs(dir.c_str(), &s) != 0) throw FileError("scratch folder " + dir.string() + ": " + std::strerror(errno));
  return static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize;
}

class RowStore {
 public:
  // In memory when `scratch_dir` is empty, else in a new unnamed file there.
  RowStore(int channels, int height, int width, const std::filesystem::path& scratch_dir = {})
      : c_(channels), h_(height), w_(width) {
    if (channels < 1 || height < 1 || width < 1)
      throw ShapeError("RowStore: " + std::to_string(channels) + "x" + std::to_string(height) + "x" +
                       std::to_string(width) + " has no values");
    if (scratch_dir.empty()) {
      memory_ = Tensor<float, Cpu>({1, c_, h_, w_}, uninitialized);
      return;
    }
    const std::string where = "scratch file in " + scratch_dir.string() + ": ";
    fd_ = ::open(scratch_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd_ < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {  // no O_TMPFILE there
      std::string name = (scratch_dir / "perceptual-scratch-XXXXXX").string();
      fd_ = ::mkstemp(name.data());
      if (fd_ >= 0) ::unlink(name.c_str());
    }
    if (fd_ < 0) throw FileError(where + "cannot create: " + std::strerror(errno));
    if (const int e = ::posix_fallocate(fd_, 0, static_cast<off_t>(bytes())); e != 0) {
      ::close(fd_);
      throw FileError(where + "cannot reserve " + std::to_string(bytes() >> 20) + " MiB: " + std::strerror(e));
    }
  }
  RowStore(const RowStore&) = delete;
  RowStore& operator=(const RowStore&) = delete;
  ~RowStore() {
    if (fd_ >= 0) ::close(fd_);
  }

  int channels() const { return c_; }
  int height() const { return h_; }
  int width() const { return w_; }
  bool on_disk() const { return fd_ >= 0; }
  std::size_t bytes() const { return static_cast<std::size_t>(c_) * h_ * w_ * sizeof(float); }

  // Rows [r0, r0 + rows) from rows [first, first + rows) of a 1 x C x H x W band (all of them by
  // default).
  void write(int r0, const Tensor<float, Cpu>& band, int first = 0, int rows = -1) {
    if (rows < 0) rows = band.h() - first;
    if (band.n() != 1 || first < 0 || first + rows > band.h())
      throw ShapeError("RowStore::write: rows " + std::to_string(first) + "+" + std::to_string(rows) + " of " +
                       to_string(band.shape()));
    check(r0, {1, band.c(), rows, band.w()}, "write");
    if (!on_disk() && rows == h_ && rows == band.h()) {
      if (band.data() != memory_.data()) memory_ = band.share();
      return;
    }
    for (int c = 0; c < c_; ++c)
      put(c, r0, rows, band.data() + plane(band.h(), c) + static_cast<std::size_t>(first) * w_);
  }
  // Rows [r0, r1) as a 1 x C x rows x W band; all rows of one in memory share its storage.
  Tensor<float, Cpu> read(int r0, int r1) const {
    check(r0, {1, c_, r1 - r0, w_}, "read");
    if (!on_disk() && r1 - r0 == h_) return memory_.share();
    Tensor<float, Cpu> band({1, c_, r1 - r0, w_}, uninitialized);
    for (int c = 0; c < c_; ++c) get(c, r0, band.h(), band.data() + plane(band.h(), c));
    return band;
  }

 private:
  void check(int r0, Shape4 band, const char* what) const {
    if (band.n != 1 || band.c != c_ || band.w != w_ || r0 < 0 || band.h < 1 || r0 + band.h > h_)
      throw ShapeError(std::string("RowStore::") + what + ": rows " + std::to_string(r0) + "+" +
                       std::to_string(band.h) + " as " + to_string(band) + " of a " + std::to_string(c_) + "x" +
                       std::to_string(h_) + "x" + std::to_string(w_) + " store");
  }
  std::size_t plane(int rows, int c) const { return static_cast<std::size_t>(c) * rows * w_; }

  // Rows [r0, r0 + n) of channel c into the store, and out of it.
  void put(int c, int r0, int n, const float* from) {
    const std::size_t at = (static_cast<std::size_t>(c) * h_ + r0) * w_, bytes = std::size_t{sizeof(float)} * n * w_;
    if (!on_disk()) return (void)std::memcpy(memory_.data() + at, from, bytes);
    const auto* p = reinterpret_cast<const char*>(from);
    io("write", at, bytes, [&](std::size_t done, off_t pos) { return ::pwrite(fd_, p + done, bytes - done, pos); });
  }
  void get(int c, int r0, int n, float* to) const {
    const std::size_t at = (static_cast<std::size_t>(c) * h_ + r0) * w_, bytes = std::size_t{sizeof(float)} * n * w_;
    if (!on_disk()) return (void)std::memcpy(to, memory_.data() + at, bytes);
    auto* p = reinterpret_cast<char*>(to);
    io("read", at, bytes, [&](std::size_t done, off_t pos) { return ::pread(fd_, p + done, bytes - done, pos); });
  }
  // `bytes` of the file from value `at` on, through call(done, position) (pread or pwrite) until done.
  template <class Call>
  void io(const char* what, std::size_t at, std::size_t bytes, Call call) const {
    for (std::size_t done = 0; done < bytes;) {
      const auto pos = static_cast<off_t>(at * sizeof(float) + done);
      const ssize_t n = call(done, pos);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        throw FileError(std::string("scratch file: cannot ") + what + " " + std::to_string(bytes - done) +
                        " bytes at " + std::to_string(pos) + ": " +
                        (n < 0 ? std::strerror(errno) : "unexpected end of file"));
      done += static_cast<std::size_t>(n);
    }
  }

  int c_, h_, w_;
  Tensor<float, Cpu> memory_;
  int fd_ = -1;
};

}  // namespace perceptual::tiled
