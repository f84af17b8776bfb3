#pragma once
// cuDNN convolution plans: descriptors, the algorithm chosen (by cuDNN's heuristic or by
// cudnnFind*'s timing: ConvSearch) and its workspace, built once per (pass, type, shape, math,
// search) and cached for the process. Host code only (parses with g++).
// Uses cuDNN's legacy convolution API (deprecated in cuDNN 9 but present and warning-free unless
// CUDNN_WARN_DEPRECATED is defined); the graph API is the successor.
#include <algorithm>
#include <atomic>
#include <compare>
#include <concepts>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "perceptual/backend/cuda/bf16.hpp"
#include "perceptual/backend/cuda/handle.hpp"
#include "perceptual/backend/cuda/tensor.hpp"
#include "perceptual/core/conv_geometry.hpp"

namespace perceptual::cuda {

// How a convolution plan chooses its algorithm. `heuristic` (the default): cuDNN's ranking for
// the device and shape (cudnnGet*_v7), the same in every process, so a training run resumed from
// its checkpoint in a new process repeats the first one's arithmetic bit for bit. `measured`:
// cudnnFind* times each candidate once and the fastest is taken; often faster, but timing noise
// can choose another algorithm in another process (PyTorch's cudnn.benchmark, the same trade).
// Process-wide; plans are cached per choice, so switching takes effect on the next convolution.
enum class ConvSearch { heuristic, measured };

namespace detail {
inline std::atomic<ConvSearch>& conv_search_flag() {
  static std::atomic<ConvSearch> search{ConvSearch::heuristic};
  return search;
}
}  // namespace detail

inline void set_conv_search(ConvSearch search) noexcept {
  detail::conv_search_flag().store(search);
}
inline ConvSearch conv_search() noexcept {
  return detail::conv_search_flag().load();
}

}  // namespace perceptual::cuda

namespace perceptual::cuda::detail {

template <class T>
constexpr cudnnDataType_t cudnn_type() {
  static_assert(std::same_as<T, float> || std::same_as<T, double> || std::same_as<T, bf16>,
                "Cuda backend: scalars are float, double or bf16.");
  return std::same_as<T, float> ? CUDNN_DATA_FLOAT : std::same_as<T, double> ? CUDNN_DATA_DOUBLE : CUDNN_DATA_BFLOAT16;
}

using TensorDescriptor = UniqueHandle<cudnnTensorDescriptor_t, cudnnDestroyTensorDescriptor>;
using FilterDescriptor = UniqueHandle<cudnnFilterDescriptor_t, cudnnDestroyFilterDescriptor>;
using ConvDescriptor = UniqueHandle<cudnnConvolutionDescriptor_t, cudnnDestroyConvolutionDescriptor>;

inline TensorDescriptor tensor_descriptor(cudnnDataType_t type, int n, int c, int h, int w) {
  cudnnTensorDescriptor_t d = nullptr;
  PERCEPTUAL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d));
  TensorDescriptor owned(d);
  PERCEPTUAL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, type, n, c, h, w));
  return owned;
}

inline FilterDescriptor filter_descriptor(cudnnDataType_t type, int o, int c, int k) {
  cudnnFilterDescriptor_t d = nullptr;
  PERCEPTUAL_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d));
  FilterDescriptor owned(d);
  PERCEPTUAL_CUDNN_CHECK(cudnnSetFilter4dDescriptor(d, type, CUDNN_TENSOR_NCHW, o, c, k, k));
  return owned;
}

// The math a convolution of `type` may use. float: FMA only unless TF32 is switched on
// (set_tf32), since TF32 tensor cores round float32 inputs to 10 bits of mantissa and break parity
// with the CPU; cuDNN's DEFAULT math is the one that permits TF32 for float data (on Ampere and
// newer), as PyTorch's allow_tf32 uses it. double: FMA. bf16: tensor cores with float accumulation
// (cuDNN's PSEUDO_BFLOAT16_CONFIG).
inline cudnnMathType_t requested_math(cudnnDataType_t type, bool tf32) {
  if (type == CUDNN_DATA_BFLOAT16) return CUDNN_TENSOR_OP_MATH;
  return type == CUDNN_DATA_FLOAT && tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
}

