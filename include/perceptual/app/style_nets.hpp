#pragma once
// The style networks a model file can hold, told apart as stylize, speed_table and objective need:
// lengstrom's (nets::EngstromNet) or our StyleTransformNet with instance norm or, when the file has
// running statistics, batch norm.
#include <cstdint>
#include <string>
#include <type_traits>

#include "perceptual/core/error.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/io/safetensors.hpp"
#include "perceptual/nets/transform.hpp"

namespace perceptual::app {

// "engstrom" or "johnson": our files say so in metadata ("architecture"); the converted lengstrom
// checkpoints carry "arch": "engstrom-tf" and, failing that, are known by their tensors' names.
inline std::string detect_preset(const io::SafetensorsFile& file) {
  const auto& meta = file.metadata();
  if (const auto it = meta.find("architecture"); it != meta.end()) {
    if (it->second == "johnson-style") return "johnson";
    throw FileError(file.path().string() + ": architecture \"" + it->second +
                    "\" is not a style network (expected johnson-style)");
  }
  if (const auto it = meta.find("arch"); it != meta.end() && it->second == "engstrom-tf") return "engstrom";
  if (file.has("conv1.norm.scale")) return "engstrom";
  if (file.has("conv1.norm.weight")) return "johnson";
  throw FileError(file.path().string() +
                  ": cannot tell the network from the file (no \"architecture\" metadata, no conv1.norm tensors); "
                  "give --preset");
}

// Calls f(std::type_identity<Net>{}) with the StyleTransformNet a model file holds (batch norm
// when it has running statistics, instance norm otherwise; instance norm for an empty path).
template <class F>
decltype(auto) with_style_net(const std::string& model, F&& f) {
  if (!model.empty() && io::SafetensorsFile(model).has("conv1.norm.running_mean"))
    return f(std::type_identity<nets::StyleTransformNet<nets::BatchNormDefault>>{});
  return f(std::type_identity<nets::StyleTransformNet<>>{});
}

// A StyleTransformNet in eval mode: the file's weights, or drawn from `seed` for an empty path.
template <class Net, class B>
void load_style_net(Model<Net, B, float>& net, const std::string& model, std::uint64_t seed) {
  if (model.empty())
    net.initialize(seed);
  else
    io::load_parameters(net, model, {.context = "a StyleTransformNet (train_style output)"});
  net.eval();
}

}  // namespace perceptual::app
