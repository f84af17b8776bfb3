// speed_table on the CPU backend (xtensor + OpenBLAS): Johnson et al. 2016, Table 1. The program
// itself is backend-generic (speed_table.hpp); a device build passes its synchronisation instead.
#include "speed_table.hpp"

#include <cblas.h>

#include <string>

#include "perceptual/backend/cpu/cpu.hpp"

int main(int argc, char** argv) {
  const std::string backend = "cpu (OpenBLAS, " + std::to_string(openblas_get_num_threads()) + " threads)";
  return perceptual::bench::speed_table_main<perceptual::Cpu>(argc, argv, backend, [] {});
}
