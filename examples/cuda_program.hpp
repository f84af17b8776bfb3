#pragma once
// What the CUDA builds of the training programs (train_style_cuda, train_sr_cuda) add to the
// backend-generic programs: the check that a device is there, TF32 on (unless
// NVIDIA_TF32_OVERRIDE=0), and the device's name for the first progress line.
#include <cuda_runtime.h>

#include <string>

#include "perceptual/backend/cuda/cuda.hpp"
#include "training.hpp"

namespace perceptual::examples {

// `program` on the current CUDA device. Without one, start() throws CudaError saying so and
// naming `cpu_program`, the CPU build of the same program.
inline ProgramBackend cuda_backend(const std::string& program, const std::string& cpu_program) {
  return {program, [cpu_program] {
            if (!cuda::device_available())
              throw CudaError("no CUDA device is available (" + cpu_program + " trains on the CPU)");
            cudaDeviceProp prop{};
            PERCEPTUAL_CUDA_CHECK(cudaGetDeviceProperties(&prop, cuda::current_device()));
            const bool tf32 = cuda::set_tf32_unless_overridden();
            return std::string(Cuda::name) + " (" + prop.name + (tf32 ? ", TF32" : ", exact float32") + ")";
          }};
}

}  // namespace perceptual::examples
