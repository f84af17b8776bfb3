#pragma once
// Where tiled inference keeps a whole C x H x W activation between layers: in memory, or in a
// scratch file when the memory budget has no room for it. Rows are stored one after another, each
// row all channels ([H][C][W]), so a band of rows is one contiguous range: one read, one write.
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
      memory_.reset(new float[values()]);
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
  std::size_t row_values() const { return static_cast<std::size_t>(c_) * w_; }
  std::size_t values() const { return row_values() * h_; }
  std::size_t bytes() const { return values() * sizeof(float); }

  // Rows [r0, r0 + band.h()) from a 1 x C x rows x W band, or into one.
  void write(int r0, const Tensor<float, Cpu>& band) {
    check(r0, band, "write");
    Tensor<float, Cpu> rows({1, 1, band.h(), static_cast<int>(row_values())}, uninitialized);
    to_rows(band.data(), rows.data(), band.h());
    transfer(r0, band.h(), rows.data(), true);
  }
  Tensor<float, Cpu> read(int r0, int r1) const {
    Tensor<float, Cpu> band({1, c_, r1 - r0, w_}, uninitialized);
    check(r0, band, "read");
    Tensor<float, Cpu> rows({1, 1, band.h(), static_cast<int>(row_values())}, uninitialized);
    transfer(r0, band.h(), rows.data(), false);
    from_rows(rows.data(), band.data(), band.h());
    return band;
  }

 private:
  void check(int r0, const Tensor<float, Cpu>& band, const char* what) const {
    if (band.n() != 1 || band.c() != c_ || band.w() != w_ || r0 < 0 || band.h() < 1 || r0 + band.h() > h_)
      throw ShapeError(std::string("RowStore::") + what + ": rows " + std::to_string(r0) + "+" +
                       std::to_string(band.h()) + " as " + to_string(band.shape()) + " of a " + std::to_string(c_) +
                       "x" + std::to_string(h_) + "x" + std::to_string(w_) + " store");
  }

  // A band's channel planes (chw) in the store's row order (rows), and back.
  void to_rows(const float* chw, float* rows, int n) const {
    for (int r = 0; r < n; ++r)
      for (int c = 0; c < c_; ++c) std::memcpy(rows + row_at(r, c), chw + plane_at(n, r, c), w_ * sizeof(float));
  }
  void from_rows(const float* rows, float* chw, int n) const {
    for (int r = 0; r < n; ++r)
      for (int c = 0; c < c_; ++c) std::memcpy(chw + plane_at(n, r, c), rows + row_at(r, c), w_ * sizeof(float));
  }
  std::size_t row_at(int r, int c) const { return (static_cast<std::size_t>(r) * c_ + c) * w_; }
  std::size_t plane_at(int n, int r, int c) const { return (static_cast<std::size_t>(c) * n + r) * w_; }

  // n rows from r0 between `rows` and the store, `write` saying which way.
  void transfer(int r0, int n, float* rows, bool write) const {
    const std::size_t offset = static_cast<std::size_t>(r0) * row_values();
    const std::size_t count = static_cast<std::size_t>(n) * row_values();
    if (!on_disk()) {
      if (write)
        std::memcpy(memory_.get() + offset, rows, count * sizeof(float));
      else
        std::memcpy(rows, memory_.get() + offset, count * sizeof(float));
      return;
    }
    auto* p = reinterpret_cast<char*>(rows);
    std::size_t left = count * sizeof(float);
    auto at = static_cast<off_t>(offset * sizeof(float));
    while (left > 0) {
      const ssize_t done = write ? ::pwrite(fd_, p, left, at) : ::pread(fd_, p, left, at);
      if (done < 0 && errno == EINTR) continue;
      if (done <= 0)
        throw FileError(std::string("scratch file: cannot ") + (write ? "write " : "read ") + std::to_string(left) +
                        " bytes at " + std::to_string(at) + ": " +
                        (done < 0 ? std::strerror(errno) : "unexpected end of file"));
      p += done;
      left -= static_cast<std::size_t>(done);
      at += done;
    }
  }

  int c_, h_, w_;
  std::unique_ptr<float[]> memory_;
  int fd_ = -1;
};

}  // namespace perceptual::tiled
