#pragma once
// Atomic, durable file writes (POSIX): the bytes go to "<name>.partial" beside the target, which is
// fsync'd, renamed over the target, and then the folder is fsync'd. A crash or kill at any moment
// leaves the old file or the new one, each complete; once the call returns, the new one survives a
// power loss too. What checkpoints and model files are written with.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <span>
#include <string>

#include "perceptual/core/error.hpp"

namespace perceptual::io {

// The temporary file write_file_atomically writes `path` through: "<path>.partial". One fixed name,
// so a write interrupted by a kill leaves at most one, which the next write replaces.
inline std::filesystem::path partial_path(const std::filesystem::path& path) {
  std::filesystem::path p = path;
  p += ".partial";
  return p;
}

namespace detail {

// Closes a descriptor once (destructors never throw; close() itself is checked where it matters).
struct FileDescriptor {
  int fd = -1;
  explicit FileDescriptor(int f) : fd(f) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
  // close(2) with its error (NFS reports a failed write-back here); the descriptor is gone either way.
  int close() {
    const int r = ::close(fd);
    fd = -1;
    return r;
  }
};

// Creates (or truncates) partial_path(path) for writing, never through a symbolic link: the
// descriptor, or -1 with errno set.
inline int open_partial(const std::filesystem::path& path) {
  return ::open(partial_path(path).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
}

// The last steps of an atomic write, once `out` (open on partial_path(path)) holds all the bytes:
// its data made durable, closed, renamed over `path`, the folder made durable. A failed step calls
// fail(step, errno, remove_temporary), which throws. Also how io/stream_image.hpp's ImageRowWriter ends.
template <class Fail>
void publish_partial(FileDescriptor& out, const std::filesystem::path& path, Fail&& fail) {
  const std::filesystem::path temporary = partial_path(path);
  // Data before the name: without this, a crash after the rename can leave an empty target.
  if (::fsync(out.fd) != 0) fail("fsync " + temporary.filename().string(), errno, true);
  if (out.close() != 0) fail("close " + temporary.filename().string(), errno, true);
  if (::rename(temporary.c_str(), path.c_str()) != 0) fail("rename " + temporary.filename().string(), errno, true);
  // The rename itself is durable only once the folder is; some file systems cannot fsync a folder
  // (EINVAL), where there is nothing more to do.
  const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  FileDescriptor dir(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.fd < 0) fail("open its folder", errno, false);
  if (::fsync(dir.fd) != 0 && errno != EINVAL && errno != ENOTSUP) fail("fsync its folder", errno, false);
}

}  // namespace detail

// Writes the concatenation of `parts` as `path`, atomically and durably (see the top of this file).
// Throws FileError "cannot write <path>: <step>: <the system's message>" (e.g. "write
// m.safetensors.partial: No space left on device") when any step fails; the temporary file is then
// removed and an existing `path` is left as it was.
inline void write_file_atomically(const std::filesystem::path& path,
                                  std::span<const std::span<const std::byte>> parts) {
  const std::filesystem::path temporary = partial_path(path);
  const auto fail = [&](const std::string& step, int error, bool remove_temporary) {
    if (remove_temporary) ::unlink(temporary.c_str());
    throw FileError("cannot write " + path.string() + ": " + step + ": " + std::strerror(error));
  };
  {
    detail::FileDescriptor out(detail::open_partial(path));
    if (out.fd < 0) fail("create " + temporary.filename().string(), errno, false);
    for (const auto part : parts) {
      const std::byte* p = part.data();
      for (std::size_t left = part.size(); left > 0;) {
        const ::ssize_t n = ::write(out.fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        // A write of 0 bytes to a regular file means no room; say so rather than loop.
        if (n <= 0) fail("write " + temporary.filename().string(), n < 0 ? errno : ENOSPC, true);
        p += n;
        left -= static_cast<std::size_t>(n);
      }
    }
    detail::publish_partial(out, path, fail);
  }
}

inline void write_file_atomically(const std::filesystem::path& path,
                                  std::initializer_list<std::span<const std::byte>> parts) {
  write_file_atomically(path, std::span<const std::span<const std::byte>>(parts.begin(), parts.size()));
}

}  // namespace perceptual::io
