#pragma once
// cuDNN convolution plans: descriptors, the algorithm cudnnFind* chose and its workspace, built
// once per (pass, type, shape) and cached for the process. Host code only (parses with g++).
// Uses cuDNN's legacy convolution API (deprecated in cuDNN 9 but present and warning-free unless
// CUDNN_WARN_DEPRECATED is defined); the graph API is the successor.
#include <compare>
#include <concepts>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "perceptual/backend/cuda/bf16.hpp"
#include "perceptual/backend/cuda/handle.hpp"
#include "perceptual/backend/cuda/tensor.hpp"

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

// Cross-correlation (what the CPU backend computes). float and double: FMA math only, since TF32
// tensor cores would round float32 inputs to 10 bits of mantissa and break parity with the CPU.
// bf16 data: float accumulation on tensor cores (cuDNN's PSEUDO_BFLOAT16_CONFIG).
inline ConvDescriptor conv_descriptor(cudnnDataType_t type, int pad_h, int pad_w, int stride) {
  cudnnConvolutionDescriptor_t d = nullptr;
  PERCEPTUAL_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d));
  ConvDescriptor owned(d);
  const bool reduced = type == CUDNN_DATA_BFLOAT16;
  PERCEPTUAL_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(d, pad_h, pad_w, stride, stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                                         reduced ? CUDNN_DATA_FLOAT : type));
  PERCEPTUAL_CUDNN_CHECK(cudnnSetConvolutionMathType(d, reduced ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
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

enum class ConvPass { forward, backward_data, backward_filter };

// A convolution as cuDNN sees it: x is n x c x h x w (already padded where the route needs
// it), the filter o x c x k x k, symmetric padding pad_h, pad_w.
struct ConvKey {
  ConvPass pass;
  cudnnDataType_t type;
  int n, c, h, w, o, k, stride, pad_h, pad_w;
  int device = 0;
  friend auto operator<=>(const ConvKey&, const ConvKey&) = default;
};

inline std::string to_string(const ConvKey& key) {
  return std::to_string(key.n) + "x" + std::to_string(key.c) + "x" + std::to_string(key.h) + "x" +
         std::to_string(key.w) + " * " + std::to_string(key.o) + "x" + std::to_string(key.c) + "x" +
         std::to_string(key.k) + "x" + std::to_string(key.k) + ", stride " + std::to_string(key.stride) + ", pad " +
         std::to_string(key.pad_h) + "," + std::to_string(key.pad_w);
}

// Picks the fastest successful result of a cudnnFind* call.
template <class Perf>
auto first_success(const Perf* results, int count, const ConvKey& key) {
  for (int i = 0; i < count; ++i)
    if (results[i].status == CUDNN_STATUS_SUCCESS) return std::pair{results[i].algo, results[i].memory};
  throw CudaError("cuDNN: no convolution algorithm for " + to_string(key));
}

class ConvPlan {
 public:
  explicit ConvPlan(const ConvKey& key)
      : key_(key),
        x_(tensor_descriptor(key.type, key.n, key.c, key.h, key.w)),
        w_(filter_descriptor(key.type, key.o, key.c, key.k)),
        conv_(conv_descriptor(key.type, key.pad_h, key.pad_w, key.stride)) {
    int out[4] = {};
    PERCEPTUAL_CUDNN_CHECK(cudnnGetConvolutionNdForwardOutputDim(conv_.get(), x_.get(), w_.get(), 4, out));
    y_ = tensor_descriptor(key.type, out[0], out[1], out[2], out[3]);
    cudnnHandle_t h = context().cudnn();
    constexpr int max_algos = 8;
    int found = 0;
    std::size_t bytes = 0;
    // cudnnFind* runs each candidate once on scratch memory it allocates itself.
    if (key.pass == ConvPass::forward) {
      cudnnConvolutionFwdAlgoPerf_t perf[max_algos];
      PERCEPTUAL_CUDNN_CHECK(
          cudnnFindConvolutionForwardAlgorithm(h, x_.get(), w_.get(), conv_.get(), y_.get(), max_algos, &found, perf));
      std::tie(fwd_, bytes) = first_success(perf, found, key);
    } else if (key.pass == ConvPass::backward_data) {
      cudnnConvolutionBwdDataAlgoPerf_t perf[max_algos];
      PERCEPTUAL_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(h, w_.get(), y_.get(), conv_.get(), x_.get(),
                                                                       max_algos, &found, perf));
      std::tie(bwd_data_, bytes) = first_success(perf, found, key);
    } else {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[max_algos];
      PERCEPTUAL_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(h, x_.get(), y_.get(), conv_.get(), w_.get(),
                                                                         max_algos, &found, perf));
      std::tie(bwd_filter_, bytes) = first_success(perf, found, key);
    }
    workspace_bytes_ = bytes;
    workspace_ = DeviceBlock(bytes);
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

 private:
  ConvKey key_;
  TensorDescriptor x_, y_;
  FilterDescriptor w_;
  ConvDescriptor conv_;
  cudnnConvolutionFwdAlgo_t fwd_{};
  cudnnConvolutionBwdDataAlgo_t bwd_data_{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_{};
  std::size_t workspace_bytes_ = 0;
  DeviceBlock workspace_;
};

// The cached plan for `key` on the current device, built on first use. Plans are never
// destroyed (like the contexts), so references stay valid.
inline const ConvPlan& conv_plan(ConvKey key) {
  key.device = context().device();
  static auto* mutex = new std::mutex;
  static auto* plans = new std::map<ConvKey, std::unique_ptr<ConvPlan>>;
  std::lock_guard lock(*mutex);
  auto& slot = (*plans)[key];
  if (!slot) slot = std::make_unique<ConvPlan>(key);
  return *slot;
}

}  // namespace perceptual::cuda::detail
