// train_sr: trains a super-resolution network (Johnson et al. 2016, section 4.2) on the CPU. The
// program is backend-generic (train_sr.hpp); train_sr_cuda is its GPU build.
#include "train_sr.hpp"

int main(int argc, char** argv) {
  return perceptual::examples::train_sr_main<perceptual::Cpu>(argc, argv, "train_sr", "");
}
