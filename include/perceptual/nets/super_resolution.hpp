#pragma once
// Super-resolution model files: what one holds (SrModelInfo: factor and normalisation, from the
// metadata train_sr writes or else from the tensor names), for any backend. SuperResolver
// (nets/super_resolver.hpp) loads one on the CPU and upscales images with it.
#include <cstdint>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/io/safetensors.hpp"
#include "perceptual/nets/transform.hpp"

namespace perceptual::nets {

// The "architecture" metadata of super-resolution model files (style networks: "johnson-style").
inline constexpr const char* sr_architecture = "johnson-sr";
// The smallest input side: the 9x9 reflection-padded convolutions need 4 pixels beside each one.
inline constexpr int sr_min_input = 5;

// "batch" or "instance": the "norm" metadata of a net built with this normalisation policy.
template <template <int> class Norm>
constexpr const char* norm_name() {
  constexpr bool batch = std::is_same_v<Norm<8>, layers::BatchNorm<8>>;
  static_assert(batch || std::is_same_v<Norm<8>, layers::InstanceNorm<8>>,
                "norm_name: the normalisation must be BatchNormDefault or InstanceNormDefault.");
  return batch ? "batch" : "instance";
}

struct SrModelInfo {
  int factor = 4;
  bool batch_norm = true;
  std::map<std::string, std::string> metadata;
};

// Reads what a super-resolution file holds. FileError naming the file when it holds another
// network (a style network, VGG weights, ...) or its metadata contradicts its tensors.
inline SrModelInfo sr_model_info(const io::SafetensorsFile& file) {
  const std::string where = file.path().string() + ": ";
  const auto& meta = file.metadata();
  const auto arch = meta.find("architecture");
  if (arch != meta.end() && arch->second != sr_architecture)
    throw FileError(where + "architecture \"" + arch->second + "\" is not a super-resolution network (expected " +
                    sr_architecture + (arch->second == "johnson-style" ? "; style networks are for stylize)" : ")"));
  if (arch == meta.end()) {
    const bool sr_shaped = file.has("conv1.weight") && file.has("deconv1.weight") && !file.has("conv2.weight") &&
                           file.shape("conv1.weight") == std::vector<std::int64_t>{64, 3, 9, 9};
    if (!sr_shaped && file.has("conv2.weight") && file.has("conv3.weight"))
      throw FileError(where +
                      "holds a style network (tensors conv1, conv2, conv3, res1..res5), not a "
                      "super-resolution network; style networks are for stylize");
    if (!sr_shaped)
      throw FileError(where + "not a super-resolution network (no \"architecture\": \"" + sr_architecture +
                      "\" metadata, and not the tensors of one: conv1.weight 64x3x9x9, res1..res4, deconv1)");
  }
  SrModelInfo info;
  info.metadata = meta;
  const int tensor_factor = file.has("deconv3.weight") ? 8 : 4;
  info.factor = tensor_factor;
  if (const auto it = meta.find("factor"); it != meta.end()) {
    info.factor = it->second == "4" ? 4 : it->second == "8" ? 8 : 0;
    if (info.factor == 0) throw FileError(where + "factor \"" + it->second + "\" is not 4 or 8");
    if (info.factor != tensor_factor)
      throw FileError(where + "the metadata says factor " + it->second + ", the tensors are a x" +
                      std::to_string(tensor_factor) + " network");
  }
  info.batch_norm = file.has("conv1.norm.running_mean");
  if (const auto it = meta.find("norm"); it != meta.end() && it->second != (info.batch_norm ? "batch" : "instance"))
    throw FileError(where + "the metadata says norm \"" + it->second + "\", the tensors " +
                    (info.batch_norm ? "have" : "lack") + " batch-norm running statistics");
  return info;
}

}  // namespace perceptual::nets
