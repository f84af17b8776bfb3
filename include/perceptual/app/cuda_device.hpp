#pragma once
// Device<Cuda> (app/device.hpp) for the CUDA builds of the programs: the current device, or the
// local rank's as a rank of a launcher, TF32 on (unless NVIDIA_TF32_OVERRIDE=0), cuDNN's timed
// algorithm choice when the fastest is asked for.
#include <cuda_runtime.h>

#include <string>

#include "perceptual/app/device.hpp"
#include "perceptual/backend/cuda/cuda.hpp"
#include "perceptual/dist/communicator.hpp"

namespace perceptual::app {

template <>
struct Device<Cuda> {
  // "cuda (NVIDIA H100 80GB HBM3, CUDA runtime 13000, cuDNN 91000, TF32)"; without a device,
  // CudaError saying so and what to run `instead`.
  static std::string start(const std::string& instead, DeviceUse use = DeviceUse::reproducible) {
    if (!cuda::device_available()) throw CudaError("no CUDA device is available (" + instead + ")");
    // One device per rank of a machine (dist::launched_device), chosen before any work, so that the
    // backend's stream and NCCL's communicator (app::world) are made on it.
    int devices = 0;
    PERCEPTUAL_CUDA_CHECK(cudaGetDeviceCount(&devices));
    if (const int device = dist::launched_device(devices); device >= 0) PERCEPTUAL_CUDA_CHECK(cudaSetDevice(device));
    cudaDeviceProp prop{};
    PERCEPTUAL_CUDA_CHECK(cudaGetDeviceProperties(&prop, cuda::current_device()));
    int runtime = 0;
    PERCEPTUAL_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
    const bool tf32 = cuda::set_tf32_unless_overridden();
    // Timed algorithm choice, as PyTorch's cudnn.benchmark: not bit-identical across processes.
    if (use == DeviceUse::fastest) cuda::set_conv_search(cuda::ConvSearch::measured);
    return std::string(Cuda::name) + " (" + prop.name + ", CUDA runtime " + std::to_string(runtime) + ", cuDNN " +
           std::to_string(cudnnGetVersion()) + (tf32 ? ", TF32" : ", exact float32") +
           (use == DeviceUse::fastest ? ", measured cuDNN algorithms" : "") + ")";
  }
  static void synchronize() { cuda::synchronize(); }
};

}  // namespace perceptual::app
