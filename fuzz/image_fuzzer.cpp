// libFuzzer target: io::read_image<float> on any bytes, as the programs read images (stb_image
// underneath, instrumented in this build), with a pixel limit of 2^16: the limit is what keeps a
// header claiming a huge image from allocating (at the default, 2^28, an accepted image may take
// 3 GiB, past libFuzzer's memory limit), and every decoder path is reached at 256x256; larger
// images only make each run slower (stb fills a truncated JPEG's missing pixels).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "perceptual/core/error.hpp"
#include "perceptual/io/image.hpp"

using namespace perceptual;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::InputFile input("input.img");
  constexpr io::ImageLimits limits{.max_pixels = std::int64_t{1} << 16};
  const auto& path = input.write(data, size);
  try {
    const auto image = io::read_image<float>(path, limits);
    fuzz::require(image.n() == 1 && image.c() == 3 && image.h() > 0 && image.w() > 0, "the image is 1x3xHxW");
    fuzz::require(static_cast<std::int64_t>(image.h()) * image.w() <= limits.max_pixels,
                  "the image is within the limit");
    for (const float v : image.to_host()) fuzz::require(v >= 0.0f && v <= 255.0f, "values are in [0, 255]");
  } catch (const Error& e) {
    fuzz::require(std::string(e.what()).find(path.string()) != std::string::npos, "the error names the file");
  }
  return 0;
}
