#pragma once
// What the libFuzzer targets share. The library reads files, as the programs do, so each input is
// written to a file first. Bad input may throw perceptual::Error (the library's contract) and
// nothing else: any other exception escapes LLVMFuzzerTestOneInput and libFuzzer reports it as a
// crash, as it does a sanitizer report or a broken invariant (require()).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace perceptual::fuzz {

// A scratch file for this process's inputs, in /dev/shm when there is one (memory: no disk
// writes per input), else the temporary folder; removed at exit.
class InputFile {
 public:
  explicit InputFile(const std::string& name) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path dir = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    path_ = dir / ("perceptual_fuzz_" + std::to_string(::getpid()) + "_" + name);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }

  // Writes the input and returns the file's path.
  const std::filesystem::path& write(const std::uint8_t* data, std::size_t size) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    if (!out) {
      std::fprintf(stderr, "fuzz: cannot write %s\n", path_.c_str());
      std::abort();
    }
    return path_;
  }

 private:
  std::filesystem::path path_;
};

// A property of what the library returned that must hold for every input that it accepted.
inline void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz: broken invariant: %s\n", what);
  std::abort();
}

}  // namespace perceptual::fuzz
