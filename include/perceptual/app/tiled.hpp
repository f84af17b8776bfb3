#pragma once
// stylize's and super_resolve's images too large for one pass in their memory budget
// (--max-memory): read a row at a time, run band by band (tiled/tiled.hpp), written a row at a
// time, with a progress bar. The result is the one pass's.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "perceptual/app/images.hpp"
#include "perceptual/app/progress.hpp"
#include "perceptual/core/error.hpp"
#include "perceptual/io/stream_image.hpp"
#include "perceptual/tiled/tiled.hpp"

namespace perceptual::app {

// "8G", "512M", "1.5GiB", "300000000": bytes (K, M, G, T, powers of 1024; an optional "iB" or "B").
// ArgumentError for anything else or for 0.
inline std::size_t parse_size(const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string unit = text.substr(used);
  for (const char* suffix : {"iB", "B"})
    if (unit.size() > std::string(suffix).size() - 1 && unit.ends_with(suffix) && unit != suffix) {
      unit.resize(unit.size() - std::string(suffix).size());
      break;
    }
  const std::string units = "KMGT";
  double scale = 1;
  if (unit.size() == 1 && units.find(static_cast<char>(std::toupper(unit[0]))) != std::string::npos)
    scale = std::pow(1024.0, 1 + static_cast<double>(units.find(static_cast<char>(std::toupper(unit[0])))));
  else if (!unit.empty())
    used = 0;
  if (used == 0 || !(value > 0) || value * scale > 1e18)
    throw ArgumentError("\"" + text + "\" is not a size (a positive number of bytes, or with K, M, G or T)");
  return static_cast<std::size_t>(value * scale);
}

// --max-memory and --scratch-dir.
struct TiledFlags {
  std::size_t max_memory = 0;  // 0: tiled::default_max_memory()
  std::string scratch_dir;     // empty: the output folder
};

inline void add_tiled_flags(CLI::App& cli, TiledFlags& f) {
  cli.add_option_function<std::string>(
         "--max-memory", [&f](const std::string& s) { f.max_memory = parse_size(s); },
         "memory the program may use at its peak, e.g. 8G (default: three quarters of the memory available, now " +
             std::to_string(tiled::default_max_memory() >> 20) +
             " MiB). An image whose forward pass needs more runs band by band (exact: the same output), keeping "
             "activations that do not fit in scratch files")
      ->type_name("SIZE");
  cli.add_option("--scratch-dir", f.scratch_dir,
                 "folder for the scratch files of images run band by band (default: the output folder; needs room "
                 "for the activations that do not fit the memory, checked before the run)")
      ->check(CLI::ExistingDirectory);
}

// What a program does around a network for one image: reflection padding of the input to a
// multiple (style networks), the output kept at the input's size times the network's scale or
// whole, and a last step on each band of output rows (`finish(y, x)`, x the input's rows when
// `finish_reads_input`).
struct TiledImage {
  int pad_multiple = 1;
  bool crop = true;
  std::function<Tensor<float, Cpu>(Tensor<float, Cpu>, const Tensor<float, Cpu>*)> finish;
  bool finish_reads_input = false;
  TiledFlags flags;
  std::string program;
  std::string refuse;  // when not empty: why an image that needs bands is an error (ArgumentError)
};

namespace detail {

// Rows of an image file, reflection-padded below and to the right to `padded` rows and `padded_w`
// columns, as the tiled runner asks for them (in order), as 1 x 3 x rows x W bands.
class PaddedRows {
 public:
  PaddedRows(const std::filesystem::path& path, int padded_w) : reader_(path), padded_w_(padded_w) {}
  int height() const { return reader_.height(); }
  int width() const { return reader_.width(); }
  void fill(int r0, Tensor<float, Cpu>& band) {
    const int h = reader_.height(), w = reader_.width();
    const std::size_t plane = band.shape().plane();
    for (int i = 0; i < band.h(); ++i) {
      const int r = r0 + i;
      const int source = r < h ? r : 2 * (h - 1) - r;  // below the image: reflected rows
      while (reader_.rows_read() <= source) {
        std::vector<float> row(3 * static_cast<std::size_t>(w));
        reader_.read_row(row.data());
        recent_.push_back(std::move(row));
        if (recent_.size() > 8) recent_.pop_front();
      }
      const auto& row = recent_[recent_.size() - 1 - (reader_.rows_read() - 1 - source)];
      for (int c = 0; c < 3; ++c) {
        float* to = band.data() + c * plane + static_cast<std::size_t>(i) * band.w();
        std::copy_n(row.data() + static_cast<std::size_t>(c) * w, w, to);
        for (int j = w; j < padded_w_; ++j) to[j] = to[2 * (w - 1) - j];
      }
    }
  }

