// A program outside the project that uses the installed package: builds a small net, runs it
// and checks a value, so the test fails if headers, targets or link flags are missing.
#include <perceptual/perceptual.hpp>

#include <cstdio>
#include <vector>

using namespace perceptual;
using namespace perceptual::layers;

int main() {
  using Net = Sequential<ReLU, ScaledTanh<>>;
  static_assert(concepts::layer<Net>);
  Model<Net, Cpu> model;
  const std::vector<float> x{-1.0f, 0.0f, 2.0f, 100.0f};
  const auto y = model.forward(Tensor<float, Cpu>::from_host({1, 1, 2, 2}, x)).to_host();
  if (y[0] != 127.5f || y[3] != 255.0f) {
    std::printf("consumer: unexpected output %g %g\n", y[0], y[3]);
    return 1;
  }
  std::printf("consumer: ok\n");
  return 0;
}
