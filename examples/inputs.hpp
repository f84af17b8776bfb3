#pragma once
// The image arguments of the inference programs (stylize, super_resolve): files, and folders whose
// .jpg/.jpeg/.png/.bmp files (sorted, not recursive) are taken; and the loop that transforms each
// and writes it. A named file that cannot be read is an error; a folder's unreadable files are skipped.
// Also --max-pixels, the option of every program that reads images.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/core/error.hpp"
#include "perceptual/io/image.hpp"
#include "perceptual/train/data.hpp"

namespace perceptual::examples {

// --max-pixels N, the option of every program that reads images: the largest image (width x height)
// it decodes, checked from each file's header before decoding. Applied when parsed, as the
// default of io::read_image (io::set_default_image_limits).
inline CLI::Option* add_max_pixels_option(CLI::App& app) {
  const std::string help =
      "largest image to read, in pixels (width x height), checked from the file's header before decoding (default " +
      std::to_string(io::ImageLimits::default_max_pixels) + " = 16384x16384)";
  const auto apply = [](std::int64_t n) { io::set_default_image_limits({.max_pixels = n}); };
  const auto positive = CLI::Range(std::int64_t{1}, std::numeric_limits<std::int64_t>::max()).description("POSITIVE");
  return app.add_option_function<std::int64_t>("--max-pixels", apply, help)->check(positive);
}

struct InputImage {
  std::filesystem::path path;
  bool from_folder;  // unreadable files found in a folder are skipped, named ones are errors
};

// FileError for an input that is neither a file nor a folder; a folder without images is reported
// on stderr, prefixed by `program`.
inline std::vector<InputImage> collect_images(const std::vector<std::string>& inputs, const char* program) {
  namespace fs = std::filesystem;
  std::vector<InputImage> images;
  for (const auto& input : inputs) {
    const fs::path p(input);
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> found;
      for (const auto& entry : fs::directory_iterator(p, ec))
        if (entry.is_regular_file() && train::is_image_file(entry.path())) found.push_back(entry.path());
      if (ec) throw FileError(input + ": cannot list the folder: " + ec.message());
      std::sort(found.begin(), found.end());
      if (found.empty()) std::fprintf(stderr, "%s: %s: no .jpg, .png or .bmp files\n", program, input.c_str());
      for (auto& f : found) images.push_back({std::move(f), true});
    } else if (fs::exists(p, ec)) {
      images.push_back({p, false});
    } else {
      throw FileError(input + ": no such file or folder");
    }
  }
  return images;
}

// What transform_images passes to `transform` at once: up to `images` consecutive inputs of one
// size, stacked along N, as long as the stack holds at most `pixels` pixels (so that a batch never
// needs more memory than one image of that many pixels). {1, 0}: one image at a time.
struct Batching {
  int images = 1;
  std::int64_t pixels = 0;
  bool admits(int count, const Tensor<float, Cpu>& image) const {
    return count < images && static_cast<std::int64_t>(count + 1) * image.h() * image.w() <= pixels;
  }
};

namespace detail {

// Image i (1xCxHxW) of an NxCxHxW batch, or the images stacked into one.
inline Tensor<float, Cpu> image_of(const Tensor<float, Cpu>& batch, int i) {
  Tensor<float, Cpu> x({1, batch.c(), batch.h(), batch.w()}, uninitialized);
  std::copy_n(batch.data() + i * x.size(), x.size(), x.data());
  return x;
}
inline Tensor<float, Cpu> stack(const std::vector<Tensor<float, Cpu>>& images) {
  const Shape4 s = images.front().shape();
  Tensor<float, Cpu> batch({static_cast<int>(images.size()), s.c, s.h, s.w}, uninitialized);
  for (std::size_t i = 0; i < images.size(); ++i) std::copy_n(images[i].data(), s.size(), batch.data() + i * s.size());
  return batch;
}

}  // namespace detail

