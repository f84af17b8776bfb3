#pragma once
// The images a program takes: files, and folders whose .jpg/.jpeg/.png/.bmp files are taken (sorted;
// subfolders too when asked); the loop that transforms each and writes it (stylize, super_resolve);
// and the square test images of the benchmarks. A named file that cannot be read is an error; a
// folder's unreadable files are skipped.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "perceptual/app/options.hpp"
#include "perceptual/app/timing.hpp"
#include "perceptual/backend/cpu/conv.hpp"
#include "perceptual/core/error.hpp"
#include "perceptual/dist/communicator.hpp"
#include "perceptual/io/image.hpp"
#include "perceptual/train/data.hpp"

namespace perceptual::app {

struct InputImage {
  std::filesystem::path path;
  bool from_folder;  // unreadable files found in a folder are skipped, named ones are errors
};

// The images that `inputs` name: files as given, and each folder's image files (its subfolders' too
// when `recursive`). FileError for an input that is neither a file nor a folder; a folder without
// images is reported on stderr, prefixed by `program`.
inline std::vector<InputImage> collect_images(const std::vector<std::string>& inputs, const std::string& program,
                                              bool recursive = false) {
  namespace fs = std::filesystem;
  std::vector<InputImage> images;
  for (const auto& input : inputs) {
    const fs::path p(input);
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      const auto found = train::list_image_files(p, recursive);
      if (found.empty()) std::fprintf(stderr, "%s: %s: no .jpg, .png or .bmp files\n", program.c_str(), input.c_str());
      for (const auto& f : found) images.push_back({f, true});
    } else if (fs::exists(p, ec)) {
      images.push_back({p, false});
    } else {
      throw FileError(input + ": no such file or folder");
    }
  }
  return images;
}

// What a program that transforms images (stylize, super_resolve) is told: its model file, the
// inputs, and where and how the results are written.
struct TransformFlags {
  std::string model, output_dir = ".", format = "png", suffix;
  std::vector<std::string> inputs;
  bool suffix_given = false;  // --suffix on the command line ("" for none); else the program's own
  std::string suffix_or(const std::string& program_default) const { return suffix_given ? suffix : program_default; }
};

