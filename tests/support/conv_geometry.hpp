#pragma once
// A convolution's geometry from one row of numbers, as tests list their cases.
#include "perceptual/core/conv_geometry.hpp"

namespace perceptual::testing {

// An n x c x h x w input, o x c x k x k weights, the stride, the padding before, and the output size.
inline ConvGeometry conv_geometry(int n, int c, int h, int w, int o, int k, int stride, int pad_top, int pad_left,
                                  int out_h, int out_w) {
  return ConvGeometry({.batch = n,
                       .in_channels = c,
                       .out_channels = o,
                       .kernel = k,
                       .input = {h, w},
                       .output = {out_h, out_w},
                       .stride = stride,
                       .pad_top = pad_top,
                       .pad_left = pad_left});
}

}  // namespace perceptual::testing
