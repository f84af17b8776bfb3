// write_file_atomically (include/perceptual/io/atomic_file.hpp): the bytes arrive whole, an
// existing file is replaced only by a complete new one, and a failed write says which file and
// why, removes its temporary file and leaves the old file as it was.
#include "perceptual/io/atomic_file.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "support/file_size_limit.hpp"
#include "support/spawn.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;
namespace fs = std::filesystem;

namespace {

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span<const char>(s));
}

// The message of the FileError that `f` throws ("" when it throws none).
template <class F>
std::string file_error(F&& f) {
  try {
    f();
  } catch (const FileError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("write_file_atomically writes its parts in order and replaces an existing file") {
  testing::TempDir dir;
  const fs::path path = dir / "model.safetensors";
  io::write_file_atomically(path, {bytes_of("first "), bytes_of(""), bytes_of("version")});
  CHECK(testing::read_text(path) == "first version");
  const std::string big(3 << 20, 'x');  // several write(2) calls' worth
  io::write_file_atomically(path, {bytes_of("second:"), bytes_of(big)});
  CHECK(testing::read_text(path) == "second:" + big);
  CHECK_FALSE(fs::exists(io::partial_path(path)));
  CHECK(io::partial_path(path) == dir / "model.safetensors.partial");
}

TEST_CASE("write_file_atomically replaces the temporary file a killed write left behind") {
  testing::TempDir dir;
  const fs::path path = dir / "ckpt.safetensors";
  io::write_file_atomically(path, {bytes_of("old")});
  std::ofstream(io::partial_path(path)) << "a half-written checkpoint from a run that was killed";
  io::write_file_atomically(path, {bytes_of("new")});
  CHECK(testing::read_text(path) == "new");
  CHECK_FALSE(fs::exists(io::partial_path(path)));
}

TEST_CASE("a full disk is a FileError naming the file and the system's reason; the old file stays whole") {
  testing::TempDir dir;
  const fs::path path = dir / "ckpt.safetensors";
  io::write_file_atomically(path, {bytes_of("the previous checkpoint")});
  const std::string big(1 << 20, 'x');
  std::string message;
  {
    const testing::FileSizeLimit full(64 << 10);  // 64 KiB may be written, then EFBIG
    message = file_error([&] { io::write_file_atomically(path, {bytes_of(big)}); });
  }
  INFO(message);
  CHECK(message == "cannot write " + path.string() + ": write ckpt.safetensors.partial: File too large");
  CHECK(testing::read_text(path) == "the previous checkpoint");
  CHECK_FALSE(fs::exists(io::partial_path(path)));
}

TEST_CASE("a folder that cannot be written to is a FileError naming the file and the reason") {
  testing::TempDir dir;
  const fs::path path = dir / "no_such_folder" / "model.safetensors";
  const std::string message = file_error([&] { io::write_file_atomically(path, {bytes_of("x")}); });
  CHECK(message == "cannot write " + path.string() + ": create model.safetensors.partial: No such file or directory");
  CHECK_FALSE(fs::exists(path.parent_path()));
}
