#pragma once
// What every program's command line shares (CLI11): the command line itself for metadata, lists of
// integers, --max-pixels, and the report of an error that ends a program.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <string>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/strings.hpp"
#include "perceptual/io/image.hpp"

namespace perceptual::app {

// The program's command line, for a model file's metadata.
inline std::string command_line(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) out += (i ? " " : "") + std::string(argv[i]);
  return out;
}

// "256,512" -> {256, 512}: each item an integer in [lo, hi] and a multiple of `multiple_of`, else
// ArgumentError naming `option`; at least one item.
inline std::vector<int> parse_int_list(const std::string& text, const std::string& option, int lo, int hi,
                                       int multiple_of = 1) {
  std::vector<int> out;
  for (const auto& item : split_list(text)) {
    char* end = nullptr;
    const long v = std::strtol(item.c_str(), &end, 10);
    if (*end != '\0' || v < lo || v > hi || v % multiple_of != 0)
      throw ArgumentError(
          option + ": \"" + item + "\" is not " +
          (multiple_of > 1 ? "a multiple of " + std::to_string(multiple_of) : std::string("an integer")) + " between " +
          std::to_string(lo) + " and " + std::to_string(hi));
    out.push_back(static_cast<int>(v));
  }
  if (out.empty()) throw ArgumentError(option + ": give one value at least");
  return out;
}

// A required option naming a file that must exist (--weights, --style, --model).
inline CLI::Option* add_input_file(CLI::App& cli, const std::string& name, std::string& path, const std::string& help) {
  return cli.add_option(name, path, help)->required()->check(CLI::ExistingFile);
}

// --max-pixels N, the option of every program that reads images: the largest image (width x height)
// it decodes, checked from each file's header before decoding. Applied when parsed, as the
// default of io::read_image (io::set_default_image_limits).
inline CLI::Option* add_max_pixels_option(CLI::App& cli) {
  const std::string help =
      "largest image to read, in pixels (width x height), checked from the file's header before decoding (default " +
      std::to_string(io::ImageLimits::default_max_pixels) + " = 16384x16384)";
  const auto apply = [](std::int64_t n) { io::set_default_image_limits({.max_pixels = n}); };
  const auto positive = CLI::Range(std::int64_t{1}, std::numeric_limits<std::int64_t>::max()).description("POSITIVE");
  return cli.add_option_function<std::int64_t>("--max-pixels", apply, help)->check(positive);
}

// A program's work after its options are parsed: what it throws (perceptual::Error, or e.g. a
// malformed number from std::stod) becomes "program: error: what" on stderr and exit status 1.
template <class Body>
int report_errors(const std::string& program, Body&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program.c_str(), e.what());
    return 1;
  }
}

}  // namespace perceptual::app
