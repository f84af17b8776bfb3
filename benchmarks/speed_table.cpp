// speed_table on the CPU backend (xtensor + OpenBLAS): Johnson et al. 2016, Table 1. The program
// itself is backend-generic (speed_table.hpp); speed_table_cuda is its GPU build.
#include "speed_table.hpp"

#include "cpu_backend.hpp"
#include "perceptual/backend/cpu/cpu.hpp"

int main(int argc, char** argv) {
  return perceptual::bench::speed_table_main<perceptual::Cpu>(argc, argv,
                                                              perceptual::bench::cpu_backend("speed_table"));
}
