#pragma once
// Feature reconstruction loss (Johnson et al. 2016, eq. 2): the squared, size-normalised
// Euclidean distance between the loss network's features of the output and of the target.
#include "perceptual/losses/loss.hpp"

namespace perceptual::losses {

// Johnson eq. 2 per image: ||phi_j(y) - phi_j(target)||_2^2 / (C_j*H_j*W_j); for a batch of N the
// mean over the batch, i.e. weight * sum (phi_y - phi_target)^2 / (N*C*H*W).
// requires: features and target of one shape (else ShapeError naming both), not empty.
// ensures:  grad = 2 * weight * (features - target) / (N*C*H*W).
template <class T, class B>
LossResult<T, B> feature_loss(const Tensor<T, B>& features, const Tensor<T, B>& target, double weight = 1) {
  return detail::normalised_squared_error("feature_loss", features, target, weight);
}

}  // namespace perceptual::losses
