#pragma once
// Image quality metrics of the super-resolution protocol: PSNR and SSIM (Wang et al. 2004) on
// single-channel images in [0, 255], and their Y-channel forms for RGB images (psnr_y, ssim_y).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/host.hpp"
#include "perceptual/io/color.hpp"

namespace perceptual::io {

// SSIM's constants as the SR evaluation code uses them: an 11x11 Gaussian window (sigma 1.5),
// C1 = (0.01 L)^2, C2 = (0.03 L)^2 with the dynamic range L = 255.
inline constexpr int ssim_window = 11;
inline constexpr double ssim_sigma = 1.5;
inline constexpr double ssim_k1 = 0.01, ssim_k2 = 0.03, ssim_range = 255;

// PSNR = 10 log10(peak^2 / MSE) over every pixel of the Nx1xHxW images (the MSE is pooled over the
// batch), after cropping `border` pixels from each side. +infinity for identical images. Throws
// ShapeError when the shapes differ or are not single-channel, ArgumentError when the border
// leaves no pixels or the peak is not positive.
template <class T>
double psnr(const Tensor<T, Cpu>& a, const Tensor<T, Cpu>& b, double peak = 255, int border = 0);

// Mean SSIM (Wang et al. 2004, eq. 13 with the Gaussian window) over the valid windows of the
// Nx1xHxW images (no padding: an HxW image has (H-10)x(W-10) windows), after cropping `border`
// pixels from each side. 1 for identical images. Throws ShapeError when the shapes differ, are not
// single-channel or the (cropped) image is smaller than the window, ArgumentError when the border
// leaves no pixels.
template <class T>
double ssim(const Tensor<T, Cpu>& a, const Tensor<T, Cpu>& b, int border = 0);

// The SR protocol on Nx3xHxW RGB images in [0, 255]: both are clamped and rounded to 8-bit values
// (the saved images), converted to BT.601 luma Y in [16, 235] (not rounded again), and measured
// with `border` pixels cropped from each side (the protocol crops the scale factor).
template <class T>
double psnr_y(const Tensor<T, Cpu>& a, const Tensor<T, Cpu>& b, int border = 0);
template <class T>
double ssim_y(const Tensor<T, Cpu>& a, const Tensor<T, Cpu>& b, int border = 0);

// ---------------------------------------------------------------------------------------------

namespace detail {

template <class T>
void require_metric_pair(const Tensor<T, Cpu>& a, const Tensor<T, Cpu>& b, int channels, const char* where) {
  if (a.shape() != b.shape())
    throw ShapeError(std::string(where) + ": images " + to_string(a.shape()) + " and " + to_string(b.shape()) +
                     " differ in shape");
  if (a.c() != channels)
    throw ShapeError(std::string(where) + ": images " + to_string(a.shape()) + ", expected " +
                     std::to_string(channels) + (channels == 1 ? " channel" : " channels"));
  if (a.empty()) throw ShapeError(std::string(where) + ": images " + to_string(a.shape()) + " have no pixels");
}

inline void require_border(Shape4 s, int border, const char* where) {
  if (border < 0 || 2 * static_cast<long>(border) >= s.h || 2 * static_cast<long>(border) >= s.w)
    throw ArgumentError(std::string(where) + ": border " + std::to_string(border) + " leaves no pixels of " +
                        std::to_string(s.h) + "x" + std::to_string(s.w) + " images");
}

// The normalised 1-D Gaussian; the 2-D window is its outer product (what fspecial computes).
inline std::array<double, ssim_window> ssim_taps() {
  std::array<double, ssim_window> g{};
  double sum = 0;
  for (int i = 0; i < ssim_window; ++i) {
    const double x = i - (ssim_window - 1) / 2;
    sum += g[i] = std::exp(-x * x / (2 * ssim_sigma * ssim_sigma));
  }
  for (auto& v : g) v /= sum;
  return g;
}

// Valid (unpadded) separable filtering of an h x w plane with the SSIM window.
inline std::vector<double> ssim_filter(const std::vector<double>& in, int h, int w) {
  const auto g = ssim_taps();
  const int oh = h - ssim_window + 1, ow = w - ssim_window + 1;
  std::vector<double> rows(static_cast<std::size_t>(h) * ow), out(static_cast<std::size_t>(oh) * ow);
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < ow; ++j) {
      double s = 0;
      for (int k = 0; k < ssim_window; ++k) s += g[k] * in[static_cast<std::size_t>(i) * w + j + k];
      rows[static_cast<std::size_t>(i) * ow + j] = s;
    }
  for (int i = 0; i < oh; ++i)
    for (int j = 0; j < ow; ++j) {
      double s = 0;
      for (int k = 0; k < ssim_window; ++k) s += g[k] * rows[static_cast<std::size_t>(i + k) * ow + j];
      out[static_cast<std::size_t>(i) * ow + j] = s;
    }
  return out;
}

// Clamped and rounded to 8-bit values, in double: what saving the image as PNG keeps.
template <class T>
Tensor<double, Cpu> to_8bit(const Tensor<T, Cpu>& x) {
  Tensor<double, Cpu> y(x.shape());
  const T* in = x.data();
  double* out = y.data();
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double v = static_cast<double>(in[i]);
    out[i] = std::isnan(v) ? 0 : std::round(std::clamp(v, 0.0, 255.0));
  }
  return y;
}

}  // namespace detail

