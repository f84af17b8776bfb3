#pragma once
// The `engstrom` preset: lengstrom/fast-style-transfer's TensorFlow style network (a variant of
// Johnson et al.'s), layer for layer, and load_engstrom() for its converted weight files
// ("conv1.weight", "conv1.norm.scale", "conv1.norm.shift", ..., see /work/shared/README.md).
#include <filesystem>
#include <string>

#include "perceptual/core/error.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/io/safetensors.hpp"
#include "perceptual/layers/activation.hpp"
#include "perceptual/layers/compose.hpp"
#include "perceptual/layers/conv.hpp"
#include "perceptual/layers/norm.hpp"
#include "perceptual/layers/options.hpp"

namespace perceptual::nets {

namespace engstrom {

// TensorFlow's instance norm there: eps 1e-3, biased variance over H and W.
template <int C>
using Norm = layers::InstanceNorm<C, layers::Eps<1e-3>>;

// Every convolution: TensorFlow "SAME" zero padding, no bias (the norm's shift replaces it).
template <int In, int Out, int K, class... Opts>
using Conv = layers::Conv2d<In, Out, K, layers::Same, layers::NoBias, Opts...>;

using ResidualBlock =
    layers::Residual<layers::Named<"conv1", Conv<128, 128, 3>>, layers::Named<"conv1.norm", Norm<128>>, layers::ReLU,
                     layers::Named<"conv2", Conv<128, 128, 3>>, layers::Named<"conv2.norm", Norm<128>>>;

}  // namespace engstrom

// Input RGB in [0, 255] (no normalisation); output clip(150 tanh(x) + 127.5, 0, 255). Sizes as
// StyleTransformNet: 4 * ceil(n / 4). Inputs should be multiples of 4: with an odd size the SAME
// stride-2 convolution centres its taps half a pixel away from where the transpose puts them back.
using EngstromNet = layers::Sequential<
    layers::Named<"conv1", engstrom::Conv<3, 32, 9>>, layers::Named<"conv1.norm", engstrom::Norm<32>>, layers::ReLU,
    layers::Named<"conv2", engstrom::Conv<32, 64, 3, layers::Stride<2>>>,
    layers::Named<"conv2.norm", engstrom::Norm<64>>, layers::ReLU,
    layers::Named<"conv3", engstrom::Conv<64, 128, 3, layers::Stride<2>>>,
    layers::Named<"conv3.norm", engstrom::Norm<128>>, layers::ReLU,  //
    layers::Named<"res1", engstrom::ResidualBlock>, layers::Named<"res2", engstrom::ResidualBlock>,
    layers::Named<"res3", engstrom::ResidualBlock>, layers::Named<"res4", engstrom::ResidualBlock>,
    layers::Named<"res5", engstrom::ResidualBlock>,
    layers::Named<"deconv1", layers::ConvTranspose2d<128, 64, 3, layers::Stride<2>, layers::Same, layers::NoBias>>,
    layers::Named<"deconv1.norm", engstrom::Norm<64>>, layers::ReLU,
    layers::Named<"deconv2", layers::ConvTranspose2d<64, 32, 3, layers::Stride<2>, layers::Same, layers::NoBias>>,
    layers::Named<"deconv2.norm", engstrom::Norm<32>>, layers::ReLU,
    layers::Named<"conv_out", engstrom::Conv<32, 3, 9>>, layers::Named<"conv_out.norm", engstrom::Norm<3>>,
    layers::ScaledTanh<150.0>>;

static_assert(concepts::layer<EngstromNet>);
static_assert(EngstromNet::in_channels == 3 && EngstromNet::out_channels == 3);
static_assert(EngstromNet::output_size({256, 256}) == Size2{256, 256},
              "EngstromNet: a 256x256 input must give a 256x256 output.");
static_assert(EngstromNet::output_size({474, 711}) == Size2{476, 712},
              "EngstromNet: other sizes come out as 4 * ceil(n / 4).");

// The file's name for one of our parameter names: the norms' "weight" and "bias" are TensorFlow's
// "scale" and "shift"; all else is named alike.
inline std::string engstrom_tensor_name(const std::string& name) {
  auto ends_with = [&](const std::string& s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  const std::string stem = name.substr(0, name.rfind('.') + 1);
  if (ends_with(".norm.weight")) return stem + "scale";
  if (ends_with(".norm.bias")) return stem + "shift";
  return name;
}

// Fills an EngstromNet model (any backend and scalar) from a converted lengstrom checkpoint. Throws
// FileError naming the tensor and the file when one is missing or the file holds tensors this
// network has no place for (another architecture), ShapeError naming both shapes for a mismatch.
template <class M>
io::LoadReport load_engstrom(M& model, const io::SafetensorsFile& file) {
  auto params = model.parameters();
  for (auto& p : params) p.name = engstrom_tensor_name(p.name);
  io::LoadOptions options;
  options.context = "lengstrom/fast-style-transfer network";
  io::LoadReport report = io::load_parameters(params, file, options);
  if (!report.unused.empty())
    throw FileError("load_engstrom: tensor \"" + report.unused.front() + "\" in " + file.path().string() +
                    " has no place in the lengstrom/fast-style-transfer network (" +
                    std::to_string(report.unused.size()) + " such tensors); is it another architecture?");
  return report;
}

template <class M>
io::LoadReport load_engstrom(M& model, const std::filesystem::path& path) {
  return load_engstrom(model, io::SafetensorsFile(path));
}

// Writes an EngstromNet model's parameters under the file's names (for tests and conversions).
template <class M>
void save_engstrom(M& model, const std::filesystem::path& path) {
  auto params = model.parameters();
  for (auto& p : params) p.name = engstrom_tensor_name(p.name);
  io::save_parameters(params, path, {{"format", "perceptual-transform-net"}, {"arch", "engstrom-tf"}});
}

}  // namespace perceptual::nets
