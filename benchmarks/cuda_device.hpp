#pragma once
// What the CUDA builds of the benchmarks share: the device check, made once the options are
// parsed (so --help works without a device), and the device's description for their output.
#include <cuda_runtime.h>

#include <string>

#include "perceptual/backend/cuda/cuda.hpp"

namespace perceptual::bench {

// "NVIDIA H100 80GB HBM3, CUDA runtime 13000, cuDNN 91000"; without a device, CudaError saying so
// and `instead` (what to run instead).
inline std::string cuda_device(const std::string& instead) {
  if (!cuda::device_available()) throw CudaError("no CUDA device is available (" + instead + ")");
  cudaDeviceProp prop{};
  PERCEPTUAL_CUDA_CHECK(cudaGetDeviceProperties(&prop, cuda::current_device()));
  int runtime = 0;
  PERCEPTUAL_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  return std::string(prop.name) + ", CUDA runtime " + std::to_string(runtime) + ", cuDNN " +
         std::to_string(cudnnGetVersion());
}

}  // namespace perceptual::bench
