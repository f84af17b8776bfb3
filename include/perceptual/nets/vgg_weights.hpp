#pragma once
// Loads a VGG loss network from safetensors: tensors convX_Y.weight (OIHW) and convX_Y.bias, and
// the input normalisation in the metadata (input_mean, input_std: "r,g,b" on the 0..255 scale),
// as scripts/convert_vgg.py writes them. A file may stop early when the active taps need no more.
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "perceptual/io/parameters.hpp"
#include "perceptual/io/safetensors.hpp"
#include "perceptual/nets/vgg.hpp"

namespace perceptual::nets {

namespace vgg_detail {

// "123.68,116.779,103.939" -> {123.68, 116.779, 103.939}; FileError naming the file otherwise.
inline std::vector<double> metadata_triple(const io::SafetensorsFile& file, const std::string& key) {
  const auto it = file.metadata().find(key);
  if (it == file.metadata().end())
    throw FileError("VGG weights " + file.path().string() + ": the metadata has no \"" + key +
                    "\" (the input normalisation; scripts/convert_vgg.py writes it)");
  std::vector<double> values;
  std::stringstream in(it->second);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || end == item.c_str() || *end != '\0')
      throw FileError("VGG weights " + file.path().string() + ": metadata \"" + key + "\" = \"" + it->second +
                      "\" is not a list of numbers");
    values.push_back(v);
  }
  if (values.size() != 3)
    throw FileError("VGG weights " + file.path().string() + ": metadata \"" + key + "\" = \"" + it->second +
                    "\" needs 3 values (R,G,B)");
  return values;
}

}  // namespace vgg_detail

// The VGG depth a file holds: its "architecture" metadata ("vgg16"/"vgg19") when present, else
// 19 when it has conv3_4 (VGG-16's third block stops at conv3_3), else 16.
inline int vgg_depth(const io::SafetensorsFile& file) {
  if (const auto it = file.metadata().find("architecture"); it != file.metadata().end()) {
    if (it->second == "vgg16") return 16;
    if (it->second == "vgg19") return 19;
  }
  return file.has("conv3_4.weight") ? 19 : 16;
}

// The style layers to use with a file when none are given: the paper's relu1_2, relu2_2, relu3_3,
// relu4_3 where the file reaches conv4_3; otherwise relu1_2, relu2_2 and the deepest of block 3
// it has (relu3_4 for the shared VGG-19, which stops at conv3_4), or as much of that as it has.
inline std::vector<std::string> default_style_layers(const io::SafetensorsFile& file) {
  if (file.has("conv4_3.weight")) return {"relu1_2", "relu2_2", "relu3_3", "relu4_3"};
  std::vector<std::string> layers;
  for (const char* layer : {"relu1_2", "relu2_2"})
    if (file.has("conv" + std::string(layer + 4) + ".weight")) layers.emplace_back(layer);
  for (const char* layer : {"relu3_4", "relu3_3"})
    if (file.has("conv" + std::string(layer + 4) + ".weight")) {
      layers.emplace_back(layer);
      break;
    }
  if (layers.empty()) throw FileError("VGG weights " + file.path().string() + " have no conv1_2: no style layer");
  return layers;
}

// Fills the convolutions the active taps need and sets the input normalisation. A missing tensor
// is a FileError naming the tap that needs it, the tensor and the file.
template <class V>
void load_vgg_weights(V& vgg, const std::filesystem::path& path) {
  using Net = typename V::net_type;
  const io::SafetensorsFile file(path);
  const int file_depth = vgg_depth(file);
  if (file_depth != Net::depth && vgg.stages_needed() > 4)  // the first two blocks are the same in both
    throw FileError("VGG weights " + path.string() + " hold VGG-" + std::to_string(file_depth) +
                    ", but the network is " + Net::name());
  const auto taps = Net::tap_names();
  for (int t = 0; t < Net::num_taps; ++t) {
    if (!vgg.active_taps()[t]) continue;
    for (int stage = 0; stage <= Net::tap_stages[t]; ++stage)
      for (const char* what : {".weight", ".bias"})
        if (const std::string tensor = Net::conv_name(stage) + what; !file.has(tensor))
          throw FileError(Net::name() + ": tap " + taps[t] + " needs tensor \"" + tensor + "\", which " +
                          path.string() + " lacks (a file with fewer layers serves only shallower taps)");
  }
  const auto mean = vgg_detail::metadata_triple(file, "input_mean");
  const auto std = vgg_detail::metadata_triple(file, "input_std");
  io::load_parameters(vgg.parameters(), file, {.context = "VGG loss network"});
  vgg.set_normalization(mean, std);
}

}  // namespace perceptual::nets
