#pragma once
// Exact tiled inference: a network's output for an image of any size in bounded memory, equal to
// the output of one forward pass over the whole image (within float rounding).
//
// Cutting the image into overlapping tiles and running the network on each is what other
// implementations offer, and it is not the network's output: every instance norm then normalises
// each tile with that tile's statistics, which leaves seams and colour shifts. Here the network runs
// layer by layer instead, each layer over the whole image in bands of rows:
//  - a band of a layer's output needs a band of its input plus a halo, read off the layer's type
//    (kernel, stride, padding): the layer's own forward pass runs on that band and the rows its
//    padding made up at the band's inner edges are cut off, so every kept row is exact;
//  - between layers the whole activation is kept, in memory or, when the budget has no room, in
//    an unnamed scratch file (tiled/store.hpp);
//  - an instance norm needs its input's mean and variance over the whole image: they are summed in
//    double, band by band in a fixed order (deterministic), while the layer before writes it, and
//    the norm (and what follows it up to the next convolution: ReLU, the residual's addition) is
//    applied as the next layer reads its bands, so it costs no pass of its own;
//  - a residual block's input is kept until the block's sum is read.
// Every value is computed once, except each band's halo (a few rows per layer), so the time is
// close to one forward pass. Band heights come from the memory budget (Options::max_memory), and
// Plan says before any work what the run will keep where, and refuses a budget too small for one
// band or a scratch folder without the room.
//
// The layers it knows: Conv2d and ConvTranspose2d (any stride and padding), Upsample, InstanceNorm,
// BatchNorm (in eval mode: a fixed affine map), ReLU, ScaledTanh, and the compositions Sequential,
// Residual, Repeat and Named. Another layer in a network is a compile error that names it. CPU
// backend, float, one image at a time.
#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/backend/cpu/parallel.hpp"
#include "perceptual/core/error.hpp"
#include "perceptual/core/grad_mode.hpp"
#include "perceptual/core/host_pool.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/layers/activation.hpp"
#include "perceptual/layers/compose.hpp"
#include "perceptual/layers/conv.hpp"
#include "perceptual/layers/norm.hpp"
#include "perceptual/layers/upsample.hpp"
#include "perceptual/tiled/store.hpp"

namespace perceptual::tiled {

using Band = Tensor<float, Cpu>;

// What a run may use and how it reports.
struct Options {
  // Bytes the process may hold at its peak, everything included (what /usr/bin/time -v calls the
  // maximum resident set size). 0: three quarters of the memory available now.
  std::size_t max_memory = 0;
  // Bytes the process holds besides the run: code, libraries, weights (default: its resident
  // memory when the plan is made, plus 64 MiB).
  std::optional<std::size_t> base_memory;
  // Where activations that do not fit go (default: the system's temporary folder).
  std::filesystem::path scratch_dir;
  // At most this many output rows per band (0: as many as the budget allows). Smaller bands cost
  // time, never memory: for tests that need many bands of a small image.
  int max_band_rows = 0;
  // Called after each band with the fraction of the work done (by multiply-adds) and the layer.
  std::function<void(double done, const std::string& layer)> progress;
};

// Three quarters of MemAvailable (/proc/meminfo), or 4 GiB where it cannot be read.
inline std::size_t default_max_memory() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::size_t kib = 0;
  while (meminfo >> key >> kib)
    if (key == "MemAvailable:") return kib * 1024 / 4 * 3;
  return std::size_t{4} << 30;
}

// The process's resident memory now (/proc/self/statm), 0 where it cannot be read.
inline std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// The rows [begin, end) of a layer's input from which its forward pass gives output rows [o0, o1)
// exactly: they are its output rows skip, skip + 1, ... when it runs on those rows alone.
struct InputRows {
  int begin, end, skip;
};

