#pragma once
// What every loss returns, and the one convention they share.
//
// A loss is a free function of its input (features or an image) and its target(s) that returns
// the value and the gradient with respect to the input together, since every caller needs both
// and the gradient reuses the forward's intermediates:
//
//   LossResult r = feature_loss(phi_y, phi_target, weight);   // r.value, r.grad (phi_y's shape)
//
// `weight` (default 1) scales value and gradient alike, so a total loss is the sum of the values
// and its gradient the sum of the grads (axpy). For a batch of N the per-image loss is averaged
// over the batch, so the scale of a loss does not depend on the batch size. Losses are written
// against Tensor<T, B> and call backend operations unqualified (found by ADL): include the
// backend (e.g. perceptual/backend/cpu/loss.hpp) before use.
#include <string>

#include "perceptual/core/tensor.hpp"

namespace perceptual::losses {

template <class T, class B>
struct LossResult {
  double value = 0;   // weighted loss, averaged over the batch
  Tensor<T, B> grad;  // d value / d input, the input's shape
};

namespace detail {

// Throws ShapeError naming the loss and both shapes unless they are equal.
inline void require_same(const std::string& loss, const char* what_a, Shape4 a, const char* what_b, Shape4 b) {
  if (a != b)
    throw ShapeError(loss + ": " + what_a + " " + to_string(a) + " and " + what_b + " " + to_string(b) +
                     " must have the same shape");
}

// weight * ||y - target||^2 / (N*C*H*W): the batch mean of Johnson's per-image ||.||^2 / (C*H*W),
// with gradient 2 * weight * (y - target) / (N*C*H*W).
template <class T, class B>
LossResult<T, B> normalised_squared_error(const std::string& loss, const Tensor<T, B>& y, const Tensor<T, B>& target,
                                          double weight) {
  require_same(loss, "input", y.shape(), "target", target.shape());
  if (y.empty()) throw ShapeError(loss + ": empty input " + to_string(y.shape()));
  const double factor = weight / static_cast<double>(y.size());
  return {factor * squared_distance(y, target), scaled_difference(y, target, static_cast<T>(2 * factor))};
}

}  // namespace detail

}  // namespace perceptual::losses
