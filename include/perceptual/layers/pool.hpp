#pragma once
// 2x2, stride-2 pooling: MaxPool2x2 (VGG's) and AvgPool2x2 (Gatys et al.'s smoother variant for
// the loss network). Channel-agnostic; odd sizes floor, as PyTorch.
#include <string>

#include "perceptual/core/concepts.hpp"

namespace perceptual::layers {

namespace detail {

// Half the size, floored; an input smaller than the window has no output.
constexpr Size2 pooled_size_2x2(Size2 s, const char* layer) {
  if (s.h < 2 || s.w < 2)
    throw ShapeError(std::string(layer) + ": input " + to_string(s) + " is smaller than the 2x2 window");
  return {s.h / 2, s.w / 2};
}

// Throws ShapeError unless dy has the shape forward gave for an input of `input` shape.
inline void require_pooled_gradient(Shape4 dy, Shape4 input, const std::string& layer) {
  const Shape4 expected{input.n, input.c, input.h / 2, input.w / 2};
  if (dy != expected)
    throw ShapeError(layer + ": gradient " + to_string(dy) + ", expected the output's " + to_string(expected));
}

}  // namespace detail

struct MaxPool2x2 {
  static constexpr int in_channels = any_channels;
  static constexpr int out_channels = any_channels;
  static constexpr Size2 output_size(Size2 s) { return detail::pooled_size_2x2(s, "MaxPool2x2"); }
  static std::string name() { return "MaxPool2x2"; }

  template <class B, class T>
  class impl : public ModuleBase<B, T> {
   public:
    Tensor<T, B> forward(const Tensor<T, B>& x) {
      (void)output_size(x.shape().spatial());  // a ShapeError naming the layer, if too small
      x_ = saved_for_backward(x);
      return max_pool2x2_forward(x);
    }
    // Each gradient goes to its window's maximum (the first, on ties), found again from the input.
    Tensor<T, B> backward(const Tensor<T, B>& dy) {
      require_forward(x_, name());
      detail::require_pooled_gradient(dy.shape(), x_.shape(), name());
      return max_pool2x2_backward(x_, dy);
    }

   private:
    Tensor<T, B> x_;
  };
};

struct AvgPool2x2 {
  static constexpr int in_channels = any_channels;
  static constexpr int out_channels = any_channels;
  static constexpr Size2 output_size(Size2 s) { return detail::pooled_size_2x2(s, "AvgPool2x2"); }
  static std::string name() { return "AvgPool2x2"; }

  template <class B, class T>
  class impl : public ModuleBase<B, T> {
   public:
    Tensor<T, B> forward(const Tensor<T, B>& x) {
      (void)output_size(x.shape().spatial());  // a ShapeError naming the layer, if too small
      input_shape_ = x.shape();
      return avg_pool2x2_forward(x);
    }
    // Backward needs only the input's shape, not its values.
    Tensor<T, B> backward(const Tensor<T, B>& dy) {
      if (input_shape_ == Shape4{}) throw Error(name() + ": backward called before forward");
      detail::require_pooled_gradient(dy.shape(), input_shape_, name());
      return avg_pool2x2_backward(dy, input_shape_);
    }

   private:
    Shape4 input_shape_{};
  };
};

}  // namespace perceptual::layers
