#pragma once
// Image files to and from 1x3xHxW RGB tensors with values in [0, 255], through stb_image (any
// format it reads; grey and alpha images become RGB) and stb_image_write (PNG or JPEG by extension).
#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "perceptual/backend/cpu/tensor.hpp"
#include "perceptual/core/error.hpp"
#include "perceptual/core/tensor.hpp"

namespace perceptual::io {

namespace detail {

inline std::string stb_reason() {
  const char* reason = stbi_failure_reason();
  return reason ? reason : "unknown reason";
}

inline std::string lower_extension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

}  // namespace detail

// Reads an image as a 1x3xHxW tensor, RGB, values in [0, 255] (16-bit PNGs keep their precision,
// scaled by 255/65535). Throws FileError naming the path and stb's reason.
template <std::floating_point T = float, class Backend = Cpu>
Tensor<T, Backend> read_image(const std::filesystem::path& path) {
  const std::string where = "read_image " + path.string() + ": ";
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) throw FileError(where + "no such file");
  if (!std::filesystem::is_regular_file(status)) throw FileError(where + "not a regular file");

  const std::string name = path.string();
  int w = 0, h = 0, channels_in_file = 0;
  const bool sixteen = stbi_is_16_bit(name.c_str()) != 0;
  void* pixels = sixteen ? static_cast<void*>(stbi_load_16(name.c_str(), &w, &h, &channels_in_file, 3))
                         : static_cast<void*>(stbi_load(name.c_str(), &w, &h, &channels_in_file, 3));
  if (!pixels) throw FileError(where + "cannot decode: " + detail::stb_reason());
  const std::unique_ptr<void, void (*)(void*)> owner(pixels, stbi_image_free);
  if (w <= 0 || h <= 0) throw FileError(where + "image has no pixels");

  const std::size_t plane = static_cast<std::size_t>(w) * static_cast<std::size_t>(h);
  std::vector<T> chw(3 * plane);
  for (std::size_t i = 0; i < plane; ++i)
    for (std::size_t c = 0; c < 3; ++c)
      chw[c * plane + i] =
          sixteen ? static_cast<T>(static_cast<const std::uint16_t*>(pixels)[3 * i + c] * (255.0 / 65535.0))
                  : static_cast<T>(static_cast<const std::uint8_t*>(pixels)[3 * i + c]);
  return Tensor<T, Backend>::from_host({1, 3, h, w}, chw);
}

// Writes a 1xCxHxW tensor (C = 3 RGB, or 1 grey) with values in [0, 255] (clamped, rounded to
// the nearest integer, NaN written as 0) as PNG (.png) or JPEG (.jpg, .jpeg, at jpeg_quality).
// Throws ShapeError for other shapes, ArgumentError for another extension or quality, FileError
// when the file cannot be written.
template <class T, class B>
void write_image(const Tensor<T, B>& image, const std::filesystem::path& path, int jpeg_quality = 95) {
  const std::string where = "write_image " + path.string() + ": ";
  if (image.n() != 1 || (image.c() != 1 && image.c() != 3) || image.h() <= 0 || image.w() <= 0)
    throw ShapeError(where + "image is " + to_string(image.shape()) + ", expected 1x3xHxW (RGB) or 1x1xHxW (grey)");
  const std::string ext = detail::lower_extension(path);
  const bool png = ext == ".png";
  if (!png && ext != ".jpg" && ext != ".jpeg")
    throw ArgumentError(where + "unknown extension \"" + ext + "\" (expected .png, .jpg or .jpeg)");
  if (!png && (jpeg_quality < 1 || jpeg_quality > 100))
    throw ArgumentError(where + "JPEG quality " + std::to_string(jpeg_quality) + " is outside 1..100");
  const auto parent = path.parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec))
    throw FileError(where + "directory " + parent.string() + " does not exist");

  const std::vector<T> chw = image.to_host();
  const int c = image.c(), h = image.h(), w = image.w();
  const std::size_t plane = image.shape().plane();
  std::vector<std::uint8_t> hwc(chw.size());
  for (std::size_t i = 0; i < plane; ++i)
    for (std::size_t k = 0; k < static_cast<std::size_t>(c); ++k) {
      const double v = static_cast<double>(chw[k * plane + i]);
      hwc[i * c + k] = std::isnan(v) ? 0 : static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
    }
  const std::string name = path.string();
  const int ok = png ? stbi_write_png(name.c_str(), w, h, c, hwc.data(), w * c)
                     : stbi_write_jpg(name.c_str(), w, h, c, hwc.data(), jpeg_quality);
  if (!ok) throw FileError(where + "cannot write the file (permissions, disk space?)");
}

}  // namespace perceptual::io
