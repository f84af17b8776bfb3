#pragma once
// Argument checks shared by every backend's operations: the same sizes are valid on the CPU and
// the GPU, so each check is written once, over Tensor<T, Backend>.
#include <cstddef>
#include <string>

#include "perceptual/core/epilogue.hpp"
#include "perceptual/core/error.hpp"
#include "perceptual/core/tensor.hpp"

namespace perceptual::checks {

// Throws unless a convolution's geometry is usable: stride >= 1, padding >= 0, kernel >= 1 and
// non-empty input and output.
inline void conv_geometry(int stride, int pad_top, int pad_left, int k, int in_h, int in_w, int out_h, int out_w,
                          const std::string& where) {
  if (stride < 1) throw ArgumentError(where + ": stride " + std::to_string(stride) + " (must be at least 1)");
  if (pad_top < 0 || pad_left < 0)
    throw ArgumentError(where + ": padding " + std::to_string(pad_top) + "," + std::to_string(pad_left) +
                        " (must not be negative)");
  if (k < 1) throw ShapeError(where + ": kernel size " + std::to_string(k));
  if (out_h < 1 || out_w < 1 || in_h < 1 || in_w < 1)
    throw ShapeError(where + ": input " + std::to_string(in_h) + "x" + std::to_string(in_w) + ", output " +
                     std::to_string(out_h) + "x" + std::to_string(out_w) + " (both must be non-empty)");
}

template <class T, class B>
void require_square_filter(const Tensor<T, B>& w, const std::string& where) {
  if (w.h() != w.w() || w.h() < 1) throw ShapeError(where + ": weight " + to_string(w.shape()) + " is not KxK");
}

// Reflection padding needs each pad smaller than the size it pads (the edge is not repeated).
template <class T, class B>
void require_reflectable(const Tensor<T, B>& x, int top, int bottom, int left, int right, const std::string& where) {
  if (top < 0 || bottom < 0 || left < 0 || right < 0)
    throw ArgumentError(where + ": negative padding for " + to_string(x.shape()));
  if (top >= x.h() || bottom >= x.h() || left >= x.w() || right >= x.w())
    throw ShapeError(where + ": padding (top " + std::to_string(top) + ", bottom " + std::to_string(bottom) +
                     ", left " + std::to_string(left) + ", right " + std::to_string(right) + ") of input " +
                     to_string(x.shape()) + " (each must be smaller than the size it pads)");
}

// Throws ShapeError unless `t` holds one value per channel of `x` (a normalisation parameter).
template <class T, class B>
void require_norm_parameter(const Tensor<T, B>& t, const Tensor<T, B>& x, const char* what, const char* where) {
  if (t.size() != static_cast<std::size_t>(x.c()))
    throw ShapeError(std::string(where) + ": " + what + " " + to_string(t.shape()) + " for input " +
                     to_string(x.shape()) + ", expected " + std::to_string(x.c()) + " values");
}

// Throws ShapeError unless `bias` has shape 1 x C x 1 x 1 for an output of C channels.
template <class T, class B>
void require_bias(const Tensor<T, B>& bias, int channels, const std::string& where) {
  if (bias.shape() != Shape4{1, channels, 1, 1})
    throw ShapeError(where + ": bias " + to_string(bias.shape()) + " for " + std::to_string(channels) +
                     " output channels, expected 1x" + std::to_string(channels) + "x1x1");
}

// Throws ShapeError unless a norm's output and its epilogue's residual have the input's shape.
template <class T, class B>
void require_norm_output(const Tensor<T, B>& x, const Tensor<T, B>& y, const NormEpilogue<T, B>& e, const char* where) {
  require_same_shape(x, y, where);
  if (e.residual) require_same_shape(x, *e.residual, where);
}

inline Shape4 pooled_shape_2x2(Shape4 s) {
  return {s.n, s.c, s.h / 2, s.w / 2};
}

// Throws ShapeError unless the input has a 2x2 window and dy has the pooled shape.
inline void require_pool_shapes(Shape4 x, Shape4 dy, const char* where) {
  if (x.h < 2 || x.w < 2)
    throw ShapeError(std::string(where) + ": input " + to_string(x) + " is smaller than the 2x2 window");
  if (dy != pooled_shape_2x2(x))
    throw ShapeError(std::string(where) + ": gradient " + to_string(dy) + " for input " + to_string(x) + ", expected " +
                     to_string(pooled_shape_2x2(x)));
}

}  // namespace perceptual::checks
