#pragma once
// Upsample<F>: nearest-neighbour upsampling by an integer factor, the alternative to transposed
// convolution that avoids checkerboard artefacts (Odena et al., 2016). Channel-agnostic.
#include <string>

#include "perceptual/core/concepts.hpp"

namespace perceptual::layers {

template <int F>
struct Upsample {
  static_assert(F >= 1, "Upsample: the factor must be at least 1.");
  static constexpr int in_channels = any_channels;
  static constexpr int out_channels = any_channels;
  static constexpr int factor = F;
  static constexpr Size2 output_size(Size2 s) { return {s.h * F, s.w * F}; }
  static std::string name() { return "Upsample<" + std::to_string(F) + ">"; }

  template <class B, class T>
  class impl : public ModuleBase<B, T> {
   public:
    Tensor<T, B> forward(const Tensor<T, B>& x) {
      input_shape_ = x.shape();
      return upsample_nearest_forward(x, F);
    }
    // Each input value fed an F x F block, so its gradient is the block's sum.
    Tensor<T, B> backward(const Tensor<T, B>& dy) {
      if (input_shape_ == Shape4{}) throw Error(name() + ": backward called before forward");
      const Shape4 expected{input_shape_.n, input_shape_.c, input_shape_.h * F, input_shape_.w * F};
      if (dy.shape() != expected)
        throw ShapeError(name() + ": gradient " + to_string(dy.shape()) + ", expected the output's " +
                         to_string(expected));
      return upsample_nearest_backward(dy, F);
    }

   private:
    Shape4 input_shape_{};
  };
};

}  // namespace perceptual::layers
