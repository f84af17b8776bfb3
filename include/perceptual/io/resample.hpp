#pragma once
// Resampling NCHW images on the CPU: bicubic resizing as MATLAB's imresize does it (the
// super-resolution protocol's), Gaussian blur (separable filters built from taps), and the
// super-resolution degradation that makes a low-resolution input from a high-resolution image.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/host.hpp"

namespace perceptual::io {

// How a filter reads beyond the image: replicate repeats the edge pixel (a a | a b c), reflect
// mirrors about it without repeating it (c b | a b c).
enum class Border { replicate, reflect };

namespace detail {

// For each output position along one axis: `count` input indices (already mapped into the
// image) and their weights.
struct Taps {
  int count = 0;
  std::vector<int> index;
  std::vector<double> weight;
};

// Keys' cubic convolution kernel with a = -0.5 (MATLAB's and PIL's bicubic).
inline double keys_cubic(double x) {
  x = std::abs(x);
  if (x <= 1) return (1.5 * x - 2.5) * x * x + 1;
  if (x < 2) return ((-0.5 * x + 2.5) * x - 4) * x + 2;
  return 0;
}

// Mirror with the edge repeated (MATLAB's "symmetric": ... b a | a b c | c b ...), any offset.
inline int mirror_symmetric(std::int64_t j, int n) {
  const std::int64_t period = 2 * static_cast<std::int64_t>(n);
  const std::int64_t m = ((j % period) + period) % period;
  return static_cast<int>(m < n ? m : period - 1 - m);
}

// Mirror without repeating the edge (c b | a b c | b a), any offset.
inline int mirror_reflect(std::int64_t j, int n) {
  if (n == 1) return 0;
  const std::int64_t period = 2 * (static_cast<std::int64_t>(n) - 1);
  const std::int64_t m = ((j % period) + period) % period;
  return static_cast<int>(m < n ? m : period - m);
}

// MATLAB imresize's contributions(): output i samples input position (i + 0.5) / scale - 0.5;
// when shrinking with antialiasing the kernel is stretched by 1/scale (and scaled by scale) so it
// low-passes before it subsamples. Weights are normalised to sum to 1; borders mirror.
inline Taps bicubic_taps(int in, int out, bool antialias) {
  const double scale = static_cast<double>(out) / in;
  const double stretch = antialias && scale < 1 ? scale : 1.0;
  const double support = 2.0 / stretch;  // the kernel's half-width in input pixels
  Taps t;
  t.count = static_cast<int>(std::ceil(2 * support)) + 2;
  t.index.resize(static_cast<std::size_t>(out) * t.count);
  t.weight.resize(t.index.size());
  for (int i = 0; i < out; ++i) {
    const double center = (i + 0.5) / scale - 0.5;
    const auto left = static_cast<std::int64_t>(std::floor(center - support));
    double total = 0;
    for (int k = 0; k < t.count; ++k) {
      const std::size_t at = static_cast<std::size_t>(i) * t.count + k;
      t.weight[at] = stretch * keys_cubic((center - static_cast<double>(left + k)) * stretch);
      t.index[at] = mirror_symmetric(left + k, in);
      total += t.weight[at];
    }
    for (int k = 0; k < t.count; ++k) t.weight[static_cast<std::size_t>(i) * t.count + k] /= total;
  }
  return t;
}

// A normalised Gaussian of the given sigma and radius ceil(3 sigma), same-size output.
inline Taps gaussian_taps(int n, double sigma, Border border) {
  const int radius = static_cast<int>(std::ceil(3 * sigma));
  std::vector<double> kernel(2 * static_cast<std::size_t>(radius) + 1);
  double total = 0;
  for (int k = -radius; k <= radius; ++k) total += kernel[k + radius] = std::exp(-0.5 * k * k / (sigma * sigma));
  Taps t;
  t.count = static_cast<int>(kernel.size());
  t.index.resize(static_cast<std::size_t>(n) * t.count);
  t.weight.resize(t.index.size());
  for (int i = 0; i < n; ++i)
    for (int k = -radius; k <= radius; ++k) {
      const std::size_t at = static_cast<std::size_t>(i) * t.count + (k + radius);
      const std::int64_t j = static_cast<std::int64_t>(i) + k;
      t.index[at] =
          border == Border::replicate ? static_cast<int>(std::clamp<std::int64_t>(j, 0, n - 1)) : mirror_reflect(j, n);
      t.weight[at] = kernel[k + radius] / total;
    }
  return t;
}

// Filters along W: out[.., y, i] = sum_k w[i,k] in[.., y, index[i,k]].
template <class T>
Tensor<T, Cpu> apply_taps_w(const Tensor<T, Cpu>& x, const Taps& t, int out_w) {
  Tensor<T, Cpu> y({x.n(), x.c(), x.h(), out_w});
  const std::size_t rows = static_cast<std::size_t>(x.n()) * x.c() * x.h();
  const T* in = x.data();
  T* out = y.data();
  for (std::size_t r = 0; r < rows; ++r, in += x.w(), out += out_w)
    for (int i = 0; i < out_w; ++i) {
      const std::size_t at = static_cast<std::size_t>(i) * t.count;
      double s = 0;
      for (int k = 0; k < t.count; ++k) s += t.weight[at + k] * in[t.index[at + k]];
      out[i] = static_cast<T>(s);
    }
  return y;
}

// Filters along H, a whole row at a time.
template <class T>
Tensor<T, Cpu> apply_taps_h(const Tensor<T, Cpu>& x, const Taps& t, int out_h) {
  Tensor<T, Cpu> y({x.n(), x.c(), out_h, x.w()});
  const std::size_t w = static_cast<std::size_t>(x.w());
  const std::size_t planes = static_cast<std::size_t>(x.n()) * x.c();
  std::vector<double> row(w);
  for (std::size_t p = 0; p < planes; ++p) {
    const T* in = x.data() + p * x.shape().plane();
    T* out = y.data() + p * y.shape().plane();
    for (int i = 0; i < out_h; ++i) {
      std::fill(row.begin(), row.end(), 0.0);
      const std::size_t at = static_cast<std::size_t>(i) * t.count;
      for (int k = 0; k < t.count; ++k) {
        const double wk = t.weight[at + k];
        if (wk == 0) continue;
        const T* src = in + static_cast<std::size_t>(t.index[at + k]) * w;
        for (std::size_t xw = 0; xw < w; ++xw) row[xw] += wk * src[xw];
      }
      for (std::size_t xw = 0; xw < w; ++xw) out[i * w + xw] = static_cast<T>(row[xw]);
    }
  }
  return y;
}

inline void require_image(Shape4 s, const std::string& where) {
  if (s.n <= 0 || s.c <= 0 || s.h <= 0 || s.w <= 0)
    throw ShapeError(where + ": input " + to_string(s) + " has no pixels");
}

}  // namespace detail

// Bicubic resize of every image and channel to out_h x out_w, as MATLAB's imresize(x, [h w],
// 'bicubic'): Keys' kernel (a = -0.5), half-pixel centres, symmetric borders, and when shrinking
// (antialias) the kernel widened by the scale factor, as MATLAB and PIL do. Resizes the axis with
// the smaller scale factor first (height on a tie), as MATLAB does. No clamping: bicubic
// overshoots, so clamp/round before comparing with 8-bit images.
template <class T>
Tensor<T, Cpu> resize_bicubic(const Tensor<T, Cpu>& x, int out_h, int out_w, bool antialias = true) {
  detail::require_image(x.shape(), "resize_bicubic");
  if (out_h <= 0 || out_w <= 0)
    throw ArgumentError("resize_bicubic: output size " + std::to_string(out_h) + "x" + std::to_string(out_w) +
                        " must be positive");
  const auto taps_h = detail::bicubic_taps(x.h(), out_h, antialias);
  const auto taps_w = detail::bicubic_taps(x.w(), out_w, antialias);
  const bool height_first = static_cast<double>(out_h) / x.h() <= static_cast<double>(out_w) / x.w();
  if (height_first) return detail::apply_taps_w(detail::apply_taps_h(x, taps_h, out_h), taps_w, out_w);
  return detail::apply_taps_h(detail::apply_taps_w(x, taps_w, out_w), taps_h, out_h);
}

template <class T>
Tensor<T, Cpu> resize_bicubic(const Tensor<T, Cpu>& x, Size2 size, bool antialias = true) {
  return resize_bicubic(x, size.h, size.w, antialias);
}

// x scaled (bicubic, antialiased when shrinking) so that its longer side is `size`, keeping the
// aspect ratio: how the style and Gatys programs size their images.
template <class T>
Tensor<T, Cpu> resize_longer_side(const Tensor<T, Cpu>& x, int size) {
  const double s = static_cast<double>(size) / std::max(x.h(), x.w());
  return resize_bicubic(x, std::max(1, static_cast<int>(std::lround(x.h() * s))),
                        std::max(1, static_cast<int>(std::lround(x.w() * s))));
}

// Gaussian blur of every image and channel: separable, weights exp(-k^2 / (2 sigma^2)) for
// |k| <= ceil(3 sigma), normalised to sum to 1. sigma = 0 returns a copy.
template <class T>
Tensor<T, Cpu> gaussian_blur(const Tensor<T, Cpu>& x, double sigma, Border border = Border::replicate) {
  detail::require_image(x.shape(), "gaussian_blur");
  if (!(sigma >= 0) || !std::isfinite(sigma) || sigma > 1e4)
    throw ArgumentError("gaussian_blur: sigma " + std::to_string(sigma) + " must be in [0, 1e4]");
  if (sigma == 0) return x;
  const auto along_h = detail::gaussian_taps(x.h(), sigma, border);
  const auto along_w = detail::gaussian_taps(x.w(), sigma, border);
  return detail::apply_taps_w(detail::apply_taps_h(x, along_h, x.h()), along_w, x.w());
}

// Johnson et al. sec. 4.2's low-resolution input: the HR image (values in [0, 255]) blurred by a
// Gaussian of `sigma` (1.0 in the paper; replicated borders), then bicubic-downscaled by `factor`
// (antialiased, as MATLAB's imresize), then clamped and rounded to 8-bit values, as a saved LR
// image would be (quantize = false keeps the floats). H and W must be multiples of the factor
// (crop first: the protocol's modcrop); ArgumentError otherwise or for a factor < 1.
template <class T>
Tensor<T, Cpu> sr_degrade(const Tensor<T, Cpu>& hr, int factor, double sigma = 1.0, bool quantize = true) {
  detail::require_image(hr.shape(), "sr_degrade");
  if (factor < 1 || hr.h() % factor != 0 || hr.w() % factor != 0)
    throw ArgumentError("sr_degrade: image " + to_string(hr.shape()) + " and factor " + std::to_string(factor) +
                        ": the height and width must be positive multiples of the factor");
  Tensor<T, Cpu> lr = resize_bicubic(gaussian_blur(hr, sigma), hr.h() / factor, hr.w() / factor);
  if (quantize)
    for (std::size_t i = 0; i < lr.size(); ++i) {
      const double v = static_cast<double>(lr.data()[i]);
      lr.data()[i] = static_cast<T>(std::isnan(v) ? 0 : std::round(std::clamp(v, 0.0, 255.0)));
    }
  return lr;
}

}  // namespace perceptual::io
