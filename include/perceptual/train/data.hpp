#pragma once
// The training-data pipeline: ImageDataset (the image files of one or more folders, recursively,
// sorted) and BatchLoader (Nx3xSxS float batches decoded by background threads: centre crops for
// style training, or random crops with their degraded low-resolution inputs for super-resolution).
// Batch k holds the images at stream positions k*N ... k*N+N-1, where the stream is the dataset in
// a fresh shuffle per epoch seeded by (seed, epoch), and a random crop's place is drawn from
// (seed, position): its content depends only on (seed, k), never on thread timing, so a run
// resumed at batch k sees what an uninterrupted run would have.
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/host.hpp"
#include "perceptual/core/tensor.hpp"
#include "perceptual/dist/communicator.hpp"
#include "perceptual/io/image.hpp"
#include "perceptual/io/resample.hpp"

namespace perceptual::train {

// JPEG, PNG or BMP by extension (.jpg, .jpeg, .png, .bmp, any case).
inline bool is_image_file(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

// The image files in `folder` (by is_image_file), and in its subfolders when `recursive` (symlinked
// folders not followed), sorted by path so that the order does not depend on the file system.
// FileError when the folder cannot be listed.
inline std::vector<std::filesystem::path> list_image_files(const std::filesystem::path& folder, bool recursive) {
  namespace fs = std::filesystem;
  std::vector<fs::path> found;
  std::error_code ec;
  const auto take = [&](const fs::directory_entry& entry) {
    if (entry.is_regular_file(ec) && is_image_file(entry.path())) found.push_back(entry.path().lexically_normal());
  };
  if (recursive)
    for (auto it = fs::recursive_directory_iterator(folder, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      take(*it);
  else
    for (auto it = fs::directory_iterator(folder, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
      take(*it);
  if (ec) throw FileError(folder.string() + ": cannot list the folder: " + ec.message());
  std::sort(found.begin(), found.end());
  return found;
}

// The image files under one or more folders, searched recursively (list_image_files). A folder
// named twice contributes its files once (paths compared as written, normalised).
class ImageDataset {
 public:
  explicit ImageDataset(const std::vector<std::filesystem::path>& folders) {
    namespace fs = std::filesystem;
    if (folders.empty()) throw ArgumentError("ImageDataset: no folders given");
    std::set<fs::path> found;
    for (const auto& folder : folders) {
      std::error_code ec;
      if (!fs::is_directory(folder, ec)) throw FileError("ImageDataset: " + folder.string() + ": not a folder");
      for (auto& file : list_image_files(folder, true)) found.insert(std::move(file));
    }
    if (found.empty()) {
      std::string names;
      for (const auto& f : folders) names += (names.empty() ? "" : ", ") + f.string();
      throw FileError("ImageDataset: no .jpg, .jpeg, .png or .bmp files in " + names);
    }
    files_.assign(found.begin(), found.end());
  }

  std::size_t size() const { return files_.size(); }
  const std::filesystem::path& file(std::size_t i) const { return files_.at(i); }
  const std::vector<std::filesystem::path>& files() const { return files_; }

 private:
  std::vector<std::filesystem::path> files_;
};

namespace detail {

// The 1x3xSxS block of a 1x3xHxW image whose top-left pixel is (top, left); the caller keeps it inside.
inline Tensor<float, Cpu> crop_square(const Tensor<float, Cpu>& image, int top, int left, int size) {
  Tensor<float, Cpu> out({1, 3, size, size});
  const int h = image.h(), w = image.w();
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < size; ++i)
      std::copy_n(image.data() + (static_cast<std::size_t>(c) * h + top + i) * w + left, size,
                  out.data() + (static_cast<std::size_t>(c) * size + i) * size);
  return out;
}

// Reads an image and, when its shorter side is below `at_least` (or `exactly` is set), scales it
// (bicubic, antialiased when shrinking) so that its shorter side is `at_least`.
inline Tensor<float, Cpu> read_scaled(const std::filesystem::path& path, int at_least, bool exactly,
                                      const char* where) {
  if (at_least < 1)
    throw ArgumentError(std::string(where) + ": size " + std::to_string(at_least) + " must be positive");
  Tensor<float, Cpu> image = io::read_image<float>(path);
  if (!exactly && std::min(image.h(), image.w()) >= at_least) return image;
  const double s = static_cast<double>(at_least) / std::min(image.h(), image.w());
  const int h = std::max(at_least, static_cast<int>(std::lround(image.h() * s)));
  const int w = std::max(at_least, static_cast<int>(std::lround(image.w() * s)));
  if (h != image.h() || w != image.w()) image = io::resize_bicubic(image, h, w);
  return image;
}

}  // namespace detail

// Reads an image as 1x3xSxS in [0, 255]: scaled (bicubic, antialiased when shrinking) so that its
// shorter side is S, then the centre SxS crop. Johnson et al. squash every image to 256x256; the
// crop keeps the aspect ratio. Throws FileError from io::read_image for an unreadable file.
inline Tensor<float, Cpu> load_square_image(const std::filesystem::path& path, int size) {
  const Tensor<float, Cpu> image = detail::read_scaled(path, size, true, "load_square_image");
  return detail::crop_square(image, (image.h() - size) / 2, (image.w() - size) / 2, size);
}

// Reads an image as a 1x3xSxS crop in [0, 255] at its own resolution (the super-resolution
// targets: Johnson et al. take 288x288 patches), at a place drawn uniformly from `rng`. An image
// whose shorter side is below S is first scaled up to S (bicubic), which blurs the target: choose
// S no larger than the training images. Throws FileError from io::read_image for an unreadable file.
inline Tensor<float, Cpu> load_random_crop(const std::filesystem::path& path, int size, std::mt19937_64& rng) {
  const Tensor<float, Cpu> image = detail::read_scaled(path, size, false, "load_random_crop");
  // Modulo draws: fully specified by the standard, unlike uniform_int_distribution.
  const auto top = static_cast<int>(rng() % static_cast<std::uint64_t>(image.h() - size + 1));
  const auto left = static_cast<int>(rng() % static_cast<std::uint64_t>(image.w() - size + 1));
  return detail::crop_square(image, top, left, size);
}

struct LoaderOptions {
  enum class Crop { centre, random };

  int image_size = 256;
  int batch_size = 4;
  std::uint64_t seed = 0;
  bool shuffle = true;           // false: every epoch in sorted order
  int threads = 2;               // decoding threads; 0 decodes in next()'s caller
  int prefetch = 4;              // batches decoded ahead of the consumer
  std::int64_t first_batch = 0;  // the k of the first next(), to resume a run
  // centre: load_square_image (style training); random: load_random_crop, the place drawn from
  // (seed, stream position) (super-resolution training).
  Crop crop = Crop::centre;
  // > 0: each batch also holds its images degraded by io::sr_degrade (Gaussian blur of
  // lr_blur_sigma, bicubic x1/lr_factor, 8-bit rounding) as Batch::inputs; image_size must be a
  // multiple of it.
  int lr_factor = 0;
  double lr_blur_sigma = 1.0;
  // A data-parallel rank's share (dist::shard): the images [begin, end) of each global batch of
  // batch_size, the very images the whole batch has there. Empty: the whole batch.
  dist::Shard shard{};

  // The images a batch holds: the shard's, or batch_size.
  int images() const { return shard.size() > 0 ? shard.size() : batch_size; }
};

// This machine's physical memory in bytes (sysconf), or 0 when it cannot be told.
inline double physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
}

// How many batches a BatchLoader holds at once: the one its caller holds and, with threads, up to
// `prefetch` more decoded or being decoded.
inline int batches_in_flight(const LoaderOptions& o) {
  return 1 + (o.threads > 0 ? o.prefetch : 0);
}

// The bytes of those batches (N x 3 x S x S floats each, plus N x 3 x S/f x S/f inputs with
// lr_factor f): a lower bound on a training run's memory. A double, as it may pass 2^64.
inline double loader_memory_bytes(const LoaderOptions& o) {
  const double side = o.image_size, lr_side = o.lr_factor > 0 ? side / o.lr_factor : 0.0;
  const double batch = 3.0 * o.images() * (side * side + lr_side * lr_side) * sizeof(float);
  return batches_in_flight(o) * batch;
}

// "need 960.0 GiB, more than the 23.4 GiB of this machine's physical memory" when the batches a
// loader with these options holds at once cannot fit in memory, else "": for the error messages
// of BatchLoader and of programs, which name their options.
inline std::string loader_memory_excess(const LoaderOptions& o) {
  const double need = loader_memory_bytes(o), have = physical_memory_bytes();
  if (have <= 0 || need <= have) return "";
  const auto gib = [](double bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
    return std::string(buf);
  };
  return "need " + gib(need) + ", more than the " + gib(have) + " of this machine's physical memory";
}

struct Batch {
  std::int64_t index = 0;                    // k
  Tensor<float, Cpu> images;                 // N x 3 x S x S, values in [0, 255]
  Tensor<float, Cpu> inputs;                 // N x 3 x S/f x S/f, the degraded images (lr_factor f > 0)
  std::vector<std::filesystem::path> files;  // the images', in batch order
};

// Yields batches first_batch, first_batch + 1, ... An unreadable file is reported once on stderr
// (path and reason) and skipped: its slot takes the next readable file of the stream, so a batch
// may repeat an image of itself or of the next batch; this keeps batch k a function of (seed, k).
// A dataset with no readable file is a FileError, raised by next(). The destructor stops and joins
// the threads, also while they wait or when next() has thrown.
class BatchLoader {
 public:
  BatchLoader(const ImageDataset& dataset, LoaderOptions options) : dataset_(dataset), options_(options) {
    if (options_.image_size < 1 || options_.batch_size < 1 || options_.threads < 0 || options_.prefetch < 1 ||
        options_.first_batch < 0)
      throw ArgumentError("BatchLoader: image size " + std::to_string(options_.image_size) + ", batch size " +
                          std::to_string(options_.batch_size) + ", threads " + std::to_string(options_.threads) +
                          ", prefetch " + std::to_string(options_.prefetch) + ", first batch " +
                          std::to_string(options_.first_batch) +
                          "; expected sizes >= 1, threads >= 0, prefetch >= 1, first batch >= 0");
    if (options_.lr_factor < 0 || (options_.lr_factor > 0 && options_.image_size % options_.lr_factor != 0))
      throw ArgumentError("BatchLoader: image size " + std::to_string(options_.image_size) +
                          " is not a multiple of the low-resolution factor " + std::to_string(options_.lr_factor));
    // Stream positions k * N + j (and the skips past unreadable files) must fit in 64 bits.
    const std::int64_t last_first = std::numeric_limits<std::int64_t>::max() / 4 / options_.batch_size;
    if (options_.first_batch > last_first)
      throw ArgumentError("BatchLoader: first batch " + std::to_string(options_.first_batch) + " at batch size " +
                          std::to_string(options_.batch_size) + " is past the last one the 64-bit stream positions " +
                          "allow, " + std::to_string(last_first) + " (a corrupt checkpoint's iteration?)");
    if (const std::string excess = loader_memory_excess(options_); !excess.empty())
      throw ArgumentError("BatchLoader: the " + std::to_string(batches_in_flight(options_)) + " batches of " +
                          std::to_string(options_.batch_size) + "x3x" + std::to_string(options_.image_size) + "x" +
                          std::to_string(options_.image_size) + " floats it holds at once " + excess);
    if (options_.shard.size() > 0 && (options_.shard.begin < 0 || options_.shard.end > options_.batch_size))
      throw ArgumentError("BatchLoader: shard [" + std::to_string(options_.shard.begin) + ", " +
                          std::to_string(options_.shard.end) + ") is not within a batch of " +
                          std::to_string(options_.batch_size));
    next_ = claim_ = options_.first_batch;
    for (int i = 0; i < options_.threads; ++i) workers_.emplace_back([this] { work(); });
  }
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;
  ~BatchLoader() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    for (auto& t : workers_) t.join();
  }

  // The next batch in order; rethrows the error that building it raised.
  Batch next() {
    if (workers_.empty()) return make_batch(next_++);
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return ready_.contains(next_); });
    auto node = ready_.extract(next_);
    ++next_;
    lock.unlock();
    changed_.notify_all();  // a worker may wait for room in the queue
    if (node.mapped().error) std::rethrow_exception(node.mapped().error);
    return std::move(node.mapped().batch);
  }

  // Batch k, built in the calling thread (what the workers run).
  Batch make_batch(std::int64_t k) {
    const int n = options_.images(), first = options_.shard.size() > 0 ? options_.shard.begin : 0;
    const int s = options_.image_size, f = options_.lr_factor;
    Batch b{k, Tensor<float, Cpu>({n, 3, s, s}), {}, {}};
    if (f > 0) b.inputs = Tensor<float, Cpu>({n, 3, s / f, s / f});
    const std::size_t per = static_cast<std::size_t>(3) * s * s, per_input = f > 0 ? per / f / f : 0;
    const auto count = static_cast<std::int64_t>(dataset_.size());
    for (int j = 0; j < n; ++j) {
      std::int64_t position = k * options_.batch_size + first + j;
      for (std::int64_t tries = 0;; ++tries, ++position) {
        if (tries == 2 * count)  // two epochs' worth of positions hold one whole epoch
          throw FileError("BatchLoader: none of the " + std::to_string(count) +
                          " images could be read (first: " + dataset_.file(0).string() + ")");
        const auto& path = dataset_.file(file_at(position));
        if (known_bad(path)) continue;
        try {
          const auto image = load_image(path, position);
          std::copy_n(image.data(), per, b.images.data() + j * per);
          if (f > 0)
            std::copy_n(io::sr_degrade(image, f, options_.lr_blur_sigma).data(), per_input,
                        b.inputs.data() + j * per_input);
          b.files.push_back(path);
          break;
        } catch (const FileError& e) {
          report_bad(path, e.what());
        }
      }
    }
    return b;
  }

  // The dataset index at a stream position: epoch = position / size, shuffled by (seed, epoch).
  std::size_t file_at(std::int64_t position) {
    const auto count = static_cast<std::int64_t>(dataset_.size());
    const std::int64_t epoch = position / count, i = position % count;
    if (!options_.shuffle) return static_cast<std::size_t>(i);
    std::lock_guard lock(order_mutex_);
    auto it = orders_.find(epoch);
    if (it == orders_.end()) {
      if (orders_.size() >= 4) orders_.erase(orders_.begin());  // the loader moves forward only
      it = orders_.emplace(epoch, epoch_order(epoch)).first;
    }
    return it->second[static_cast<std::size_t>(i)];
  }

  const LoaderOptions& options() const { return options_; }

 private:
  struct Slot {
    Batch batch;
    std::exception_ptr error;
  };

  // The training image at a stream position, cropped as the options ask.
  Tensor<float, Cpu> load_image(const std::filesystem::path& path, std::int64_t position) const {
    if (options_.crop == LoaderOptions::Crop::centre) return load_square_image(path, options_.image_size);
    std::seed_seq seq{static_cast<std::uint32_t>(options_.seed), static_cast<std::uint32_t>(options_.seed >> 32),
                      static_cast<std::uint32_t>(position), static_cast<std::uint32_t>(position >> 32),
                      0x63726f70u};  // "crop": not the seed of an epoch's order
    std::mt19937_64 rng(seq);
    return load_random_crop(path, options_.image_size, rng);
  }

  // Fisher-Yates with mt19937_64 and a modulo draw, both fully specified (unlike std::shuffle and
  // uniform_int_distribution), so the order is the same with every standard library.
  std::vector<std::size_t> epoch_order(std::int64_t epoch) const {
    std::vector<std::size_t> order(dataset_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::seed_seq seq{static_cast<std::uint32_t>(options_.seed), static_cast<std::uint32_t>(options_.seed >> 32),
                      static_cast<std::uint32_t>(epoch), static_cast<std::uint32_t>(epoch >> 32)};
    std::mt19937_64 rng(seq);
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
    return order;
  }

  void work() {
    for (;;) {
      std::int64_t k;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return stop_ || claim_ < next_ + options_.prefetch; });
        if (stop_) return;
        k = claim_++;
      }
      Slot slot;
      try {
        slot.batch = make_batch(k);
      } catch (...) {
        slot.error = std::current_exception();
      }
      {
        std::lock_guard lock(mutex_);
        ready_.emplace(k, std::move(slot));
      }
      changed_.notify_all();
    }
  }

  bool known_bad(const std::filesystem::path& path) {
    std::lock_guard lock(bad_mutex_);
    return bad_.contains(path);
  }
  void report_bad(const std::filesystem::path& path, const std::string& reason) {
    std::lock_guard lock(bad_mutex_);
    // reason is read_image's message, which names the path.
    if (bad_.insert(path).second)
      std::fprintf(stderr, "BatchLoader: skipping an unreadable file: %s\n", reason.c_str());
  }

  const ImageDataset& dataset_;
  LoaderOptions options_;
  std::mutex mutex_;  // guards next_, claim_, ready_, stop_
  std::condition_variable changed_;
  std::int64_t next_ = 0, claim_ = 0;
  std::map<std::int64_t, Slot> ready_;
  bool stop_ = false;
  std::mutex order_mutex_;
  std::map<std::int64_t, std::vector<std::size_t>> orders_;
  std::mutex bad_mutex_;
  std::set<std::filesystem::path> bad_;
  std::vector<std::thread> workers_;  // last: started after everything they use exists
};

}  // namespace perceptual::train