namespace detail {

constexpr int floor_div(int a, int b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}
constexpr int ceil_div(int a, int b) {
  return -floor_div(-a, b);
}

// A convolution reads input rows o * s - before ... o * s - before + K - 1 for output row o, with
// `before` its padding above (for Reflect, the reflected rows). On rows from a multiple of the
// stride, with the same padding above, its band output starts at global row begin / s. Same padding
// depends on the height (TensorFlow's arithmetic puts the odd pixel below): the band is made taller
// until its padding above is the image's. At least K rows, which a reflection also needs.
template <class L>
constexpr InputRows conv_rows(int o0, int o1, int h) {
  constexpr int k = L::kernel_size, s = L::stride;
  using P = typename L::padding;
  const auto before_for = [](int rows) {
    if constexpr (std::same_as<P, layers::Reflect>)
      return L::reflect;
    else
      return layers::detail::conv_axis<P>(rows, k, s).pad_before;
  };
  const int before = before_for(h);
  int begin = std::max(0, o0 * s - before) / s * s;
  int end = std::min(h, (o1 - 1) * s - before + k);
  end = std::max(end, std::min(h, begin + k));
  while (end - begin < k && begin > 0) begin = std::max(0, begin - s);
  while (end < h && before_for(end - begin) != before) ++end;
  return {begin, end, o0 - begin / s};
}

// A transposed convolution's output row o sums input rows i with o = i * s - before + t, t in [0, K).
template <class L>
constexpr InputRows conv_transpose_rows(int o0, int o1, int h) {
  constexpr int k = L::kernel_size, s = L::stride;
  const int before = layers::detail::conv_transpose_axis<typename L::padding>(h, k, s).pad_before;
  const int begin = std::min(std::max(0, ceil_div(o0 - k + 1 + before, s)), o0 / s);
  const int end = std::min(h, floor_div(o1 - 1 + before, s) + 1);
  return {begin, end, o0 - s * begin};
}

template <class L>
struct kind {
  static constexpr bool conv = false, conv_transpose = false, upsample = false, instance_norm = false,
                        batch_norm = false, pointwise = false, named = false, sequence = false, residual = false;
};
template <int I, int O, int K, class... Opts>
struct kind<layers::Conv2d<I, O, K, Opts...>> : kind<void> {
  static constexpr bool conv = true;
};
template <int I, int O, int K, class... Opts>
struct kind<layers::ConvTranspose2d<I, O, K, Opts...>> : kind<void> {
  static constexpr bool conv_transpose = true;
};
template <int F>
struct kind<layers::Upsample<F>> : kind<void> {
  static constexpr bool upsample = true;
};
template <int C, class... Opts>
struct kind<layers::InstanceNorm<C, Opts...>> : kind<void> {
  static constexpr bool instance_norm = true;
};
template <int C, class... Opts>
struct kind<layers::BatchNorm<C, Opts...>> : kind<void> {
  static constexpr bool batch_norm = true;
};
template <>
struct kind<layers::ReLU> : kind<void> {
  static constexpr bool pointwise = true;
};
template <double S, double O>
struct kind<layers::ScaledTanh<S, O>> : kind<void> {
  static constexpr bool pointwise = true;
};
template <layers::detail::FixedString N, class L>
struct kind<layers::Named<N, L>> : kind<void> {
  static constexpr bool named = true;
  using inner = L;
};
template <class... Ls>
struct kind<layers::Sequential<Ls...>> : kind<void> {
  static constexpr bool sequence = true;
};
template <int N, class L>
struct kind<layers::Repeat<N, L>> : kind<void> {
  static constexpr bool sequence = true;
};
template <class... Ls>
struct kind<layers::Residual<Ls...>> : kind<void> {
  static constexpr bool residual = true;
};

template <class L>
inline constexpr bool unknown_layer =
    !kind<L>::conv && !kind<L>::conv_transpose && !kind<L>::upsample && !kind<L>::instance_norm &&
    !kind<L>::batch_norm && !kind<L>::pointwise && !kind<L>::named && !kind<L>::sequence && !kind<L>::residual;

}  // namespace detail

// One layer of a network, flattened: what tiled inference needs to run it on bands.
struct Step {
  enum Kind { spatial, pointwise, instance_norm, residual_begin, residual_end };
  Step(Kind k, std::string n) : kind(k), name(std::move(n)) {}
  Kind kind;
  std::string name;
  int out_channels = 0;                                     // spatial; 0 for "the input's"
  std::function<Size2(Size2)> output_size;                  // spatial
  std::function<InputRows(int o0, int o1, int in_h)> rows;  // spatial
  std::function<Band(Band&&)> forward;                      // spatial, pointwise: the layer's own
  double multiply_adds = 0;                                 // spatial: per output value
  int halo = 0;                                             // spatial: kernel rows (for the budget)
  Tensor<float, Cpu> weight, bias;                          // instance norm
  double eps = 0;                                           // instance norm
};

