// A program outside the project that uses the installed package: builds a small net, runs it
// and checks a value, and writes and reads an image by rows, so the test fails if headers,
// targets or link flags are missing.
#include <perceptual/perceptual.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
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
  // An image written and read by rows: links libpng and libjpeg through the package's dependencies.
  const auto path =
      std::filesystem::temp_directory_path() / ("perceptual_consumer_" + std::to_string(::getpid()) + ".png");
  {
    io::ImageRowWriter writer(path, 2, 1);
    const float row[6] = {0.0f, 255.0f, 10.0f, 20.0f, 30.0f, 40.0f};  // R R G G B B
    writer.write_row(row);
    writer.finish();
  }
  io::ImageRowReader reader(path);
  float back[6] = {};
  reader.read_row(back);
  std::filesystem::remove(path);
  if (back[1] != 255.0f || back[5] != 40.0f) {
    std::printf("consumer: unexpected pixels %g %g\n", back[1], back[5]);
    return 1;
  }
  std::printf("consumer: ok\n");
  return 0;
}
