#pragma once
// Spatial sizes and 4-D (batch, channels, height, width) shapes, usable in constant expressions.
#include <cstddef>
#include <string>

namespace perceptual {

struct Size2 {
  int h = 0;
  int w = 0;
  friend constexpr bool operator==(Size2, Size2) = default;
};

struct Shape4 {
  int n = 0;
  int c = 0;
  int h = 0;
  int w = 0;
  friend constexpr bool operator==(Shape4, Shape4) = default;

  constexpr std::size_t size() const {
    return static_cast<std::size_t>(n) * static_cast<std::size_t>(c) * static_cast<std::size_t>(h) *
           static_cast<std::size_t>(w);
  }
  constexpr std::size_t plane() const { return static_cast<std::size_t>(h) * static_cast<std::size_t>(w); }
  constexpr Size2 spatial() const { return {h, w}; }
};

inline std::string to_string(Size2 s) {
  return std::to_string(s.h) + "x" + std::to_string(s.w);
}

inline std::string to_string(Shape4 s) {
  return std::to_string(s.n) + "x" + std::to_string(s.c) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w);
}

}  // namespace perceptual