// The steps of network `L` (its impl `m`), in the order its forward pass runs them. `m` must
// outlive them. Throws ArgumentError for a BatchNorm in training mode.
template <class L, class M>
void append_steps(std::vector<Step>& steps, M& m, const std::string& name = "") {
  using K = detail::kind<L>;
  static_assert(!detail::unknown_layer<L>,
                "tiled: this layer has no band arithmetic (known: Conv2d, ConvTranspose2d, Upsample, InstanceNorm, "
                "BatchNorm, ReLU, ScaledTanh, Sequential, Residual, Repeat, Named).");
  const auto own_forward = [&m](Band&& x) -> Band { return m.forward(std::move(x)); };
  const std::string shown = name.empty() ? L::name() : name;  // in errors and progress
  if constexpr (K::named) {
    using Inner = typename K::inner;
    const std::string label = L::name().substr(0, L::name().find(':'));
    append_steps<Inner>(steps, static_cast<typename Inner::template impl<Cpu, float>&>(m),
                        name.empty() ? label : name + "." + label);
  } else if constexpr (K::sequence) {
    m.visit([&](auto& child, auto tag) { append_steps<typename decltype(tag)::type>(steps, child, name); });
  } else if constexpr (K::residual) {
    steps.push_back(Step{Step::residual_begin, shown});
    m.visit([&](auto& body, auto tag) { append_steps<typename decltype(tag)::type>(steps, body, name); });
    steps.push_back(Step{Step::residual_end, shown});
  } else if constexpr (K::conv || K::conv_transpose || K::upsample) {
    Step s{Step::spatial, shown};
    s.out_channels = std::max(L::out_channels, 0);
    s.output_size = [](Size2 in) { return L::output_size(in); };
    s.forward = own_forward;
    if constexpr (K::upsample) {
      s.rows = [](int o0, int o1, int h) {
        return InputRows{o0 / L::factor, std::min(h, detail::ceil_div(o1, L::factor)), o0 % L::factor};
      };
      s.multiply_adds = 1;
      s.halo = 1;
    } else {
      if constexpr (K::conv)
        s.rows = [](int o0, int o1, int h) { return detail::conv_rows<L>(o0, o1, h); };
      else
        s.rows = [](int o0, int o1, int h) { return detail::conv_transpose_rows<L>(o0, o1, h); };
      s.multiply_adds = static_cast<double>(L::in_channels) * L::kernel_size * L::kernel_size /
                        (K::conv_transpose ? L::stride * L::stride : 1);
      s.halo = L::kernel_size;
    }
    steps.push_back(std::move(s));
  } else if constexpr (K::instance_norm) {
    Step s{Step::instance_norm, shown};
    s.weight = s.bias = Tensor<float, Cpu>({1, L::in_channels, 1, 1});
    fill(s.weight, 1.0f);
    s.eps = L::eps;
    for (auto& p : m.parameters()) (p.name == "weight" ? s.weight : s.bias) = p.value->share();
    steps.push_back(std::move(s));
  } else {
    if constexpr (K::batch_norm)
      if (m.training())
        throw ArgumentError("tiled inference: " + shown + " is in training mode (batch statistics); call eval()");
    Step s{Step::pointwise, shown};
    s.forward = own_forward;
    steps.push_back(std::move(s));
  }
}

// Per-channel mean and biased variance, summed band by band in double (Chan et al.'s pairwise
// update), in the order the bands come: the same result on every run.
class Moments {
 public:
  explicit Moments(int channels) : n_(0), mean_(channels), m2_(channels) {}
  // Rows [first, first + rows) of a 1 x C x H x W band. Each channel's sums in one thread, in one
  // order, about its first value (so that the sum of squares does not cancel).
  void add(const Band& band, int first, int rows) {
    const std::size_t plane = band.shape().plane(), count = static_cast<std::size_t>(rows) * band.w();
    const double nb = static_cast<double>(count), n = n_ + nb;
    std::vector<double> mean(mean_.size()), m2(mean_.size());
    PERCEPTUAL_PARALLEL_FOR_IF(count * band.c() >= cpu::detail::parallel_grain)
    for (int c = 0; c < band.c(); ++c) {
      const float* x = band.data() + c * plane + static_cast<std::size_t>(first) * band.w();
      const double shift = x[0];
      double s1 = 0, s2 = 0;
      for (std::size_t i = 0; i < count; ++i) {
        const double d = x[i] - shift;
        s1 += d;
        s2 += d * d;
      }
      mean[c] = shift + s1 / nb;
      m2[c] = std::max(0.0, s2 - s1 * s1 / nb);
    }
    for (std::size_t c = 0; c < mean.size(); ++c) {
      const double delta = mean[c] - mean_[c];
      mean_[c] += delta * nb / n;
      m2_[c] += m2[c] + delta * delta * n_ * nb / n;
    }
    n_ = n;
  }
  const std::vector<double>& mean() const { return mean_; }
  std::vector<double> variance() const {
    std::vector<double> v(m2_.size());
    for (std::size_t c = 0; c < v.size(); ++c) v[c] = m2_[c] / n_;
    return v;
  }

