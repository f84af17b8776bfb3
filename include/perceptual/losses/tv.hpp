#pragma once
// Total variation regulariser (Johnson et al. 2016, section 3.3; Mahendran & Vedaldi): squared
// differences of neighbouring pixels, which favours spatially smooth outputs.
#include "perceptual/losses/loss.hpp"

namespace perceptual::losses {

// How the two directional sums are normalised.
enum class TvNorm {
  // The plain squared TV of each image (the definition below), as in Gatys' and Johnson's code.
  sum,
  // Each directional sum divided by its number of differences (C*(H-1)*W and C*H*(W-1)), as in
  // lengstrom/fast-style-transfer (without its extra factor 2), so the weight does not depend on
  // the image size.
  mean,
};

// Per image, over all channels c and every neighbouring pair (squared, anisotropic TV):
//   TV(y) = sum_c [ sum_{i<H-1, j<W} (y[c,i+1,j] - y[c,i,j])^2 + sum_{i<H, j<W-1} (y[c,i,j+1] - y[c,i,j])^2 ]
// value = weight * mean over the batch of TV(y) (or of its TvNorm::mean form). Unlike Johnson's
// Lua module, which differences only the top-left (H-1) x (W-1) block and returns half the
// gradient, every pair is counted and the gradient is exact. An image 1 pixel high (wide) has no
// vertical (horizontal) term.
// requires: y not empty.   ensures: grad = d value / dy, y's shape.
template <class T, class B>
LossResult<T, B> total_variation_loss(const Tensor<T, B>& y, double weight = 1, TvNorm norm = TvNorm::sum) {
  if (y.empty()) throw ShapeError("total_variation_loss: empty input " + to_string(y.shape()));
  double wy = weight / y.n(), wx = weight / y.n();
  if (norm == TvNorm::mean) {
    const double vertical = static_cast<double>(y.c()) * (y.h() - 1) * y.w();
    const double horizontal = static_cast<double>(y.c()) * y.h() * (y.w() - 1);
    wy = vertical > 0 ? wy / vertical : 0;
    wx = horizontal > 0 ? wx / horizontal : 0;
  }
  const T ty = static_cast<T>(wy), tx = static_cast<T>(wx);
  return {total_variation_forward(y, ty, tx), total_variation_backward(y, ty, tx)};
}

}  // namespace perceptual::losses
