#pragma once
// Generated video clips with known motion, for the video tests: a pan over a smooth texture (every
// frame the last one moved `step` pixels left, so the flow is known), a still clip, and frames of
// independent noise (no motion explains them).
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "perceptual/core/host.hpp"
#include "perceptual/core/random.hpp"

namespace perceptual::testing {

// A smooth, textured RGB image on the 0..255 scale, seen through an h x w window whose left edge
// is at column `x0` of the infinite texture.
inline Tensor<float, Cpu> texture_window(int h, int w, double x0) {
  Tensor<float, Cpu> f({1, 3, h, w});
  float* p = f.data();
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < w; ++j) {
        const double x = j + x0, y = i;
        p[(static_cast<std::size_t>(c) * h + i) * w + j] = static_cast<float>(
            128 + 60 * std::sin(x / 6.0 + c) * std::cos(y / 5.0) + 50 * std::sin((x + 2 * y) / 9.0 - c));
      }
  return f;
}

// `frames` frames panning right over the texture by `step` pixels a frame.
inline std::vector<Tensor<float, Cpu>> pan_clip(int frames, int h, int w, double step) {
  std::vector<Tensor<float, Cpu>> clip;
  for (int t = 0; t < frames; ++t) clip.push_back(texture_window(h, w, step * t));
  return clip;
}

inline std::vector<Tensor<float, Cpu>> noise_clip(int frames, int h, int w, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Tensor<float, Cpu>> clip;
  for (int t = 0; t < frames; ++t) clip.push_back(random_tensor<float>({1, 3, h, w}, rng, 0, 255));
  return clip;
}

}  // namespace perceptual::testing