 private:
  double n_;
  std::vector<double> mean_, m2_;
};

// What a run keeps where, fixed before any work.
struct Budget {
  std::size_t max_memory = 0;   // the limit asked for
  std::size_t base = 0;         // the process before the run (code, weights, libraries)
  std::size_t min_band = 0;     // the smallest band the largest layer can run on
  std::size_t band_memory = 0;  // the most any band may need
  std::size_t peak_memory = 0;  // estimated: base + activations in memory + a band, twice (the pool keeps one)
  std::size_t peak_disk = 0;    // scratch bytes at once
  std::size_t activations = 0;  // activations kept between layers
  std::size_t on_disk = 0;      // of them, in scratch files
  long bands = 0;               // bands over all layers
  long fewest_bands = 0;        // of the layer cut into the fewest
  bool one_pass = false;        // every layer in one band, everything in memory
};

// Runs a network's steps over an image of a given size (see the top of this file).
class Runner {
 public:
  Runner(std::vector<Step> steps, int channels, Size2 size, Options options)
      : steps_(std::move(steps)), in_channels_(channels), size_(size), options_(std::move(options)) {
    if (channels < 1 || size.h < 1 || size.w < 1)
      throw ShapeError("tiled: input " + std::to_string(channels) + "x" + to_string(size) + " has no pixels");
    if (options_.max_memory == 0) options_.max_memory = default_max_memory();
    if (options_.scratch_dir.empty()) options_.scratch_dir = std::filesystem::temp_directory_path();
    plan();
  }

  const Budget& budget() const { return budget_; }
  Size2 output_size() const { return out_size_; }
  int output_channels() const { return out_channels_; }

  // The whole run: `input(r0, band)` fills input rows [r0, r0 + band.h()) (1 x C x rows x W), asked
  // for in order; `output(r0, band)` takes output rows in order.
  void run(const std::function<void(int, Band&)>& input, const std::function<void(int, const Band&)>& output) {
    NoGrad no_grad;
    dry_ = false;
    events_.clear();
    done_ = 0;
    // Freed tensors are kept for reuse up to one band's memory (the plan counts it), not 4 GiB.
    HostPool& pool = HostPool::instance();
    struct CacheLimit {
      HostPool& pool;
      std::size_t before;
      ~CacheLimit() {
        pool.set_max_cached_bytes(before);
        pool.release();
      }
    } limit{pool, pool.max_cached_bytes()};
    pool.release();
    pool.set_max_cached_bytes(budget_.band_memory);
    execute(&input, &output);
  }

 private:
  // An activation's rows, in memory or in a scratch file; during planning only its size.
  struct Stored {
    Stored(Runner* r, int i) : runner(r), id(i) {}
    Stored(const Stored&) = delete;
    Stored& operator=(const Stored&) = delete;
    ~Stored() { runner->events_.push_back({Event::free, id, 0}); }
    Runner* runner;
    int id;
    std::unique_ptr<RowStore> rows;
  };
  // An activation: stored rows, and the pointwise steps (norm, ReLU, a residual's addition) still
  // to apply to them as they are read. A residual block's input is read twice (`keep`): its
  // pending steps are applied in place by the first reader, rows [0, materialized) so far.
  struct Value {
    std::shared_ptr<Stored> store;
    int c = 0, h = 0, w = 0;
    std::vector<std::function<void(Band&, int)>> pending;
    bool keep = false;
    int materialized = 0;
    std::optional<Moments> moments;  // of the stored rows, when summed as they were written
  };
  using ValuePtr = std::shared_ptr<Value>;

  struct Event {
    enum Kind { alloc, free, band } kind;
    int id;
    std::size_t bytes;
  };

