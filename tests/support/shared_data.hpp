#pragma once
// The shared real data (../shared/data, named by PERCEPTUAL_DATA) for the tests that need it:
// without it they pass after saying why they skipped.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace perceptual::testing {

// PERCEPTUAL_DATA / relative, or an empty path after a "skipped: ..." message naming what is missing
// (the variable or the path) and what the test would have checked (`purpose`: "to read ...").
inline std::filesystem::path shared_data(const std::filesystem::path& relative, const std::string& purpose) {
  const char* data = std::getenv("PERCEPTUAL_DATA");
  if (!data) {
    MESSAGE("skipped: set PERCEPTUAL_DATA (e.g. /work/shared/data) " << purpose);
    return {};
  }
  const std::filesystem::path path = std::filesystem::path(data) / relative;
  if (!std::filesystem::exists(path)) {
    MESSAGE("skipped: " << path.string() << " is absent (needed " << purpose << ")");
    return {};
  }
  return path;
}

}  // namespace perceptual::testing
