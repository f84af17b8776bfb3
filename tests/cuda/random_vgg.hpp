#pragma once
// A VGG-16 weights file up to relu4_3 (every layer Johnson et al.'s style loss reads) with
// He-scaled random weights and the Caffe normalisation, for StyleTrainer tests at the programs'
// sizes and layers; support/tiny_vgg.hpp's file stops at relu2_2.
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/nets/vgg.hpp"
#include "support/random.hpp"

namespace perceptual::testing {

inline void write_random_vgg16(const std::filesystem::path& path, std::uint64_t seed) {
  using Net = nets::AllReluVgg16;
  nets::LossNetwork<Net, Cpu, float> vgg;
  std::array<bool, Net::num_taps> active{};
  for (int t = 0; t < Net::num_taps; ++t) active[t] = Net::tap_names()[t] == "relu4_3";
  vgg.set_active_taps(active);
  std::mt19937_64 rng(seed);
  for (auto& p : vgg.parameters()) {
    const Shape4 s = p.value->shape();
    const double a = p.name.ends_with(".weight") ? std::sqrt(6.0 / (s.c * s.h * s.w)) : 0.1;
    randomize(*p.value, rng, -a, a);
  }
  io::save_parameters(vgg.parameters(), path,
                      {{"input_mean", "123.68,116.779,103.939"}, {"input_std", "1,1,1"}, {"architecture", "vgg16"}});
}

}  // namespace perceptual::testing
