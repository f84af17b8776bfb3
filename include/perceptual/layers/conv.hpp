#pragma once
// Conv2d<In, Out, K, Opts...> and its adjoint ConvTranspose2d<In, Out, K, Opts...> (fractionally
// strided, output exactly Stride x input). Options: Stride<S>, a padding mode (Zero, Reflect, Same,
// Valid; the transpose takes Zero or Same), NoBias; see options.hpp.
#include <algorithm>
#include <cmath>
#include <concepts>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "perceptual/core/concepts.hpp"
#include "perceptual/core/conv_geometry.hpp"
#include "perceptual/layers/options.hpp"

namespace perceptual::layers {

namespace detail {

// Pixels reflected on each side of the input: (K - 1) / 2 for Reflect, none for the other modes.
template <class Padding>
constexpr int reflection(int k) {
  return std::same_as<Padding, Reflect> ? (k - 1) / 2 : 0;
}

// How one spatial axis is convolved: output size and zeros before the first tap (the output size
// fixes those after); for Reflect, of the reflection-padded input, with no zeros.
struct ConvAxis {
  bool ok;
  int out;
  int pad_before;
};

template <class Padding>
constexpr ConvAxis conv_axis(int in, int k, int s) {
  if (in < 1) return {false, 0, 0};
  if constexpr (std::same_as<Padding, Same>) {
    const int out = (in + s - 1) / s;
    const int pad_total = std::max((out - 1) * s + k - in, 0);
    return {true, out, pad_total / 2};
  } else if constexpr (std::same_as<Padding, Valid>) {
    return {in >= k, in >= k ? (in - k) / s + 1 : 0, 0};
  } else {
    const int p = (k - 1) / 2;
    const bool ok = in + 2 * p >= k && (std::same_as<Padding, Zero> || p < in);
    const int out = ok ? (in + 2 * p - k) / s + 1 : 0;
    return {ok, out, std::same_as<Padding, Reflect> ? 0 : p};
  }
}

// The transpose reads the conv backwards: out = s * in, and pad_before is where the adjoint
// convolution on that output starts. Zero: PyTorch's padding=(K-1)/2, output_padding=S-1.
// Same: TensorFlow's conv2d_transpose, the adjoint of a SAME conv on the s*in-sized output.
template <class Padding>
constexpr ConvAxis conv_transpose_axis(int in, int k, int s) {
  if (in < 1) return {false, 0, 0};
  const int pad_before = std::same_as<Padding, Same> ? std::max(k - s, 0) / 2 : (k - 1) / 2;
  return {true, s * in, pad_before};
}

// PyTorch's default: kaiming_uniform(a = sqrt(5)) for the weight and the same bound for the
// bias, both uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)).
template <class T, class B, class Rng>
void conv_uniform_init(Tensor<T, B>& t, Rng& rng, int fan_in) {
  const double bound = 1 / std::sqrt(static_cast<double>(fan_in));
  std::uniform_real_distribution<double> dist(-bound, bound);
  std::vector<T> values(t.size());
  for (auto& v : values) v = static_cast<T>(dist(rng));
  t = Tensor<T, B>::from_host(t.shape(), values);
}

// Throws ShapeError unless dy has the shape the forward pass produced.
template <class T, class B>
void require_gradient_shape(const Tensor<T, B>& dy, Shape4 expected, const std::string& where) {
  if (dy.shape() != expected)
    throw ShapeError(where + ": gradient " + to_string(dy.shape()) + ", expected " + to_string(expected));
}

}  // namespace detail

template <int In, int Out, int K, class... Opts>
struct Conv2d {
  static_assert(In > 0 && Out > 0, "Conv2d: the channel counts must be positive.");
  static_assert(K > 0, "Conv2d: the kernel size must be positive.");
  using options = OptionSet<Opts...>;
  using padding = typename options::template padding<Zero>;

  static constexpr int in_channels = In;
  static constexpr int out_channels = Out;
  static constexpr int kernel_size = K;
  static constexpr int stride = options::stride;
  static constexpr bool has_bias = options::bias;

  static std::string name() {
    return "Conv2d<" + std::to_string(In) + "," + std::to_string(Out) + "," + std::to_string(K) + options::names() +
           ">";
  }

  static constexpr int reflect = detail::reflection<padding>(K);  // pixels reflected on each side