// --model (`model_help`), the inputs (`inputs_help`), --output-dir, --suffix (its default said by
// `suffix_help`), --format and --max-pixels.
inline void add_transform_flags(CLI::App& cli, TransformFlags& f, const std::string& model_help,
                                const std::string& inputs_help, const std::string& suffix_help) {
  add_input_file(cli, "--model,-m", f.model, model_help);
  cli.add_option("inputs", f.inputs, inputs_help + " (JPEG/PNG/BMP) and folders of them")->required();
  cli.add_option("--output-dir,-o", f.output_dir, "folder for the results (created if needed)")->capture_default_str();
  cli.add_option_function<std::string>(
      "--suffix",
      [&f](const std::string& s) {
        f.suffix = s;
        f.suffix_given = true;
      },
      "added to each output's name (default: " + suffix_help + "; \"\" for none)");
  cli.add_option("--format", f.format, "output format")->capture_default_str()->check(CLI::IsMember({"png", "jpg"}));
  add_max_pixels_option(cli);  // applied when parsed (io::set_default_image_limits)
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
// and the mean time. Over the ranks of `comm`, rank r takes the inputs r, r + N, r + 2N, ... of the
// one sorted list every rank makes, and the counts and the mean are all ranks'. `large(in, out)`,
// when given, is asked first for each image: it returns true when it wrote `out` itself (an image
// run band by band, app/tiled.hpp), false for the usual way. Returns the exit status (the same on
// every rank): 1 when a named input failed or no image was done.
template <class Transform>
int transform_images(
    const std::string& program_name, const TransformFlags& flags, const std::string& suffix, Batching batching,
    Transform transform, dist::Communicator& comm = dist::alone(),
    const std::function<bool(const std::filesystem::path&, const std::filesystem::path&)>& large = {}) {
  const char* program = program_name.c_str();
  const auto images = collect_images(flags.inputs, program_name);
  const std::filesystem::path output_dir(flags.output_dir);
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
      const auto start = Clock::now();
      const Tensor<float, Cpu> y = transform(x);
      const double seconds = seconds_since(start);
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
  for (std::size_t i = 0; i < images.size(); ++i) {
    const InputImage& image = images[i];
    const auto out = output_dir / (image.path.stem().string() + suffix + "." + flags.format);
    // Every rank keeps the list of outputs, so that the input that would write one twice is known
    // to the rank that has it.
    const bool repeated = !written.insert(out).second;
    if (static_cast<int>(i % static_cast<std::size_t>(comm.size())) != comm.rank()) continue;
    try {
      // An empty suffix (or a folder of results given back as input) must not replace an input, nor
      // may two inputs with one stem (a.jpg, a.png) write one output.
      if (std::filesystem::exists(out, ec) && std::filesystem::equivalent(out, image.path, ec))
        throw FileError(out.string() +
                        " is this input: writing it would replace it (use another --output-dir or --suffix)");
      if (repeated)
        throw FileError(out.string() + " was already written for another input of the same name in this run");
      if (large) {
        const auto start = Clock::now();
        if (large(image.path, out)) {
          total_seconds += seconds_since(start);
          ++done;
          std::fprintf(stderr, "%s: %s -> %s band by band in %.1f s\n", program, image.path.string().c_str(),
                       out.string().c_str(), seconds_since(start));
          continue;
        }
      }
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
  std::vector<double> counts{static_cast<double>(done), static_cast<double>(failures), total_seconds};
  comm.sum(counts);
  done = static_cast<int>(counts[0]);
  failures = static_cast<int>(counts[1]);
  if (comm.root()) {
    if (done > 1) std::fprintf(stderr, "%s: %d images, %.2f s per image\n", program, done, counts[2] / done);
    if (done == 0 && failures == 0) std::fprintf(stderr, "%s: no images\n", program);
  }
  return failures > 0 || done == 0 ? 1 : 0;
}

// The top-left h x w of each image of x (an image's own size when a network gave back more).
inline Tensor<float, Cpu> crop_top_left(const Tensor<float, Cpu>& x, int h, int w) {
  if (x.h() == h && x.w() == w) return x;
  if (h > x.h() || w > x.w())
    throw ShapeError("crop_top_left: " + std::to_string(h) + "x" + std::to_string(w) + " of " + to_string(x.shape()));
  Tensor<float, Cpu> y({x.n(), x.c(), h, w}, uninitialized);
  const float* from = x.data();
  float* to = y.data();
  if (!from || !to) return y;  // nothing to copy
  for (int p = 0; p < x.n() * x.c(); ++p)
    for (int i = 0; i < h; ++i)
      std::copy_n(from + (static_cast<std::size_t>(p) * x.h() + i) * x.w(), w,
                  to + (static_cast<std::size_t>(p) * h + i) * w);
  return y;
}

// Reflection-pads the bottom and right to multiples of `m` (a style network then gives the size back).
inline Tensor<float, Cpu> pad_to_multiple(const Tensor<float, Cpu>& x, int m) {
  const int ph = (m - x.h() % m) % m, pw = (m - x.w() % m) % m;
  if (ph == 0 && pw == 0) return x;
  if (ph >= x.h() || pw >= x.w())
    throw ShapeError("image " + to_string(x.shape().spatial()) + " is too small to pad to a multiple of " +
                     std::to_string(m));
  return reflect_pad(x, 0, ph, 0, pw);
}

// A smooth deterministic 1x3xHxW test image in [0, 255] (for timings without image files).
inline Tensor<float, Cpu> synthetic_image(int h, int w, int variant) {
  Tensor<float, Cpu> x({1, 3, h, w});
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < w; ++j)
        x.data()[(static_cast<std::size_t>(c) * h + i) * w + j] = static_cast<float>(
            127.5 + 100 * std::sin((i + 7.0 * variant) / (9.0 + 2 * c)) * std::cos((j - 5.0 * variant) / (13.0 - c)));
  return x;
}

// The image at `path` as 1x3xSxS (shorter side scaled to S, centre crop: the training protocol),
// or the synthetic image `variant` when path is empty.
inline Tensor<float, Cpu> square_image(const std::string& path, int size, int variant) {
  return path.empty() ? synthetic_image(size, size, variant) : train::load_square_image(path, size);
}

}  // namespace perceptual::app
