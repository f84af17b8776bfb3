#include "perceptual/nets/super_resolution.hpp"

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
void write_net(const fs::path& path, const std::map<std::string, std::string>& metadata, std::uint64_t seed = 4) {
  Model<Net, Cpu, float> net;
  net.initialize(seed);
  io::save_parameters(net, path, metadata);
}

}  // namespace

TEST_CASE("sr_model_info reads the factor and normalisation from the metadata or else from the tensors") {
  testing::TempDir dir;
  write_net<SuperResolutionNet<8, BatchNormDefault>>(dir / "x8.safetensors", {});
  auto info = sr_model_info(io::SafetensorsFile(dir / "x8.safetensors"));
  CHECK(info.factor == 8);
  CHECK(info.batch_norm);
  write_net<SuperResolutionNet<4>>(dir / "x4.safetensors",
                                   {{"architecture", "johnson-sr"}, {"factor", "4"}, {"norm", "instance"}});
  info = sr_model_info(io::SafetensorsFile(dir / "x4.safetensors"));
  CHECK(info.factor == 4);
  CHECK_FALSE(info.batch_norm);
  CHECK(info.metadata.at("norm") == "instance");
}

TEST_CASE("sr_model_info rejects style networks, other files and metadata that contradicts the tensors") {
  testing::TempDir dir;
  write_net<StyleTransformNet<>>(dir / "style.safetensors", {{"architecture", "johnson-style"}});
  CHECK_THROWS_WITH_AS(sr_model_info(io::SafetensorsFile(dir / "style.safetensors")),
                       doctest::Contains("architecture \"johnson-style\" is not a super-resolution network "
                                         "(expected johnson-sr; style networks are for stylize)"),
                       FileError);
  write_net<StyleTransformNet<>>(dir / "bare_style.safetensors", {});
  CHECK_THROWS_WITH_AS(sr_model_info(io::SafetensorsFile(dir / "bare_style.safetensors")),
                       doctest::Contains("holds a style network"), FileError);
  write_net<layers::Sequential<layers::Named<"conv1_1", layers::Conv2d<3, 4, 3>>>>(dir / "other.safetensors", {});
  CHECK_THROWS_WITH_AS(sr_model_info(io::SafetensorsFile(dir / "other.safetensors")),
                       doctest::Contains("not a super-resolution network (no \"architecture\""), FileError);
  write_net<SuperResolutionNet<4>>(dir / "lies.safetensors", {{"factor", "8"}});
  CHECK_THROWS_WITH_AS(sr_model_info(io::SafetensorsFile(dir / "lies.safetensors")),
                       doctest::Contains("the metadata says factor 8, the tensors are a x4 network"), FileError);
  write_net<SuperResolutionNet<4>>(dir / "norm.safetensors", {{"norm", "batch"}});
  CHECK_THROWS_WITH_AS(sr_model_info(io::SafetensorsFile(dir / "norm.safetensors")),
                       doctest::Contains("lack batch-norm running statistics"), FileError);
  write_net<SuperResolutionNet<4>>(dir / "x3.safetensors", {{"factor", "3"}});
  CHECK_THROWS_WITH_AS(sr_model_info(io::SafetensorsFile(dir / "x3.safetensors")),
                       doctest::Contains("factor \"3\" is not 4 or 8"), FileError);
}

TEST_CASE("SuperResolver loads any factor and normalisation and gives the network's output") {
  testing::TempDir dir;
  write_net<SuperResolutionNet<4, BatchNormDefault>>(dir / "bn.safetensors", {}, 5);
  write_net<SuperResolutionNet<8>>(dir / "in.safetensors", {}, 6);
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
