// train_style_cuda: train_style (train_style.hpp) on the GPU, with the same options, model files
// and checkpoints; without a CUDA device it says so and exits 1.
#include "cuda_program.hpp"
#include "train_style.hpp"

int main(int argc, char** argv) {
  using namespace perceptual;
  return examples::train_style_main<Cuda>(argc, argv, examples::cuda_backend("train_style_cuda", "train_style"));
}