  // The convolution a batch of inputs of size `in` runs (on the reflection-padded input, for
  // Reflect). Throws ShapeError for inputs too small for the kernel or the reflection (a compile
  // error in a constant expression).
  static constexpr ConvGeometry geometry(Size2 in, int batch = 1) {
    const detail::ConvAxis y = detail::conv_axis<padding>(in.h, K, stride);
    const detail::ConvAxis x = detail::conv_axis<padding>(in.w, K, stride);
    if (!y.ok || !x.ok)
      throw ShapeError(name() + ": input " + to_string(in) + " is too small" +
                       (std::same_as<padding, Reflect>
                            ? " (reflection padding " + std::to_string(reflect) + " must be smaller than the size)"
                            : " (the output would be empty)"));
    return ConvGeometry({.batch = batch,
                         .in_channels = In,
                         .out_channels = Out,
                         .kernel = K,
                         .input = {in.h + 2 * reflect, in.w + 2 * reflect},
                         .output = {y.out, x.out},
                         .stride = stride,
                         .pad_top = y.pad_before,
                         .pad_left = x.pad_before});
  }
  static constexpr Size2 output_size(Size2 in) { return geometry(in).output_size(); }

  template <class B, class T>
  class impl : public ModuleBase<B, T> {
   public:
    impl() : weight_({Out, In, K, K}), weight_grad_({Out, In, K, K}) {
      if constexpr (has_bias) bias_ = bias_grad_ = Tensor<T, B>({1, Out, 1, 1});
    }

    Tensor<T, B> forward(const Tensor<T, B>& x) { return run(x); }
    // A temporary is freed once reflection-padded, before the convolution's own buffers.
    Tensor<T, B> forward(Tensor<T, B>&& x) { return run(std::move(x)); }

    Tensor<T, B> backward(const Tensor<T, B>& dy) {
      require_forward(x_, name());
      const ConvGeometry& g = *geometry_;
      detail::require_gradient_shape(dy, g.output_shape(), name());
      constexpr int r = reflect;
      if (this->trainable()) {
        const Tensor<T, B> padded = r > 0 ? reflect_pad(x_, r, r, r, r) : x_.share();  // what forward convolved
        axpy(weight_grad_, T(1), conv2d_backward_filter(padded, dy, g));
        if constexpr (has_bias) axpy(bias_grad_, T(1), bias_backward(dy));
      }
      Tensor<T, B> dx = conv2d_backward_data(dy, weight_, g);
      return r > 0 ? reflect_pad_backward(dx, r, r, r, r) : dx;
    }

    Parameters<T, B> parameters() {
      Parameters<T, B> p{{"weight", &weight_, &weight_grad_}};
      if constexpr (has_bias) p.push_back({"bias", &bias_, &bias_grad_});
      return p;
    }

    template <class Rng>
    void initialize(Rng& rng) {
      detail::conv_uniform_init(weight_, rng, In * K * K);
      if constexpr (has_bias) detail::conv_uniform_init(bias_, rng, In * K * K);
    }

   private:
    // Keeps the input itself for backward (shared, so usually stored once with the layer before's
    // output) and pads it again there: the padded copy lives only for the convolution.
    template <class X>
    Tensor<T, B> run(X&& x) {
      require_channels(x, In, name());
      const Shape4 padded_shape{x.n(), In, x.h() + 2 * reflect, x.w() + 2 * reflect};
      if (!geometry_ || geometry_->input_shape() != padded_shape) geometry_ = geometry(x.shape().spatial(), x.n());
      x_ = saved_for_backward(x);
      if constexpr (reflect == 0) {
        return convolve(x);
      } else {
        const Tensor<T, B> padded = reflect_pad(x, reflect, reflect, reflect, reflect);
        if constexpr (!std::is_lvalue_reference_v<X>) x = Tensor<T, B>{};  // given up by the caller
        return convolve(padded);
      }
    }
    Tensor<T, B> convolve(const Tensor<T, B>& padded) {
      if constexpr (has_bias)
        return conv2d_forward(padded, weight_, bias_, *geometry_);
      else
        return conv2d_forward(padded, weight_, *geometry_);
    }