 private:
  io::ImageRowReader reader_;
  int padded_w_;
  std::deque<std::vector<float>> recent_;  // the last rows read, for the reflection below
};

}  // namespace detail

// Runs `net` over the image file `in` band by band and writes `out`, when its budget has no room
// for one forward pass; returns false, having done nothing, when it has (the caller runs the pass).
template <class Net>
bool run_tiled(Model<Net, Cpu, float>& net, const std::filesystem::path& in, const std::filesystem::path& out,
               const TiledImage& how) {
  // An image that cannot be read, or that the network cannot take, goes the usual way, which says why.
  std::optional<detail::PaddedRows> probe;
  try {
    probe.emplace(in, 1);
  } catch (const FileError&) {
    return false;
  }
  const int m = how.pad_multiple;
  const int h = probe->height(), w = probe->width();
  const int padded_h = (h + m - 1) / m * m, padded_w = (w + m - 1) / m * m;
  if (padded_h - h >= h || padded_w - w >= w) return false;
  tiled::Options options;
  options.max_memory = how.flags.max_memory;
  options.scratch_dir =
      how.flags.scratch_dir.empty() ? out.parent_path() : std::filesystem::path(how.flags.scratch_dir);
  if (options.scratch_dir.empty()) options.scratch_dir = ".";
  Progress progress(how.program + ": " + in.filename().string(), 1000, 50);
  long shown = -1;
  options.progress = [&](double done, const std::string& layer) {
    const long now = std::lround(done * 1000);
    if (now != shown) progress.update(std::max(1L, now), layer);
    shown = now;
  };
  std::optional<tiled::Runner> planned;
  try {
    planned.emplace(tiled::runner(net, {padded_h, padded_w}, options));
  } catch (const ShapeError&) {
    return false;
  }
  tiled::Runner& runner = *planned;
  const tiled::Budget& b = runner.budget();
  if (b.one_pass) return false;
  if (!how.refuse.empty())
    throw ArgumentError(in.string() + " does not fit one pass in the memory budget: " + how.refuse);

  const Size2 net_out = runner.output_size();
  const int scale_h = net_out.h / padded_h, scale_w = net_out.w / padded_w;
  const int out_h = how.crop ? h * scale_h : net_out.h, out_w = how.crop ? w * scale_w : net_out.w;
  const auto mib = [](std::size_t bytes) { return std::to_string(bytes >> 20) + " MiB"; };
  std::fprintf(stderr,
               "%s: %s (%dx%d) does not fit one pass in %s: %ld bands, activations %s (%s of them in scratch files in "
               "%s), peak about %s\n",
               how.program.c_str(), in.string().c_str(), w, h, mib(b.max_memory).c_str(), b.bands,
               mib(b.activations).c_str(), mib(b.on_disk).c_str(), options.scratch_dir.string().c_str(),
               mib(b.peak_memory).c_str());

  detail::PaddedRows input(in, padded_w);
  std::optional<detail::PaddedRows> again;  // the input's rows beside the output's, for `finish`
  if (how.finish_reads_input) again.emplace(in, padded_w);
  io::ImageRowWriter writer(out, out_w, out_h);
  std::vector<float> row(3 * static_cast<std::size_t>(out_w));
  runner.run([&](int r0, Tensor<float, Cpu>& band) { input.fill(r0, band); },
             [&](int r0, const Tensor<float, Cpu>& band) {
               const int rows = std::min(band.h(), out_h - r0);
               if (rows <= 0) return;
               Tensor<float, Cpu> y = crop_top_left(band, rows, out_w);
               if (how.finish) {
                 std::optional<Tensor<float, Cpu>> x;
                 if (again) {
                   Tensor<float, Cpu> padded({1, 3, rows, padded_w}, uninitialized);
                   again->fill(r0, padded);
                   x = crop_top_left(padded, rows, out_w);
                 }
                 y = how.finish(std::move(y), x ? &*x : nullptr);
               }
               const std::size_t plane = y.shape().plane();
               for (int i = 0; i < rows; ++i) {
                 for (int c = 0; c < 3; ++c)
                   std::copy_n(y.data() + c * plane + static_cast<std::size_t>(i) * out_w, out_w,
                               row.data() + static_cast<std::size_t>(c) * out_w);
                 writer.write_row(row.data());
               }
             });
  writer.finish();
  return true;
}

}  // namespace perceptual::app
