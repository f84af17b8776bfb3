// speed_table on the CPU backend: Johnson et al. 2016, Table 1. The program itself is
// backend-generic (speed_table.hpp); speed_table_cuda is its GPU build.
#include "speed_table.hpp"

int main(int argc, char** argv) {
  return perceptual::bench::speed_table_main<perceptual::Cpu>(argc, argv, "speed_table", "");
}
