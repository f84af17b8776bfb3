#include "perceptual/nets/super_resolver.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>

#include "support/random.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;
using namespace perceptual::nets;
using TensorF = Tensor<float, Cpu>;
namespace fs = std::filesystem;

namespace {

template <class Net>
void write_net(const fs::path& path, std::uint64_t seed) {
  Model<Net, Cpu, float> net;
  net.initialize(seed);
  io::save_parameters(net, path);
}

}  // namespace

TEST_CASE("SuperResolver loads any factor and normalisation and gives the network's output") {
  testing::TempDir dir;
  write_net<SuperResolutionNet<4, BatchNormDefault>>(dir / "bn.safetensors", 5);
  write_net<SuperResolutionNet<8>>(dir / "in.safetensors", 6);
  std::mt19937_64 rng(1);
  const TensorF lr = testing::random_tensor<float>({1, 3, 6, 7}, rng, 0, 255);

  Model<SuperResolutionNet<4, BatchNormDefault>, Cpu, float> bn;
  bn.initialize(5).eval();
  SuperResolver bn_file(dir / "bn.safetensors");
  CHECK(bn_file.factor() == 4);
  const TensorF y = bn_file.upscale(lr);
  CHECK(y.shape() == Shape4{1, 3, 24, 28});
  CHECK(y.to_host() == bn.forward(lr).to_host());

  Model<SuperResolutionNet<8>, Cpu, float> in;
  in.initialize(6).eval();
  SuperResolver in_file(dir / "in.safetensors");
  CHECK(in_file.factor() == 8);
  CHECK(in_file.upscale(lr).to_host() == in.forward(lr).to_host());

  CHECK_THROWS_WITH_AS(in_file.upscale(testing::random_tensor<float>({1, 3, 4, 8}, rng)),
                       doctest::Contains("1x3x4x8, expected Nx3xHxW with H, W >= 5"), ShapeError);
  CHECK_THROWS_AS(SuperResolver(dir / "absent.safetensors"), FileError);
}
