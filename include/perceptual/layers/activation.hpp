#pragma once
// Pointwise activations: ReLU, and ScaledTanh that maps activations to pixel values in [0, 255].
#include <string>
#include <utility>

#include "perceptual/core/concepts.hpp"

namespace perceptual::layers {

struct ReLU {
  static constexpr int in_channels = any_channels;
  static constexpr int out_channels = any_channels;
  static constexpr Size2 output_size(Size2 s) { return s; }
  static std::string name() { return "ReLU"; }

  template <class B, class T>
  class impl : public ModuleBase<B, T> {
   public:
    Tensor<T, B> forward(const Tensor<T, B>& x) {
      Tensor<T, B> y = relu_forward(x);
      keep_output(y);
      return y;
    }
    // A temporary that nothing else holds is overwritten: no second buffer.
    Tensor<T, B> forward(Tensor<T, B>&& x) {
      if (x.is_shared()) return forward(std::as_const(x));
      Tensor<T, B> y = std::move(x);
      relu_forward(y, y);
      keep_output(y);
      return y;
    }
    // Keeps y for backward as forward does, where a normalisation applied this ReLU in its own pass
    // (NormEpilogue; layers/compose.hpp fuses them).
    void keep_output(const Tensor<T, B>& y) {
      y_ = saved_for_backward(y);  // the output: the next layer usually keeps it too, so it is stored once
    }

    Tensor<T, B> backward(const Tensor<T, B>& dy) {
      require_forward(y_, name());
      return relu_backward(y_, dy);
    }
    // A temporary gradient that nothing else holds becomes dx.
    Tensor<T, B> backward(Tensor<T, B>&& dy) {
      if (dy.is_shared()) return backward(std::as_const(dy));
      require_forward(y_, name());
      Tensor<T, B> dx = std::move(dy);
      relu_backward(y_, dx, dx);
      return dx;
    }

   private:
    Tensor<T, B> y_;
  };
};

// y = clamp(Scale * tanh(x) + Offset, 0, 255). The default fills [0, 255] exactly (Johnson et
// al.'s output layer); ScaledTanh<150.0> is the lengstrom/fast-style-transfer variant.
template <double Scale = 127.5, double Offset = 127.5>
struct ScaledTanh {
  static_assert(Scale > 0, "ScaledTanh: the scale must be positive.");
  static constexpr int in_channels = any_channels;
  static constexpr int out_channels = any_channels;
  static constexpr Size2 output_size(Size2 s) { return s; }
  static std::string name() { return "ScaledTanh<" + std::to_string(Scale) + "," + std::to_string(Offset) + ">"; }

  template <class B, class T>
  class impl : public ModuleBase<B, T> {
   public:
    Tensor<T, B> forward(const Tensor<T, B>& x) {
      x_ = saved_for_backward(x);
      return scaled_tanh_forward(x, T(Scale), T(Offset), T(0), T(255));
    }
    Tensor<T, B> backward(const Tensor<T, B>& dy) {
      require_forward(x_, name());
      return scaled_tanh_backward(x_, dy, T(Scale), T(Offset), T(0), T(255));
    }

   private:
    Tensor<T, B> x_;
  };
};

}  // namespace perceptual::layers
