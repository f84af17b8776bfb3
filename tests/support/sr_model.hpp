#pragma once
// Untrained super-resolution model files for program tests, written as train_sr writes its models.
#include <cstdint>
#include <filesystem>
#include <string>

#include "perceptual/core/model.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/nets/super_resolution.hpp"

namespace perceptual::testing {

// A batch-norm SuperResolutionNet<Factor> from `seed`, with train_sr's architecture/factor/norm metadata.
template <int Factor>
void write_sr_model(const std::filesystem::path& path, std::uint64_t seed = 1) {
  Model<nets::SuperResolutionNet<Factor, nets::BatchNormDefault>, Cpu, float> net;
  net.initialize(seed);
  io::save_parameters(net, path,
                      {{"architecture", nets::sr_architecture}, {"factor", std::to_string(Factor)}, {"norm", "batch"}});
}

}  // namespace perceptual::testing
