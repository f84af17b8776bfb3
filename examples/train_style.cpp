// train_style: trains a feed-forward style transformation network (Johnson et al. 2016, section 3)
// on the CPU. The program is backend-generic (train_style.hpp); train_style_cuda is its GPU build.
#include "train_style.hpp"

int main(int argc, char** argv) {
  return perceptual::examples::train_style_main<perceptual::Cpu>(argc, argv, "train_style", "");
}
