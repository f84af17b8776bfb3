#pragma once
// What the CUDA builds of the benchmarks share: the device check, made once the options are
// parsed (so --help works without a device), TF32 on (unless NVIDIA_TF32_OVERRIDE=0) and timed
// cuDNN algorithm choice, and the device's description for their output.
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
  const bool tf32 = cuda::set_tf32_unless_overridden();
  // Timed algorithm choice, as the PyTorch reference's cudnn.benchmark: the benchmarks need no
  // bit-identical reruns across processes.
  cuda::set_conv_search(cuda::ConvSearch::measured);
  return std::string(prop.name) + ", CUDA runtime " + std::to_string(runtime) + ", cuDNN " +
         std::to_string(cudnnGetVersion()) + (tf32 ? ", float32 convolutions and GEMMs in TF32" : ", exact float32") +
         ", measured cuDNN algorithms";
}

}  // namespace perceptual::bench
