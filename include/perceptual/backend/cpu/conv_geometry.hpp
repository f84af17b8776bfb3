#pragma once
// The geometry of one CPU convolution, validated once and shared by its two routes: im2col + BLAS
// (conv.hpp) and oneDNN (dnnl.hpp). Padding is (top, left) plus the output size; what that implies
// after the last row and column may be negative (rows the output never reads) or exceed the kernel.
#include <compare>
#include <string>

#include "perceptual/backend/checks.hpp"

namespace perceptual::cpu::detail {

// The three operations of a convolution layer; a transposed convolution runs backward_data forward.
enum class ConvOp { forward, backward_data, backward_filter };

struct ConvGeometry {
  int n, c, in_h, in_w, o, k, out_h, out_w, stride, pad_top, pad_left;

  int taps() const { return c * k * k; }  // rows of the im2col matrix
  bool is_pointwise() const {             // 1x1, stride 1, no padding: x is its own im2col matrix
    return k == 1 && stride == 1 && pad_top == 0 && pad_left == 0 && out_h == in_h && out_w == in_w;
  }
  // Zeros after the last input row (column) that the last output row (column) reads: negative
  // when the output stops short of the input.
  int pad_bottom() const { return (out_h - 1) * stride + k - in_h - pad_top; }
  int pad_right() const { return (out_w - 1) * stride + k - in_w - pad_left; }

  auto operator<=>(const ConvGeometry&) const = default;
};

inline void check_geometry(const ConvGeometry& g, const std::string& where) {
  checks::conv_geometry(g.stride, g.pad_top, g.pad_left, g.k, g.in_h, g.in_w, g.out_h, g.out_w, where);
}

}  // namespace perceptual::cpu::detail