// Whether an algorithm cuDNN offers with math `found` keeps to the math `requested`. FMA
// is a promise of exact float32 arithmetic, so only FMA results keep it; conversion (float data
// rounded to half precision for tensor cores) is never requested, so never taken.
inline bool math_allowed(cudnnMathType_t requested, cudnnMathType_t found) {
  if (found == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;
  return requested != CUDNN_FMA_MATH || found == CUDNN_FMA_MATH;
}

inline const char* math_name(cudnnMathType_t m) {
  switch (m) {
    case CUDNN_DEFAULT_MATH:
      return "default";
    case CUDNN_TENSOR_OP_MATH:
      return "tensor-op";
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION:
      return "tensor-op-conversion";
    case CUDNN_FMA_MATH:
      return "fma";
  }
  return "unknown";
}

// Cross-correlation (what the CPU backend computes) with the requested math; a plan replaces it
// with the math of the algorithm it chose. bf16 data accumulates in float.
inline ConvDescriptor conv_descriptor(cudnnDataType_t type, cudnnMathType_t math, int pad_h, int pad_w, int stride) {
  cudnnConvolutionDescriptor_t d = nullptr;
  PERCEPTUAL_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d));
  ConvDescriptor owned(d);
  const bool reduced = type == CUDNN_DATA_BFLOAT16;
  PERCEPTUAL_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(d, pad_h, pad_w, stride, stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                                         reduced ? CUDNN_DATA_FLOAT : type));
  PERCEPTUAL_CUDNN_CHECK(cudnnSetConvolutionMathType(d, math));
  return owned;
}

// A block from the caching allocator, held for as long as a plan lives.
class DeviceBlock {
 public:
  DeviceBlock() = default;
  explicit DeviceBlock(std::size_t bytes) {
    if (bytes == 0) return;
    device_ = context().device();
    p_ = CachingAllocator::instance().allocate(bytes, device_, bucket_);
  }
  DeviceBlock(const DeviceBlock&) = delete;
  DeviceBlock& operator=(const DeviceBlock&) = delete;
  DeviceBlock(DeviceBlock&& o) noexcept : p_(std::exchange(o.p_, nullptr)), bucket_(o.bucket_), device_(o.device_) {}
  DeviceBlock& operator=(DeviceBlock&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(bucket_, o.bucket_);
    std::swap(device_, o.device_);
    return *this;
  }
  ~DeviceBlock() {
    if (p_) CachingAllocator::instance().deallocate(p_, bucket_, device_);
  }
  void* get() const { return p_; }

 private:
  void* p_ = nullptr;
  std::size_t bucket_ = 0;
  int device_ = -1;
};

using ConvPass = ConvOp;  // core/conv_geometry.hpp

inline const char* pass_name(ConvPass pass) {
  return pass == ConvPass::forward ? "forward" : pass == ConvPass::backward_data ? "backward data" : "backward filter";
}

// A convolution as cuDNN sees it: its geometry with symmetric padding (pad_top both sides, pad_left
// both sides; conv.hpp's cudnn_geometry pads the input first where that would not do). The math
// and the search are part of the key, so that switching TF32 or the search builds (or finds) a
// plan of that kind instead of reusing the other.
struct ConvKey {
  ConvPass pass;
  cudnnDataType_t type;
  cudnnMathType_t math;
  ConvSearch search;
  ConvGeometry g;
  int device = 0;
  friend auto operator<=>(const ConvKey&, const ConvKey&) = default;
};

// The key of a convolution of T data under the current TF32 switch and search.
template <class T>
ConvKey conv_key(ConvPass pass, const ConvGeometry& g) {
  constexpr cudnnDataType_t type = cudnn_type<T>();
  return {pass, type, requested_math(type, tf32_enabled()), conv_search(), g};
}

inline std::string to_string(const ConvKey& key) {
  return std::string(pass_name(key.pass)) + " " + perceptual::to_string(key.g) + ", cuDNN data type " +
         std::to_string(static_cast<int>(key.type)) + ", " + math_name(key.math) + " math, " +
         (key.search == ConvSearch::measured ? "measured" : "heuristic") + " search";
}

