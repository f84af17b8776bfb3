// train_sr_cuda: train_sr (train_sr.hpp) on the GPU, with the same options, model files and
// checkpoints; without a CUDA device it says so and exits 1.
#include "cuda_program.hpp"
#include "train_sr.hpp"

int main(int argc, char** argv) {
  using namespace perceptual;
  return examples::train_sr_main<Cuda>(argc, argv, examples::cuda_backend("train_sr_cuda", "train_sr"));
}
