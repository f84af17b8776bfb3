// objective on the CPU backend: Johnson et al. 2016, figure 5. The program itself is
// backend-generic (objective.hpp); objective_cuda is its GPU build.
#include "objective.hpp"

int main(int argc, char** argv) {
  return perceptual::bench::objective_main<perceptual::Cpu>(argc, argv, "objective", "");
}