// Reads each input image (1x3xHxW in [0, 255]), applies `transform` to it (to an Nx3xHxW stack of
// images of one size, as `batching` allows) and writes each result as
// output_dir/<name><suffix>.<format> (output_dir created if needed; never over an input, never twice
// in one run), printing a line per image with the time of `transform` alone (a batch's shared out),
// and the mean time. Returns the exit status: 1 when a named input failed or no image was done.
template <class Transform>
int transform_images(const char* program, const std::vector<std::string>& inputs,
                     const std::filesystem::path& output_dir, const std::string& suffix, const std::string& format,
                     Batching batching, Transform transform) {
  const auto images = collect_images(inputs, program);
  std::error_code ec;
  std::filesystem::create_directories(output_dir, ec);
  if (!std::filesystem::is_directory(output_dir, ec))
    throw FileError("output folder " + output_dir.string() + " cannot be created");
  int failures = 0, done = 0;
  double total_seconds = 0;
  std::set<std::filesystem::path> written;
  const auto fail = [&](const InputImage& image, const Error& e) {
    if (!image.from_folder) ++failures;
    std::fprintf(stderr, "%s: %s: %s\n", program, image.from_folder ? "skipped" : "error", e.what());
  };
  // Images read and waiting for their batch to run: the input, where its result goes, the pixels.
  struct Pending {
    const InputImage* image;
    std::filesystem::path out;
    Tensor<float, Cpu> x;
  };
  std::vector<Pending> batch;
  const auto run_batch = [&] {
    if (batch.empty()) return;
    const int n = static_cast<int>(batch.size());
    try {
      std::vector<Tensor<float, Cpu>> xs;
      for (auto& p : batch) xs.push_back(std::move(p.x));
      const Tensor<float, Cpu> x = n == 1 ? std::move(xs.front()) : detail::stack(xs);
      const auto start = std::chrono::steady_clock::now();
      const Tensor<float, Cpu> y = transform(x);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      for (int i = 0; i < n; ++i) {
        const Pending& p = batch[static_cast<std::size_t>(i)];
        try {
          io::write_image(n == 1 ? y : detail::image_of(y, i), p.out);
          total_seconds += seconds / n;
          ++done;
          std::fprintf(stderr, "%s: %s (%dx%d) -> %s (%dx%d) in %.2f s", program, p.image->path.string().c_str(), x.w(),
                       x.h(), p.out.string().c_str(), y.w(), y.h(), seconds / n);
          if (n > 1) std::fprintf(stderr, " (one of a batch of %d, %.2f s)", n, seconds);
          std::fputc('\n', stderr);
        } catch (const Error& e) {
          fail(*p.image, e);
        }
      }
    } catch (const Error& e) {
      for (const auto& p : batch) fail(*p.image, e);
    }
    batch.clear();
  };
  for (const auto& image : images) {
    const auto out = output_dir / (image.path.stem().string() + suffix + "." + format);
    try {
      // An empty suffix (or a folder of results given back as input) must not replace an input, nor
      // may two inputs with one stem (a.jpg, a.png) write one output.
      if (std::filesystem::exists(out, ec) && std::filesystem::equivalent(out, image.path, ec))
        throw FileError(out.string() +
                        " is this input: writing it would replace it (use another --output-dir or --suffix)");
      if (!written.insert(out).second)
        throw FileError(out.string() + " was already written for another input of the same name in this run");
      Tensor<float, Cpu> x = io::read_image<float>(image.path);
      if (!batch.empty() &&
          (x.shape() != batch.front().x.shape() || !batching.admits(static_cast<int>(batch.size()), x)))
        run_batch();
      batch.push_back({&image, out, std::move(x)});
    } catch (const Error& e) {
      fail(image, e);
    }
  }
  run_batch();
  if (done > 1) std::fprintf(stderr, "%s: %d images, %.2f s per image\n", program, done, total_seconds / done);
  if (done == 0 && failures == 0) std::fprintf(stderr, "%s: no images\n", program);
  return failures > 0 || done == 0 ? 1 : 0;
}

}  // namespace perceptual::examples
