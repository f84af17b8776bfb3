// train_sr_cuda: train_sr (train_sr.hpp) on the GPU, with the same options, model files and
// checkpoints; without a CUDA device it says so and exits 1.
#include <perceptual/app/cuda_device.hpp>
#include "train_sr.hpp"

int main(int argc, char** argv) {
  return perceptual::examples::train_sr_main<perceptual::Cuda>(argc, argv, "train_sr_cuda",
                                                               "train_sr trains on the CPU");
}
