#pragma once
// Status checks for the CUDA runtime, cuDNN and cuBLAS: every call's status goes through one of
// these macros, which throw CudaError naming the call, its file and line and the library's own
// description. Parses with a host compiler too (no device code here).
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "perceptual/core/error.hpp"

namespace perceptual {

// A CUDA, cuDNN or cuBLAS call failed, or there is no device to run on.
class CudaError : public Error {
 public:
  using Error::Error;
};

namespace cuda::detail {

inline std::string where(const char* call, const char* file, int line) {
  return std::string(call) + " at " + file + ":" + std::to_string(line);
}

inline const char* cublas_status_text(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "CUBLAS_STATUS_LICENSE_ERROR";
    default:
      return "unknown cuBLAS status";
  }
}

inline void check_cuda(cudaError_t s, const char* call, const char* file, int line) {
  if (s != cudaSuccess)
    throw CudaError("CUDA error " + std::string(cudaGetErrorName(s)) + " (" + cudaGetErrorString(s) + ") in " +
                    where(call, file, line));
}

inline void check_cudnn(cudnnStatus_t s, const char* call, const char* file, int line) {
  if (s != CUDNN_STATUS_SUCCESS)
    throw CudaError("cuDNN error " + std::string(cudnnGetErrorString(s)) + " in " + where(call, file, line));
}

inline void check_cublas(cublasStatus_t s, const char* call, const char* file, int line) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw CudaError("cuBLAS error " + std::string(cublas_status_text(s)) + " in " + where(call, file, line));
}

}  // namespace cuda::detail

}  // namespace perceptual

#define PERCEPTUAL_CUDA_CHECK(call) ::perceptual::cuda::detail::check_cuda((call), #call, __FILE__, __LINE__)
#define PERCEPTUAL_CUDNN_CHECK(call) ::perceptual::cuda::detail::check_cudnn((call), #call, __FILE__, __LINE__)
#define PERCEPTUAL_CUBLAS_CHECK(call) ::perceptual::cuda::detail::check_cublas((call), #call, __FILE__, __LINE__)
// After a kernel launch: launch errors (bad configuration, no kernel image for this device) are
// only reported by cudaGetLastError.
#define PERCEPTUAL_CUDA_CHECK_LAUNCH() \
  ::perceptual::cuda::detail::check_cuda(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)

namespace perceptual::cuda {

// Whether a CUDA device can be used; never throws (tests skip on false). Clears the sticky
// error that a failed cudaGetDeviceCount leaves behind.
inline bool device_available() noexcept {
  int count = 0;
  const cudaError_t s = cudaGetDeviceCount(&count);
  if (s != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return count > 0;
}

}  // namespace perceptual::cuda
