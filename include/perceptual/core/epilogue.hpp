#pragma once
// What a normalisation may do to its output in the same pass, instead of a layer after it: a ReLU
// that follows it, and the add that closes a residual block, in that order. Sequential and
// Residual hand it to the norm layers (layers/compose.hpp); each backend's norm operations apply it.
#include "perceptual/core/tensor.hpp"

namespace perceptual {

template <class T, class B>
struct NormEpilogue {
  bool relu = false;                       // y = max(y, 0)
  const Tensor<T, B>* residual = nullptr;  // then y += *residual (the output's shape)
};

}  // namespace perceptual
