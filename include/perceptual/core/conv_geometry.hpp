#pragma once
// ConvGeometry: the sizes of one 2-D convolution (batch, channels, kernel, stride, padding, input
// and output), validated once when made. Layers make one per input shape; both backends' conv
// operations take it, and their plan caches (oneDNN's, cuDNN's) key on it.
#include <compare>
#include <string>

#include "perceptual/core/error.hpp"
#include "perceptual/core/shape.hpp"

namespace perceptual {

// The three operations on one geometry; a transposed convolution runs backward_data forward.
enum class ConvOp { forward, backward_data, backward_filter };

// y[n, o, oy, ox] = sum_{c, ky, kx} w[o, c, ky, kx] * x[n, c, oy*stride - pad_top + ky, ox*stride - pad_left + kx],
// zero outside x; x: n x c x in_h x in_w, w: o x c x k x k, y: n x o x out_h x out_w.
// Padding is (top, left) plus the output size, so asymmetric padding (TensorFlow's SAME) needs
// nothing more: what that leaves after the last row and column (pad_bottom, pad_right) may be
// negative (input the output never reads) or exceed the kernel (zeros it reads).
class ConvGeometry {
 public:
  // The sizes by name, for designated initialisers:
  //   ConvGeometry({.batch = 1, .in_channels = 3, .out_channels = 32, .kernel = 9, .input = {256, 256},
  //                 .output = {256, 256}, .stride = 1, .pad_top = 4, .pad_left = 4})
  struct Sizes {
    int batch = 0, in_channels = 0, out_channels = 0, kernel = 0;
    Size2 input, output;
    int stride = 1, pad_top = 0, pad_left = 0;
  };

  // Throws ArgumentError for a stride below 1 or negative padding; ShapeError for a negative
  // batch, a channel count or kernel below 1, or an empty input or output. (An empty batch is a
  // geometry: its convolution has nothing to do.)
  constexpr explicit ConvGeometry(const Sizes& s)
      : n_(s.batch),
        c_(s.in_channels),
        o_(s.out_channels),
        k_(s.kernel),
        in_h_(s.input.h),
        in_w_(s.input.w),
        out_h_(s.output.h),
        out_w_(s.output.w),
        stride_(s.stride),
        pad_top_(s.pad_top),
        pad_left_(s.pad_left) {
    if (stride_ < 1) throw ArgumentError(where() + "stride " + std::to_string(stride_) + " (must be at least 1)");
    if (pad_top_ < 0 || pad_left_ < 0)
      throw ArgumentError(where() + "padding " + std::to_string(pad_top_) + "," + std::to_string(pad_left_) +
                          " (must not be negative)");
    if (k_ < 1) throw ShapeError(where() + "kernel size " + std::to_string(k_) + " (must be at least 1)");
    if (n_ < 0 || c_ < 1 || o_ < 1)
      throw ShapeError(where() + "batch " + std::to_string(n_) + ", channels " + std::to_string(c_) + " -> " +
                       std::to_string(o_) + " (channels must be at least 1)");
    if (out_h_ < 1 || out_w_ < 1 || in_h_ < 1 || in_w_ < 1)
      throw ShapeError(where() + "input " + to_string(input_size()) + ", output " + to_string(output_size()) +
                       " (both must be non-empty)");
  }

  constexpr int n() const { return n_; }  // batch
  constexpr int c() const { return c_; }  // input channels
  constexpr int o() const { return o_; }  // output channels
  constexpr int k() const { return k_; }  // kernel size (k x k)
  constexpr int in_h() const { return in_h_; }
  constexpr int in_w() const { return in_w_; }
  constexpr int out_h() const { return out_h_; }
  constexpr int out_w() const { return out_w_; }
  constexpr int stride() const { return stride_; }
  constexpr int pad_top() const { return pad_top_; }
  constexpr int pad_left() const { return pad_left_; }
  // Zeros after the last input row (column) that the last output row (column) reads: negative
  // when the output stops short of the input.
  constexpr int pad_bottom() const { return (out_h_ - 1) * stride_ + k_ - in_h_ - pad_top_; }
  constexpr int pad_right() const { return (out_w_ - 1) * stride_ + k_ - in_w_ - pad_left_; }

  constexpr Size2 input_size() const { return {in_h_, in_w_}; }
  constexpr Size2 output_size() const { return {out_h_, out_w_}; }
  constexpr Shape4 input_shape() const { return {n_, c_, in_h_, in_w_}; }     // x and dx
  constexpr Shape4 filter_shape() const { return {o_, c_, k_, k_}; }          // w and dw
  constexpr Shape4 output_shape() const { return {n_, o_, out_h_, out_w_}; }  // y and dy
  constexpr Sizes sizes() const { return {n_, c_, o_, k_, input_size(), output_size(), stride_, pad_top_, pad_left_}; }

  // Ordered, so that plan caches can key on it. (== declared too: nvcc 13's front end leaves the
  // one a defaulted <=> implies undefined.)
  friend constexpr bool operator==(const ConvGeometry&, const ConvGeometry&) = default;
  friend constexpr auto operator<=>(const ConvGeometry&, const ConvGeometry&) = default;

 private:
  std::string where() const {
    return "ConvGeometry (input " + to_string(input_shape()) + ", weight " + to_string(filter_shape()) + "): ";
  }

  int n_, c_, o_, k_, in_h_, in_w_, out_h_, out_w_, stride_, pad_top_, pad_left_;
};

// "input 1x3x5x5, weight 4x3x3x3, stride 1, pad 1,1, output 1x4x5x5", for messages.
inline std::string to_string(const ConvGeometry& g) {
  return "input " + to_string(g.input_shape()) + ", weight " + to_string(g.filter_shape()) + ", stride " +
         std::to_string(g.stride()) + ", pad " + std::to_string(g.pad_top()) + "," + std::to_string(g.pad_left()) +
         ", output " + to_string(g.output_shape());
}

}  // namespace perceptual
