// train_style_cuda: train_style (train_style.hpp) on the GPU, with the same options, model files
// and checkpoints; without a CUDA device it says so and exits 1.
#include <perceptual/app/cuda_device.hpp>
#include "train_style.hpp"

int main(int argc, char** argv) {
  return perceptual::examples::train_style_main<perceptual::Cuda>(argc, argv, "train_style_cuda",
                                                                  "train_style trains on the CPU");
}