template <class T>
double psnr(const Tensor<T, Cpu>& a, const Tensor<T, Cpu>& b, double peak, int border) {
  detail::require_metric_pair(a, b, 1, "psnr");
  detail::require_border(a.shape(), border, "psnr");
  if (!(peak > 0) || !std::isfinite(peak))
    throw ArgumentError("psnr: peak " + std::to_string(peak) + " must be positive");
  const int h = a.h(), w = a.w();
  const std::size_t plane = a.shape().plane();
  double sum = 0;
  std::size_t count = 0;
  for (int n = 0; n < a.n(); ++n)
    for (int i = border; i < h - border; ++i)
      for (int j = border; j < w - border; ++j, ++count) {
        const std::size_t k = static_cast<std::size_t>(n) * plane + static_cast<std::size_t>(i) * w + j;
        const double d = static_cast<double>(a.data()[k]) - static_cast<double>(b.data()[k]);
        sum += d * d;
      }
  const double mse = sum / static_cast<double>(count);
  if (mse == 0) return std::numeric_limits<double>::infinity();
  return 10 * std::log10(peak * peak / mse);
}

template <class T>
double ssim(const Tensor<T, Cpu>& a, const Tensor<T, Cpu>& b, int border) {
  detail::require_metric_pair(a, b, 1, "ssim");
  detail::require_border(a.shape(), border, "ssim");
  const int h = a.h() - 2 * border, w = a.w() - 2 * border;
  if (h < ssim_window || w < ssim_window)
    throw ShapeError("ssim: images " + to_string(a.shape()) + " with border " + std::to_string(border) + " leave " +
                     std::to_string(h) + "x" + std::to_string(w) + " pixels, less than the " +
                     std::to_string(ssim_window) + "x" + std::to_string(ssim_window) + " window");
  constexpr double c1 = (ssim_k1 * ssim_range) * (ssim_k1 * ssim_range);
  constexpr double c2 = (ssim_k2 * ssim_range) * (ssim_k2 * ssim_range);
  const std::size_t plane = a.shape().plane(), cropped = static_cast<std::size_t>(h) * w;
  double sum = 0;
  std::size_t count = 0;
  for (int n = 0; n < a.n(); ++n) {
    // The window's means of x, y, x^2, y^2 and xy give mu and the (population) (co)variances.
    std::vector<double> x(cropped), y(cropped), xx(cropped), yy(cropped), xy(cropped);
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < w; ++j) {
        const std::size_t src = static_cast<std::size_t>(n) * plane + static_cast<std::size_t>(i + border) * a.w() +
                                static_cast<std::size_t>(j + border);
        const std::size_t dst = static_cast<std::size_t>(i) * w + j;
        x[dst] = static_cast<double>(a.data()[src]);
        y[dst] = static_cast<double>(b.data()[src]);
        xx[dst] = x[dst] * x[dst];
        yy[dst] = y[dst] * y[dst];
        xy[dst] = x[dst] * y[dst];
      }
    const auto mx = detail::ssim_filter(x, h, w), my = detail::ssim_filter(y, h, w);
    const auto mxx = detail::ssim_filter(xx, h, w), myy = detail::ssim_filter(yy, h, w);
    const auto mxy = detail::ssim_filter(xy, h, w);
    for (std::size_t k = 0; k < mx.size(); ++k, ++count) {
      const double vx = mxx[k] - mx[k] * mx[k], vy = myy[k] - my[k] * my[k], cxy = mxy[k] - mx[k] * my[k];
      sum += (2 * mx[k] * my[k] + c1) * (2 * cxy + c2) / ((mx[k] * mx[k] + my[k] * my[k] + c1) * (vx + vy + c2));
    }
  }
  return sum / static_cast<double>(count);
}

template <class T>
double psnr_y(const Tensor<T, Cpu>& a, const Tensor<T, Cpu>& b, int border) {
  detail::require_metric_pair(a, b, 3, "psnr_y");
  detail::require_border(a.shape(), border, "psnr_y");
  return psnr(rgb_to_luma_y(detail::to_8bit(a)), rgb_to_luma_y(detail::to_8bit(b)), 255, border);
}

template <class T>
double ssim_y(const Tensor<T, Cpu>& a, const Tensor<T, Cpu>& b, int border) {
  detail::require_metric_pair(a, b, 3, "ssim_y");
  detail::require_border(a.shape(), border, "ssim_y");
  return ssim(rgb_to_luma_y(detail::to_8bit(a)), rgb_to_luma_y(detail::to_8bit(b)), border);
}

}  // namespace perceptual::io
