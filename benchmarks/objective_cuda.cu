// objective on the CUDA backend: Johnson et al. 2016, figure 5 on the GPU, with the same program,
// files and figures as the CPU's (objective.hpp).
#include "cuda_device.hpp"
#include "objective.hpp"

using namespace perceptual;

int main(int argc, char** argv) {
  return bench::objective_main<Cuda>(
      argc, argv,
      {"objective_cuda", [] { return "cuda (" + bench::cuda_device("objective runs on the CPU") + ")"; },
       [] { cuda::synchronize(); }});
}