  // The plan: shapes and the smallest band of every layer, then a dry run at the bands the budget
  // allows that records each activation's lifetime and each band's memory, then which activations
  // live in memory (first come, while they fit beside the bands) and which in scratch files.
  void plan() {
    budget_.max_memory = options_.max_memory;
    budget_.base = options_.base_memory.value_or(resident_bytes() + (std::size_t{64} << 20));
    if (budget_.base >= budget_.max_memory)
      throw ArgumentError("tiled: a memory budget of " + mib(budget_.max_memory) +
                          " leaves nothing for the image: the program alone holds " + mib(budget_.base));
    const std::size_t room = budget_.max_memory - budget_.base;
    // The smallest band any layer can run on, then bands of up to a quarter of what is left.
    dry_ = true;
    band_limit_ = 0;
    execute(nullptr, nullptr);
    if (2 * min_band_ > room)  // a band, and as much kept for the next by the pool
      throw ArgumentError("tiled: a memory budget of " + mib(budget_.max_memory) + " is too small for one band of " +
                          min_band_layer_ + " (2 x " + mib(min_band_) + " beside the program's " + mib(budget_.base) +
                          "); give at least " + mib(budget_.base + 2 * min_band_));
    budget_.min_band = min_band_;
    // One band per layer where the whole pass fits beside the program; else bands of up to a
    // quarter of the room, the rest for activations kept in memory.
    for (const std::size_t limit : {std::numeric_limits<std::size_t>::max(), std::max(min_band_, room / 4)}) {
      band_limit_ = limit;
      events_.clear();
      budget_.bands = budget_.fewest_bands = 0;
      execute(nullptr, nullptr);
      place(room);
      budget_.one_pass = budget_.on_disk == 0 && single_bands_ && budget_.peak_memory <= budget_.max_memory;
      if (budget_.one_pass && options_.max_band_rows == 0) return;
    }
    check_disk();
  }

  void place(std::size_t room) {
    const std::size_t n = events_.size();
    std::vector<std::size_t> ram(n, 0), work(n, 0);
    std::vector<std::size_t> born(next_id_, 0), died(next_id_, n), bytes(next_id_, 0);
    for (std::size_t t = 0; t < n; ++t) {
      const Event& e = events_[t];
      if (e.kind == Event::alloc) born[e.id] = t, bytes[e.id] = e.bytes;
      if (e.kind == Event::free) died[e.id] = t;
      if (e.kind == Event::band) work[t] = e.bytes;
    }
    on_disk_.assign(next_id_, false);
    budget_.activations = budget_.on_disk = budget_.peak_disk = 0;
    budget_.band_memory = *std::max_element(work.begin(), work.end());
    for (int id = 0; id < next_id_; ++id) {
      budget_.activations += bytes[id];
      bool fits = true;
      // Beside a band in use and the freed tensors the pool keeps for the next (as much again).
      for (std::size_t t = born[id]; t < died[id] && fits; ++t)
        fits = ram[t] + bytes[id] + 2 * budget_.band_memory <= room;
      if (fits)
        for (std::size_t t = born[id]; t < died[id]; ++t) ram[t] += bytes[id];
      on_disk_[id] = !fits;
      if (!fits) budget_.on_disk += bytes[id];
    }
    std::size_t peak = 0, disk = 0;
    for (std::size_t t = 0; t < n; ++t) {
      const Event& e = events_[t];
      if (e.kind == Event::alloc && on_disk_[e.id]) disk += e.bytes;
      if (e.kind == Event::free && on_disk_[e.id]) disk -= bytes[e.id];
      budget_.peak_disk = std::max(budget_.peak_disk, disk);
      peak = std::max(peak, ram[t] + work[t]);
    }
    budget_.peak_memory = budget_.base + peak + budget_.band_memory;
  }

  void check_disk() const {
    if (budget_.peak_disk == 0) return;
    const std::uint64_t free = free_disk_bytes(options_.scratch_dir);
    if (budget_.peak_disk + (std::uint64_t{256} << 20) > free)
      throw FileError("tiled: the activations that do not fit the memory budget of " + mib(budget_.max_memory) +
                      " need " + mib(budget_.peak_disk) + " of scratch space in " + options_.scratch_dir.string() +
                      ", which has " + mib(free) + " free (give another scratch folder or more memory)");
  }