    Tensor<T, B> weight_, weight_grad_, bias_, bias_grad_;
    Tensor<T, B> x_;                        // the forward input (shared), before reflection padding
    std::optional<ConvGeometry> geometry_;  // of the last input shape, made once per shape
  };
};

template <int In, int Out, int K, class... Opts>
struct ConvTranspose2d {
  static_assert(In > 0 && Out > 0, "ConvTranspose2d: the channel counts must be positive.");
  static_assert(K > 0, "ConvTranspose2d: the kernel size must be positive.");
  using options = OptionSet<Opts...>;
  using padding = typename options::template padding<Zero>;
  static_assert(std::same_as<padding, Zero> || std::same_as<padding, Same>,
                "ConvTranspose2d: the padding mode must be Zero (PyTorch's alignment) or Same (TensorFlow's); "
                "its output is always Stride times its input.");

  static constexpr int in_channels = In;
  static constexpr int out_channels = Out;
  static constexpr int kernel_size = K;
  static constexpr int stride = options::stride;
  static constexpr bool has_bias = options::bias;

  static std::string name() {
    return "ConvTranspose2d<" + std::to_string(In) + "," + std::to_string(Out) + "," + std::to_string(K) +
           options::names() + ">";
  }

  // The convolution this layer is the adjoint of, for a batch of inputs of size `in`: Out -> In
  // channels, from the Stride-times-larger output back to the input.
  static constexpr ConvGeometry geometry(Size2 in, int batch = 1) {
    const detail::ConvAxis y = detail::conv_transpose_axis<padding>(in.h, K, stride);
    const detail::ConvAxis x = detail::conv_transpose_axis<padding>(in.w, K, stride);
    if (!y.ok || !x.ok) throw ShapeError(name() + ": input " + to_string(in) + " is empty");
    return ConvGeometry({.batch = batch,
                         .in_channels = Out,
                         .out_channels = In,
                         .kernel = K,
                         .input = {y.out, x.out},
                         .output = in,
                         .stride = stride,
                         .pad_top = y.pad_before,
                         .pad_left = x.pad_before});
  }
  static constexpr Size2 output_size(Size2 in) { return geometry(in).input_size(); }

  // The adjoint of a convolution Out -> In on the output: forward is that convolution's data
  // gradient, backward its forward pass, and the filter gradient swaps the roles of x and dy.
  template <class B, class T>
  class impl : public ModuleBase<B, T> {
   public:
    impl() : weight_({In, Out, K, K}), weight_grad_({In, Out, K, K}) {
      if constexpr (has_bias) bias_ = bias_grad_ = Tensor<T, B>({1, Out, 1, 1});
    }

    Tensor<T, B> forward(const Tensor<T, B>& x) {
      require_channels(x, In, name());
      if (!geometry_ || geometry_->output_shape() != x.shape()) geometry_ = geometry(x.shape().spatial(), x.n());
      x_ = saved_for_backward(x);
      Tensor<T, B> y = conv2d_backward_data(x, weight_, *geometry_);
      if constexpr (has_bias) add_bias(y, bias_);
      return y;
    }

    Tensor<T, B> backward(const Tensor<T, B>& dy) {
      require_forward(x_, name());
      const ConvGeometry& g = *geometry_;
      detail::require_gradient_shape(dy, g.input_shape(), name());
      if (this->trainable()) {
        axpy(weight_grad_, T(1), conv2d_backward_filter(dy, x_, g));
        if constexpr (has_bias) axpy(bias_grad_, T(1), bias_backward(dy));
      }
      return conv2d_forward(dy, weight_, g);
    }

    Parameters<T, B> parameters() {
      Parameters<T, B> p{{"weight", &weight_, &weight_grad_}};
      if constexpr (has_bias) p.push_back({"bias", &bias_, &bias_grad_});
      return p;
    }

    // PyTorch computes ConvTranspose2d's fan-in from the weight's second dimension: Out * K * K.
    template <class Rng>
    void initialize(Rng& rng) {
      detail::conv_uniform_init(weight_, rng, Out * K * K);
      if constexpr (has_bias) detail::conv_uniform_init(bias_, rng, Out * K * K);
    }

   private:
    Tensor<T, B> weight_, weight_grad_, bias_, bias_grad_;
    Tensor<T, B> x_;
    std::optional<ConvGeometry> geometry_;  // of the last input shape, made once per shape
  };
};

}  // namespace perceptual::layers