// The first of cuDNN's candidates (ranked best first, by heuristic or by measured time) that
// succeeded, is deterministic and keeps to the key's math. Deterministic because training promises bit-identical
// resumption from a checkpoint, and the atomics-based algorithms (backward filter's ALGO_0 and
// ALGO_3, backward data's ALGO_0) sum in a different order every run. When none qualifies the
// plan is not built: CudaError naming the shape and every candidate, rather than a silently
// irreproducible or inexact run.
template <class Perf>
const Perf& choose(const std::vector<Perf>& results, const ConvKey& key) {
  for (const Perf& r : results)
    if (r.status == CUDNN_STATUS_SUCCESS && r.determinism == CUDNN_DETERMINISTIC && math_allowed(key.math, r.mathType))
      return r;
  std::string tried;
  for (const Perf& r : results)
    tried += (tried.empty() ? "" : "; ") + std::string("algorithm ") + std::to_string(static_cast<int>(r.algo)) + ": " +
             cudnnGetErrorString(r.status) + ", " +
             (r.determinism == CUDNN_DETERMINISTIC ? "deterministic" : "non-deterministic") + ", " +
             math_name(r.mathType) + " math";
  throw CudaError("cuDNN: no deterministic convolution algorithm of the requested math for " + to_string(key) +
                  " (cuDNN offered " + (tried.empty() ? std::string("none") : tried) + ")");
}