  static std::string mib(std::uint64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

  std::shared_ptr<Stored> make_store(int c, int h, int w) {
    const int id = dry_ ? next_id_++ : next_store_++;
    const std::size_t bytes = static_cast<std::size_t>(c) * h * w * sizeof(float);
    events_.push_back({Event::alloc, id, bytes});
    auto s = std::make_shared<Stored>(this, id);
    if (!dry_)
      s->rows = std::make_unique<RowStore>(c, h, w, on_disk_[id] ? options_.scratch_dir : std::filesystem::path{});
    return s;
  }
  ValuePtr make_value(int c, int h, int w) {
    auto v = std::make_shared<Value>();
    v->store = make_store(c, h, w);
    v->c = c, v->h = h, v->w = w;
    return v;
  }

  // Rows [r0, r1) of v with its pending steps applied (in place, for a value read again).
  Band read(Value& v, int r0, int r1) {
    if (v.keep && r0 > v.materialized && !v.pending.empty()) read(v, v.materialized, r0);
    Band b = v.store->rows->read(r0, r1);
    if (v.pending.empty()) return b;
    // A band of all rows shares the store, and the pending steps then apply in place: right for a
    // value read once, or kept, but not for one whose store another value reads too.
    if (b.is_shared() && v.store.use_count() > 1) b = rows_of(b, 0, b.h(), true);
    const int from = v.keep ? std::max(r0, v.materialized) : r0;
    if (from >= r1) return b;
    Band part = from == r0 ? std::move(b) : rows_of(b, from - r0, r1 - from);
    for (auto& p : v.pending) p(part, from);
    if (v.keep) {
      v.store->rows->write(from, part);
      v.materialized = r1;
      if (r1 == v.h) v.pending.clear();
    }
    if (from == r0) return part;
    const std::size_t plane = b.shape().plane(), part_plane = part.shape().plane();
    for (int c = 0; c < b.c(); ++c)
      std::copy_n(part.data() + c * part_plane, part_plane, b.data() + c * plane + (plane - part_plane));
    return b;
  }

  // Rows [first, first + count) of a band.
  static Band rows_of(const Band& b, int first, int count, bool copy = false) {
    if (first == 0 && count == b.h() && !copy) return b.share();
    Band out({1, b.c(), count, b.w()}, uninitialized);
    const std::size_t plane = b.shape().plane(), out_plane = out.shape().plane();
    for (int c = 0; c < b.c(); ++c)
      std::copy_n(b.data() + c * plane + static_cast<std::size_t>(first) * b.w(), out_plane,
                  out.data() + c * out_plane);
    return out;
  }

  // Bands of `rows` rows over `height`, or all at once.
  static std::vector<std::pair<int, int>> bands(int height, int rows) {
    std::vector<std::pair<int, int>> out;
    for (int r = 0; r < height; r += rows) out.push_back({r, std::min(height, r + rows)});
    return out;
  }

  // What one band of `rows` output rows of step s needs at once: the input rows as read (with a
  // residual's rows added), a padded copy, the layer's output and the copies into and out of
  // oneDNN's blocked layouts, whose channels come in blocks of 16 (measured against HostPool's peak
  // in tests/tiled/tiled_test.cpp). Float forward convolutions run on oneDNN, without im2col.
  static std::size_t band_bytes(const Step& s, const Value& in, int rows, int out_c, Size2 out) {
    const int mid = std::max(0, out.h / 2 - rows / 2);
    const InputRows r = s.rows(mid, std::min(out.h, mid + rows), in.h);
    const std::size_t in_bytes = static_cast<std::size_t>(r.end - r.begin) * in.c * in.w * sizeof(float);
    const std::size_t out_bytes = static_cast<std::size_t>(rows + r.skip + s.halo) * out_c * out.w * sizeof(float);
    const auto blocked = [](std::size_t bytes, int c) { return bytes / c * ((c + 15) / 16 * 16); };  // 16 a block
    return 3 * in_bytes + blocked(in_bytes, in.c) + 3 * out_bytes + blocked(out_bytes, out_c);
  }

  void progress(const std::string& layer, double multiply_adds) {
    done_ += multiply_adds;
    if (options_.progress) options_.progress(total_ > 0 ? done_ / total_ : 1.0, layer);
  }

  // A spatial step over value `in`, with the pointwise steps that follow it applied to each band
  // before it is stored, and the moments of what is stored summed when an instance norm comes next.
  ValuePtr spatial(const Step& s, std::span<const Step> then, Value& in, bool moments) {
    const Size2 out = s.output_size({in.h, in.w});
    const int out_c = s.out_channels > 0 ? s.out_channels : in.c;
    ValuePtr v = make_value(out_c, out.h, out.w);
    int rows = out.h;
    if (band_limit_ == 0) {  // planning: the smallest band
      const std::size_t one = band_bytes(s, in, 1, out_c, out);
      if (one > min_band_) min_band_ = one, min_band_layer_ = s.name;
    } else {
      int lo = 1, hi = out.h;  // the most rows within the limit
      while (lo < hi) {
        const int mid = lo + (hi - lo + 1) / 2;
        if (band_bytes(s, in, mid, out_c, out) <= band_limit_)
          lo = mid;
        else
          hi = mid - 1;
      }
      rows = options_.max_band_rows > 0 ? std::min(lo, options_.max_band_rows) : lo;
    }
    if (moments) v->moments.emplace(out_c);
    if (dry_) {
      if (rows < out.h) single_bands_ = false;
      for (const auto& [o0, o1] : bands(out.h, rows)) {
        events_.push_back({Event::band, -1, band_bytes(s, in, o1 - o0, out_c, out)});
        ++budget_.bands;
      }
      band_rows_.push_back(rows);
      const long count = (out.h + rows - 1) / rows;
      budget_.fewest_bands = budget_.fewest_bands == 0 ? count : std::min(budget_.fewest_bands, count);
      total_ += s.multiply_adds * out_c * out.h * out.w;
      return v;
    }
    rows = band_rows_[spatial_index_++];
    for (const auto& [o0, o1] : bands(out.h, rows)) {
      const InputRows r = s.rows(o0, o1, in.h);
      Band y = s.forward(read(in, r.begin, r.end));
      if (y.h() < r.skip + (o1 - o0))
        throw Error("tiled: " + s.name + " gave " + std::to_string(y.h()) + " rows for input rows " +
                    std::to_string(r.begin) + ".." + std::to_string(r.end) + ", expected at least " +
                    std::to_string(r.skip + o1 - o0));
      for (const Step& p : then) y = p.forward(std::move(y));  // pointwise: the rows cut off below too
      if (v->moments) v->moments->add(y, r.skip, o1 - o0);
      v->store->rows->write(o0, y, r.skip, o1 - o0);
      progress(s.name, s.multiply_adds * out_c * (o1 - o0) * out.w);
    }
    return v;
  }

  // Rows a copying pass over v takes at once: four copies of them in a quarter of the band limit.
  int copy_rows(const Value& v) const {
    const std::size_t row = std::size_t{4} * v.c * v.w * sizeof(float);
    return static_cast<int>(std::clamp<std::size_t>(band_limit_ / 4 / row, 1, static_cast<std::size_t>(v.h)));
  }

  // A copy of v with its pending steps applied, and its moments.
  ValuePtr materialize(Value& v) {
    ValuePtr out = make_value(v.c, v.h, v.w);
    const int rows = copy_rows(v);
    out->moments.emplace(v.c);
    if (dry_) {
      events_.push_back({Event::band, -1, std::size_t{4} * rows * v.c * v.w * sizeof(float)});
      return out;
    }
    for (const auto& [r0, r1] : bands(v.h, rows)) {
      const Band b = read(v, r0, r1);
      out->moments->add(b, 0, b.h());
      out->store->rows->write(r0, b);
    }
    return out;
  }

  void execute(const std::function<void(int, Band&)>* input, const std::function<void(int, const Band&)>* output) {
    next_store_ = 0;
    spatial_index_ = 0;
    if (dry_) next_id_ = 0, band_rows_.clear(), total_ = 0, single_bands_ = true;
    ValuePtr cur = make_value(in_channels_, size_.h, size_.w);
    const int io_rows =
        std::max(1, static_cast<int>((std::size_t{16} << 20) / (std::size_t{4} * in_channels_ * size_.w)));
    if (!dry_)
      for (const auto& [r0, r1] : bands(size_.h, io_rows)) {
        Band b({1, in_channels_, r1 - r0, size_.w}, uninitialized);
        (*input)(r0, b);
        cur->store->rows->write(r0, b);
      }
    std::vector<ValuePtr> residuals;
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      const Step& s = steps_[i];
      switch (s.kind) {
        case Step::spatial: {
          std::size_t j = i + 1;
          while (j < steps_.size() && steps_[j].kind == Step::pointwise) ++j;
          const bool norm_next = j < steps_.size() && steps_[j].kind == Step::instance_norm;
          cur = spatial(s, std::span(steps_).subspan(i + 1, j - i - 1), *cur, norm_next);
          i = j - 1;
          break;
        }
        case Step::pointwise:
          cur->pending.push_back([&s](Band& b, int) { b = s.forward(std::move(b)); });
          break;
        case Step::instance_norm: {
          if (!cur->pending.empty() || !cur->moments) cur = materialize(*cur);
          if (dry_) {
            cur->pending.push_back([](Band&, int) {});
            break;
          }
          using layers::detail::channel_tensor;
          const Tensor<float, Cpu> mean = channel_tensor<float, Cpu>(cur->moments->mean());
          const Tensor<float, Cpu> var = channel_tensor<float, Cpu>(cur->moments->variance());
          cur->pending.push_back([&s, mean, var](Band& b, int) {
            batch_norm_forward_inference(b, s.weight, s.bias, mean, var, s.eps, b, {});
          });
          break;
        }
        case Step::residual_begin:
          if (i + 1 < steps_.size() && steps_[i + 1].kind == Step::spatial) {
            cur->keep = true;  // the body's first layer applies its pending steps in place
            residuals.push_back(cur);
          } else {
            if (!cur->pending.empty()) cur = materialize(*cur);
            residuals.push_back(cur);
            auto view = std::make_shared<Value>(*cur);
            view->keep = false;
            cur = view;
          }
          break;
        case Step::residual_end: {
          ValuePtr x = std::move(residuals.back());  // no pending steps left: read whole, or copied
          residuals.pop_back();
          cur->pending.push_back([this, x](Band& b, int r0) {
            const Band add = read(*x, r0, r0 + b.h());
            axpy(b, 1.0f, add);
          });
          break;
        }
      }
    }
    out_size_ = {cur->h, cur->w};
    out_channels_ = cur->c;
    const int out_rows = std::max(1, static_cast<int>((std::size_t{16} << 20) / (std::size_t{4} * cur->c * cur->w)));
    if (dry_) {
      if (!cur->pending.empty()) events_.push_back({Event::band, -1, std::size_t{4} * out_rows * cur->c * cur->w * 4});
      return;
    }
    for (const auto& [r0, r1] : bands(cur->h, out_rows)) (*output)(r0, read(*cur, r0, r1));
  }

