// objective_cuda: Johnson et al. 2016, figure 5 on the GPU, with the same program, files and
// figures as the CPU's (objective.hpp).
#include "objective.hpp"
#include "perceptual/app/cuda_device.hpp"

int main(int argc, char** argv) {
  return perceptual::bench::objective_main<perceptual::Cuda>(argc, argv, "objective_cuda", "objective runs on the CPU");
}
