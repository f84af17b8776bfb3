#pragma once
// Pixel loss (Johnson et al. 2016, section 3.3): the size-normalised squared Euclidean distance
// between the output image and the ground truth, used where a target image exists (the
// super-resolution baseline).
#include "perceptual/losses/loss.hpp"

namespace perceptual::losses {

// Per image ||y - target||_2^2 / (C*H*W); for a batch of N the mean over the batch, i.e.
// weight * sum (y - target)^2 / (N*C*H*W). Numerically the same as feature_loss applied to pixels;
// a separate name so that messages and call sites say which loss they are.
// requires: y and target of one shape (else ShapeError naming both), not empty.
// ensures:  grad = 2 * weight * (y - target) / (N*C*H*W).
template <class T, class B>
LossResult<T, B> pixel_loss(const Tensor<T, B>& y, const Tensor<T, B>& target, double weight = 1) {
  return detail::normalised_squared_error("pixel_loss", y, target, weight);
}

}  // namespace perceptual::losses