  std::vector<Step> steps_;
  int in_channels_;
  Size2 size_;
  Options options_;
  Budget budget_;
  Size2 out_size_{};
  int out_channels_ = 0;

  bool dry_ = true;
  std::vector<Event> events_;
  int next_id_ = 0, next_store_ = 0;
  std::vector<bool> on_disk_;
  std::vector<int> band_rows_;  // per spatial step, from planning
  std::size_t spatial_index_ = 0;
  std::size_t band_limit_ = 0, min_band_ = 0;
  std::string min_band_layer_;
  bool single_bands_ = true;
  double total_ = 0, done_ = 0;
};

// A Runner for a model's network over images of `size`.
template <class Net>
Runner runner(Model<Net, Cpu, float>& model, Size2 size, Options options = {}) {
  std::vector<Step> steps;
  append_steps<Net>(steps, model.module());
  return Runner(std::move(steps), Net::in_channels, size, std::move(options));
}

// The model's output for one image (1 x C x H x W), computed band by band within the budget.
template <class Net>
Tensor<float, Cpu> forward(Model<Net, Cpu, float>& model, const Tensor<float, Cpu>& x, Options options = {}) {
  if (x.n() != 1) throw ShapeError("tiled::forward: one image at a time, not " + to_string(x.shape()));
  Runner r = runner(model, x.shape().spatial(), std::move(options));
  Tensor<float, Cpu> y({1, r.output_channels(), r.output_size().h, r.output_size().w}, uninitialized);
  const auto copy_rows = [](const Band& from, int from_row, Band& to, int to_row, int rows) {
    for (int c = 0; c < from.c(); ++c)
      std::copy_n(from.data() + (static_cast<std::size_t>(c) * from.h() + from_row) * from.w(),
                  static_cast<std::size_t>(rows) * from.w(),
                  to.data() + (static_cast<std::size_t>(c) * to.h() + to_row) * to.w());
  };
  r.run([&](int r0, Band& b) { copy_rows(x, r0, b, 0, b.h()); },
        [&](int r0, const Band& b) { copy_rows(b, 0, y, r0, b.h()); });
  return y;
}

}  // namespace perceptual::tiled
