#pragma once
// A file's bytes as a string, and a string written as a file's bytes (replacing it).
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace perceptual::testing {

inline std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace perceptual::testing
