// speed_table on the CUDA backend: Johnson et al. 2016, Table 1 on the GPU, with the same program
// as the CPU's (speed_table.hpp); every timing waits for the device's stream first.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "perceptual/backend/cuda/cuda.hpp"
#include "speed_table.hpp"

using namespace perceptual;

int main(int argc, char** argv) {
  bool help = false;
  for (int i = 1; i < argc; ++i) help |= !std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h");
  if (!help && !cuda::device_available()) {
    std::fprintf(stderr, "speed_table_cuda: error: no CUDA device is available (speed_table times the CPU)\n");
    return 1;
  }
  std::string backend = "cuda";
  if (!help) {
    cudaDeviceProp prop{};
    PERCEPTUAL_CUDA_CHECK(cudaGetDeviceProperties(&prop, cuda::current_device()));
    backend += std::string(" (") + prop.name + ")";
  }
  return bench::speed_table_main<Cuda>(argc, argv, backend, [] { cuda::synchronize(); });
}
