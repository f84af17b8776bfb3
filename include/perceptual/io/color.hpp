#pragma once
// RGB <-> YCbCr, ITU-R BT.601 "studio swing" as MATLAB's rgb2ycbcr / ycbcr2rgb compute it (the
// super-resolution papers' Y-channel PSNR), on the 0..255 scale of our image tensors.
#include <array>
#include <cstddef>
#include <string>

#include "perceptual/core/error.hpp"
#include "perceptual/core/host.hpp"

namespace perceptual::io {

// With R, G, B in [0, 255]:
//   Y  =  16 + ( 65.481 R + 128.553 G +  24.966 B) / 255
//   Cb = 128 + (-37.797 R -  74.203 G + 112.000 B) / 255
//   Cr = 128 + (112.000 R -  93.786 G -  18.214 B) / 255
// The rows are 219 (luma range 16..235) times Kr, Kg, Kb = 0.299, 0.587, 0.114, and 224 (chroma
// range 16..240) times (B - Y) / 1.772 and (R - Y) / 1.402. White gives Y = 235, black Y = 16,
// greys Cb = Cr = 128. The inverse below is this matrix's exact inverse, so a round trip is
// lossless up to rounding; values outside the ranges are not clipped.
inline constexpr std::array<std::array<double, 3>, 3> bt601_rgb_to_ycbcr{{
    {65.481 / 255, 128.553 / 255, 24.966 / 255},
    {-37.797 / 255, -74.203 / 255, 112.0 / 255},
    {112.0 / 255, -93.786 / 255, -18.214 / 255},
}};
inline constexpr std::array<double, 3> bt601_offset{16, 128, 128};

namespace detail {

constexpr std::array<std::array<double, 3>, 3> inverse3(const std::array<std::array<double, 3>, 3>& m) {
  const double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                     m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                     m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  std::array<std::array<double, 3>, 3> r{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      // Cofactor of m[j][i] (the adjugate is the transposed cofactor matrix).
      const int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
      r[i][j] = (m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]) / det;
    }
  return r;
}

// out = matrix * (in - before) + after, per pixel, for 3-channel NCHW tensors.
template <class T>
Tensor<T, Cpu> color_transform(const Tensor<T, Cpu>& x, const std::array<std::array<double, 3>, 3>& m,
                               const std::array<double, 3>& before, const std::array<double, 3>& after,
                               int out_channels, const char* where) {
  if (x.c() != 3) throw ShapeError(std::string(where) + ": input " + to_string(x.shape()) + ", expected 3 channels");
  Tensor<T, Cpu> y({x.n(), out_channels, x.h(), x.w()});
  const std::size_t plane = x.shape().plane();
  for (int n = 0; n < x.n(); ++n) {
    const T* in = x.data() + static_cast<std::size_t>(n) * 3 * plane;
    T* out = y.data() + static_cast<std::size_t>(n) * out_channels * plane;
    for (std::size_t i = 0; i < plane; ++i) {
      const double a = in[i] - before[0], b = in[plane + i] - before[1], c = in[2 * plane + i] - before[2];
      for (int k = 0; k < out_channels; ++k)
        out[k * plane + i] = static_cast<T>(m[k][0] * a + m[k][1] * b + m[k][2] * c + after[k]);
    }
  }
  return y;
}

}  // namespace detail

inline constexpr auto bt601_ycbcr_to_rgb = detail::inverse3(bt601_rgb_to_ycbcr);

// Nx3xHxW RGB in [0, 255] -> Nx3xHxW (Y, Cb, Cr), Y in [16, 235], Cb and Cr in [16, 240].
template <class T>
Tensor<T, Cpu> rgb_to_ycbcr(const Tensor<T, Cpu>& rgb) {
  return detail::color_transform(rgb, bt601_rgb_to_ycbcr, {0, 0, 0}, bt601_offset, 3, "rgb_to_ycbcr");
}

// Nx3xHxW (Y, Cb, Cr) -> Nx3xHxW RGB on the 0..255 scale (unclipped).
template <class T>
Tensor<T, Cpu> ycbcr_to_rgb(const Tensor<T, Cpu>& ycbcr) {
  return detail::color_transform(ycbcr, bt601_ycbcr_to_rgb, bt601_offset, {0, 0, 0}, 3, "ycbcr_to_rgb");
}

// Nx3xHxW RGB in [0, 255] -> Nx1xHxW luma Y in [16, 235]: the channel SR PSNR is measured on.
template <class T>
Tensor<T, Cpu> rgb_to_luma_y(const Tensor<T, Cpu>& rgb) {
  return detail::color_transform(rgb, bt601_rgb_to_ycbcr, {0, 0, 0}, bt601_offset, 1, "rgb_to_luma_y");
}

}  // namespace perceptual::io
