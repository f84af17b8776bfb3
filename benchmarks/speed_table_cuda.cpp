// speed_table_cuda: Johnson et al. 2016, Table 1 on the GPU, with the same program as the CPU's
// (speed_table.hpp).
#include "perceptual/app/cuda_device.hpp"
#include "speed_table.hpp"

int main(int argc, char** argv) {
  return perceptual::bench::speed_table_main<perceptual::Cuda>(argc, argv, "speed_table_cuda",
                                                               "speed_table times the CPU");
}
