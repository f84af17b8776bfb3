// objective on the CUDA backend: Johnson et al. 2016, figure 5 on the GPU, with the same program,
// files and figures as the CPU's (objective.hpp).
#include <cstdio>
#include <cstring>

#include "objective.hpp"
#include "perceptual/backend/cuda/cuda.hpp"

using namespace perceptual;

int main(int argc, char** argv) {
  bool help = false;
  for (int i = 1; i < argc; ++i) help |= !std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h");
  if (!help && !cuda::device_available()) {
    std::fprintf(stderr, "objective_cuda: error: no CUDA device is available (objective runs on the CPU)\n");
    return 1;
  }
  return bench::objective_main<Cuda>(argc, argv, "objective_cuda", [] { cuda::synchronize(); });
}
