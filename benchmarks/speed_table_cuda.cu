// speed_table on the CUDA backend: Johnson et al. 2016, Table 1 on the GPU, with the same program
// as the CPU's (speed_table.hpp); every timing waits for the device's stream first.
#include "cuda_device.hpp"
#include "speed_table.hpp"

using namespace perceptual;

int main(int argc, char** argv) {
  return bench::speed_table_main<Cuda>(
      argc, argv,
      {"speed_table_cuda", [] { return "cuda (" + bench::cuda_device("speed_table times the CPU") + ")"; },
       [] { cuda::synchronize(); }});
}
