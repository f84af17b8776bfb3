#pragma once
// A tiny VGG-16 weights file for program tests: its first two blocks (to relu2_2) with He-scaled
// random weights and the Caffe normalisation, as scripts/convert_vgg.py would write them.
#include <array>
#include <cmath>
#include <filesystem>
#include <random>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/nets/vgg.hpp"
#include "support/random.hpp"

namespace perceptual::testing {

inline void write_tiny_vgg(const std::filesystem::path& path, std::uint64_t seed = 7) {
  nets::LossNetwork<nets::AllReluVgg16, Cpu, float> vgg;
  std::array<bool, nets::AllReluVgg16::num_taps> active{};
  active[3] = true;  // relu2_2
  vgg.set_active_taps(active);
  std::mt19937_64 rng(seed);
  for (auto& p : vgg.parameters()) {
    const Shape4 s = p.value->shape();
    const bool weight = p.name.ends_with(".weight");
    const double a = weight ? std::sqrt(6.0 / (s.c * s.h * s.w)) : 0.1;
    randomize(*p.value, rng, -a, a);
  }
  io::save_parameters(vgg.parameters(), path,
                      {{"input_mean", "123.68,116.779,103.939"}, {"input_std", "1,1,1"}, {"architecture", "vgg16"}});
}

}  // namespace perceptual::testing