class ConvPlan {
 public:
  explicit ConvPlan(const ConvKey& key)
      : key_(key),
        x_(tensor_descriptor(key.type, key.g.n(), key.g.c(), key.g.in_h(), key.g.in_w())),
        w_(filter_descriptor(key.type, key.g.o(), key.g.c(), key.g.k())),
        conv_(conv_descriptor(key.type, key.math, key.g.pad_top(), key.g.pad_left(), key.g.stride())) {
    int out[4] = {};
    PERCEPTUAL_CUDNN_CHECK(cudnnGetConvolutionNdForwardOutputDim(conv_.get(), x_.get(), w_.get(), 4, out));
    y_ = tensor_descriptor(key.type, out[0], out[1], out[2], out[3]);
    cudnnHandle_t h = context().cudnn();
    int max_algos = 0, found = 0;
    std::size_t bytes = 0, needed = 0;
    // The candidates, best first: cuDNN's ranking (cudnnGet*_v7), or each run once on scratch
    // memory cuDNN allocates itself (cudnnFind*). Each comes with a math type of cuDNN's choosing:
    // the chosen one's is set on the descriptor below, since the algorithm alone does not tell
    // cuDNN whether to run its tensor-core kernel.
    if (key.pass == ConvPass::forward) {
      PERCEPTUAL_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max_algos));
      std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<std::size_t>(max_algos));
      if (key.search == ConvSearch::measured)
        PERCEPTUAL_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(h, x_.get(), w_.get(), conv_.get(), y_.get(),
                                                                    max_algos, &found, perf.data()));
      else
        PERCEPTUAL_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, x_.get(), w_.get(), conv_.get(), y_.get(),
                                                                      max_algos, &found, perf.data()));
      perf.resize(static_cast<std::size_t>(found));
      const auto& best = choose(perf, key);
      fwd_ = best.algo, algo_ = static_cast<int>(best.algo), bytes = best.memory, math_ = best.mathType;
      determinism_ = best.determinism;
      PERCEPTUAL_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_.get(), math_));
      PERCEPTUAL_CUDNN_CHECK(
          cudnnGetConvolutionForwardWorkspaceSize(h, x_.get(), w_.get(), conv_.get(), y_.get(), fwd_, &needed));
    } else if (key.pass == ConvPass::backward_data) {
      PERCEPTUAL_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max_algos));
      std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(static_cast<std::size_t>(max_algos));
      if (key.search == ConvSearch::measured)
        PERCEPTUAL_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(h, w_.get(), y_.get(), conv_.get(), x_.get(),
                                                                         max_algos, &found, perf.data()));
      else
        PERCEPTUAL_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, w_.get(), y_.get(), conv_.get(), x_.get(),
                                                                           max_algos, &found, perf.data()));
      perf.resize(static_cast<std::size_t>(found));
      const auto& best = choose(perf, key);
      bwd_data_ = best.algo, algo_ = static_cast<int>(best.algo), bytes = best.memory, math_ = best.mathType;
      determinism_ = best.determinism;
      PERCEPTUAL_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_.get(), math_));
      PERCEPTUAL_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(h, w_.get(), y_.get(), conv_.get(), x_.get(),
                                                                          bwd_data_, &needed));
    } else {
      PERCEPTUAL_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max_algos));
      std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(static_cast<std::size_t>(max_algos));
      if (key.search == ConvSearch::measured)
        PERCEPTUAL_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(h, x_.get(), y_.get(), conv_.get(), w_.get(),
                                                                           max_algos, &found, perf.data()));
      else
        PERCEPTUAL_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, x_.get(), y_.get(), conv_.get(),
                                                                             w_.get(), max_algos, &found, perf.data()));
      perf.resize(static_cast<std::size_t>(found));
      const auto& best = choose(perf, key);
      bwd_filter_ = best.algo, algo_ = static_cast<int>(best.algo), bytes = best.memory, math_ = best.mathType;
      determinism_ = best.determinism;
      PERCEPTUAL_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_.get(), math_));
      PERCEPTUAL_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, x_.get(), y_.get(), conv_.get(),
                                                                            w_.get(), bwd_filter_, &needed));
    }
    // The workspace the algorithm needs with the math now set, should it differ from the measured.
    workspace_bytes_ = std::max(bytes, needed);
    workspace_ = DeviceBlock(workspace_bytes_);
  }

  // y = conv(x, w); pointers as described by the key (y: n x o x out_h x out_w). The scaling
  // factors are float for bf16 data (cuDNN's rule for reduced types).
  template <class T>
  void run_forward(const T* x, const T* w, T* y) const {
    const compute_t<T> one = 1, zero = 0;
    PERCEPTUAL_CUDNN_CHECK(cudnnConvolutionForward(context().cudnn(), &one, x_.get(), x, w_.get(), w, conv_.get(), fwd_,
                                                   workspace_.get(), workspace_bytes_, &zero, y_.get(), y));
  }
  template <class T>
  void run_backward_data(const T* dy, const T* w, T* dx) const {
    const compute_t<T> one = 1, zero = 0;
    PERCEPTUAL_CUDNN_CHECK(cudnnConvolutionBackwardData(context().cudnn(), &one, w_.get(), w, y_.get(), dy, conv_.get(),
                                                        bwd_data_, workspace_.get(), workspace_bytes_, &zero, x_.get(),
                                                        dx));
  }
  template <class T>
  void run_backward_filter(const T* x, const T* dy, T* dw) const {
    const compute_t<T> one = 1, zero = 0;
    PERCEPTUAL_CUDNN_CHECK(cudnnConvolutionBackwardFilter(context().cudnn(), &one, x_.get(), x, y_.get(), dy,
                                                          conv_.get(), bwd_filter_, workspace_.get(), workspace_bytes_,
                                                          &zero, w_.get(), dw));
  }

  // What the plan chose, for tests and diagnostics: the key it was built for, the algorithm (the
  // pass's cudnnConvolution*Algo_t as an int), the math type and determinism cuDNN reported for
  // it, and the math type the descriptor holds (read back from cuDNN: what the runs use).
  const ConvKey& key() const { return key_; }
  int algorithm() const { return algo_; }
  cudnnMathType_t algorithm_math() const { return math_; }
  cudnnDeterminism_t determinism() const { return determinism_; }
  cudnnMathType_t descriptor_math() const {
    cudnnMathType_t m{};
    PERCEPTUAL_CUDNN_CHECK(cudnnGetConvolutionMathType(conv_.get(), &m));
    return m;
  }

 private:
  ConvKey key_;
  TensorDescriptor x_, y_;
  FilterDescriptor w_;
  ConvDescriptor conv_;
  cudnnConvolutionFwdAlgo_t fwd_{};
  cudnnConvolutionBwdDataAlgo_t bwd_data_{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_{};
  int algo_ = 0;
  cudnnMathType_t math_{};
  cudnnDeterminism_t determinism_{};
  std::size_t workspace_bytes_ = 0;
  DeviceBlock workspace_;
};

// The plans of the process, and how many were built: a cache hit builds none.
struct PlanCache {
  std::mutex mutex;
  std::map<ConvKey, std::unique_ptr<ConvPlan>> plans;
  std::size_t built = 0;
};

inline PlanCache& plan_cache() {
  static auto* cache = new PlanCache;  // never destroyed, like the contexts
  return *cache;
}

// The cached plan for `key` on the current device, built on first use. Plans are never
// destroyed (like the contexts), so references stay valid. A build that throws caches nothing.
inline const ConvPlan& conv_plan(ConvKey key) {
  key.device = context().device();
  PlanCache& cache = plan_cache();
  std::lock_guard lock(cache.mutex);
  if (const auto it = cache.plans.find(key); it != cache.plans.end()) return *it->second;
  auto plan = std::make_unique<ConvPlan>(key);
  ++cache.built;
  return *cache.plans.emplace(key, std::move(plan)).first->second;
}

// Convolution plans built so far in this process, on every device.
inline std::size_t conv_plans_built() {
  PlanCache& cache = plan_cache();
  std::lock_guard lock(cache.mutex);
  return cache.built;
}

}  // namespace perceptual::cuda::detail
