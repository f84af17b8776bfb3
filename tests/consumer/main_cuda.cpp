// consumer's net on the GPU, from a file the host compiler compiles: the CUDA backend's
// declarations (backend/cuda/cuda.hpp) and their instances from perceptual::cuda_instances. Without
// a device it says so and passes: linking is what it checks there.
#include <perceptual/backend/cuda/cuda.hpp>
#include <perceptual/perceptual.hpp>

#include <cstdio>
#include <vector>

using namespace perceptual;
using namespace perceptual::layers;

int main() {
  if (!cuda::device_available()) {
    std::printf("consumer_cuda: skipped: no CUDA device\n");
    return 0;
  }
  using Net = Sequential<ReLU, ScaledTanh<>>;
  Model<Net, Cuda> model;
  const std::vector<float> x{-1.0f, 0.0f, 2.0f, 100.0f};
  const auto y = model.forward(Tensor<float, Cuda>::from_host({1, 1, 2, 2}, x)).to_host();
  if (y[0] != 127.5f || y[3] != 255.0f) {
    std::printf("consumer_cuda: unexpected output %g %g\n", y[0], y[3]);
    return 1;
  }
  std::printf("consumer_cuda: ok\n");
  return 0;
}
