#pragma once
// Per-device state of the CUDA backend: one stream that every operation runs on, and the cuDNN
// and cuBLAS handles bound to it, created the first time they are needed; and the process-wide
// TF32 switch. The handles are move-only RAII types whose destructors never throw. Parses with a
// host compiler too.
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "perceptual/backend/cuda/check.hpp"

namespace perceptual::cuda {

// A move-only owner of a CUDA or library handle: `Destroy` releases it, ignoring the status
// (a destructor must not throw, and at exit the runtime may already be unloading).
template <class Handle, auto Destroy>
class UniqueHandle {
 public:
  UniqueHandle() = default;
  explicit UniqueHandle(Handle h) : h_(h) {}
  UniqueHandle(const UniqueHandle&) = delete;
  UniqueHandle& operator=(const UniqueHandle&) = delete;
  UniqueHandle(UniqueHandle&& o) noexcept : h_(std::exchange(o.h_, Handle{})) {}
  UniqueHandle& operator=(UniqueHandle&& o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  ~UniqueHandle() {
    if (h_) (void)Destroy(h_);
  }
  Handle get() const { return h_; }
  explicit operator bool() const { return h_ != Handle{}; }

 private:
  Handle h_{};
};

namespace detail {
inline std::atomic<bool>& tf32_flag() {
  static std::atomic<bool> on{false};
  return on;
}
}  // namespace detail

// TF32: float32 convolutions and GEMMs on tensor cores, their inputs rounded to 10 bits of
// mantissa (about 1e-3 relative), several times faster on Ampere and newer. Off by default, so
// float results match the CPU backend's to float32 rounding (the parity tests rely on it).
// Process-wide; takes effect on the next operation: convolution plans are cached per math
// (plan_cache.hpp) and cuBLAS's math mode is set on every use of its handle. Affects float only:
// double is always exact, bf16 always uses tensor cores.
inline void set_tf32(bool on) noexcept {
  detail::tf32_flag().store(on);
}
inline bool tf32_enabled() noexcept {
  return detail::tf32_flag().load();
}

// The programs' choice (training, benchmarks): TF32 on, as PyTorch has it for convolutions, unless
// NVIDIA_TF32_OVERRIDE=0, NVIDIA's own switch that cuBLAS and cuDNN obey too, asks for exact
// float32. Returns whether it is on.
inline bool set_tf32_unless_overridden() {
  const char* v = std::getenv("NVIDIA_TF32_OVERRIDE");
  const bool on = v == nullptr || std::string_view(v) != "0";
  set_tf32(on);
  return on;
}

using Stream = UniqueHandle<cudaStream_t, cudaStreamDestroy>;
using CudnnHandle = UniqueHandle<cudnnHandle_t, cudnnDestroy>;
using CublasHandle = UniqueHandle<cublasHandle_t, cublasDestroy>;

inline int current_device() {
  int device = 0;
  PERCEPTUAL_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

// One device's stream and handles. Everything the backend does on a device is ordered on this
// one stream, which is what lets the caching allocator hand a freed block to the next tensor
// without waiting: any work that used the block was enqueued before any work that reuses it.
class Context {
 public:
  explicit Context(int device) : device_(device) {
    cudaStream_t s = nullptr;
    PERCEPTUAL_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    stream_ = Stream(s);
  }

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_.get(); }

  cudnnHandle_t cudnn() {
    std::call_once(cudnn_once_, [this] {
      cudnnHandle_t h = nullptr;
      PERCEPTUAL_CUDNN_CHECK(cudnnCreate(&h));
      CudnnHandle owned(h);
      PERCEPTUAL_CUDNN_CHECK(cudnnSetStream(h, stream()));
      cudnn_ = std::move(owned);
    });
    return cudnn_.get();
  }

  cublasHandle_t cublas() {
    std::call_once(cublas_once_, [this] {
      cublasHandle_t h = nullptr;
      PERCEPTUAL_CUBLAS_CHECK(cublasCreate(&h));
      CublasHandle owned(h);
      PERCEPTUAL_CUBLAS_CHECK(cublasSetStream(h, stream()));
      cublas_ = std::move(owned);
    });
    // The math mode follows set_tf32 at every use (it only sets a field of the handle): default
    // math is exact float32, so results match the CPU backend; bf16 GEMMs use tensor cores in
    // either mode (their compute type says so).
    PERCEPTUAL_CUBLAS_CHECK(
        cublasSetMathMode(cublas_.get(), tf32_enabled() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    return cublas_.get();
  }

  void synchronize() const { PERCEPTUAL_CUDA_CHECK(cudaStreamSynchronize(stream())); }

 private:
  int device_;
  Stream stream_;
  std::once_flag cudnn_once_, cublas_once_;
  CudnnHandle cudnn_;
  CublasHandle cublas_;
};

// The context of `device`, created on first use (on the calling thread's current device).
inline Context& context(int device) {
  // Deliberately never destroyed: static destructors run after the CUDA runtime may have shut
  // down, and a tensor with static lifetime could still reach its context then.
  static auto* mutex = new std::mutex;
  static auto* contexts = new std::vector<std::unique_ptr<Context>>;
  std::lock_guard lock(*mutex);
  if (device < 0) throw CudaError("cuda::context: device " + std::to_string(device));
  if (contexts->size() <= static_cast<std::size_t>(device)) contexts->resize(static_cast<std::size_t>(device) + 1);
  auto& slot = (*contexts)[static_cast<std::size_t>(device)];
  if (!slot) slot = std::make_unique<Context>(device);
  return *slot;
}

// The context of the current device; throws CudaError when there is no usable device.
inline Context& context() {
  // Asked once: every operation comes through here, and cudaGetDeviceCount is a driver call.
  static const bool available = device_available();
  if (!available) throw CudaError("perceptual::Cuda: no CUDA device is available");
  return context(current_device());
}

// Whether the current device can run the bf16 path: cuDNN's and cuBLAS's bf16 tensor-core
// kernels need compute capability 8.0 (Ampere) or newer. False without a device; never throws.
inline bool bf16_supported() noexcept {
  if (!device_available()) return false;
  int device = 0, major = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return major >= 8;
}

// Waits until the current device's work, as the backend has queued it, has finished.
inline void synchronize() {
  context().synchronize();
}

namespace detail {

inline constexpr unsigned block_threads = 256;

// Blocks for a grid-stride loop over n elements: enough to fill the device, never more than
// the elements need.
inline unsigned grid_blocks(std::size_t n) {
  const std::size_t blocks = (n + block_threads - 1) / block_threads;
  return static_cast<unsigned>(blocks < 4096 ? (blocks == 0 ? 1 : blocks) : 4096);
}

}  // namespace detail

}  // namespace perceptual::cuda
