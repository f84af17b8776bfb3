#include "perceptual/nets/super_resolution.hpp"

#include <doctest/doctest.h>

#include <string>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/io/parameters.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;
using namespace perceptual::nets;
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
