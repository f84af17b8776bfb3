// objective on the CPU backend (xtensor + OpenBLAS): Johnson et al. 2016, figure 5. The program is
// backend-generic (objective.hpp); objective_cuda is its GPU build.
#include "objective.hpp"

#include "cpu_backend.hpp"
#include "perceptual/backend/cpu/cpu.hpp"

int main(int argc, char** argv) {
  return perceptual::bench::objective_main<perceptual::Cpu>(argc, argv, perceptual::bench::cpu_backend("objective"));
}
