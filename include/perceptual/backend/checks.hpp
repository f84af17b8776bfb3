#pragma once
// Argument checks shared by every backend's operations: the same sizes are valid on the CPU and
// the GPU, so each check is written once, over Tensor<T, Backend>.
#include <cstddef>
#include <string>

#include "perceptual/core/conv_geometry.hpp"
#include "perceptual/core/epilogue.hpp"
#include "perceptual/core/error.hpp"
#include "perceptual/core/tensor.hpp"

namespace perceptual::checks {

// Throws ShapeError unless a convolution's operand (input, weight, output gradient...) has the
// shape its geometry gives it.
template <class T, class B>
void require_conv_operand(const Tensor<T, B>& t, Shape4 expected, const char* what, const ConvGeometry& g,
                          const std::string& where) {
  if (t.shape() != expected)
    throw ShapeError(where + ": " + what + " " + to_string(t.shape()) + ", expected " + to_string(expected) + " for " +
                     to_string(g));
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
