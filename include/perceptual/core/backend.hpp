#pragma once
// The backend contract: the storage and the operations on Tensor<T, B> that the layers, losses,
// optimisers and nets call. Operations are free functions in the backend's namespace, found by
// argument-dependent lookup (no virtual calls, no #ifdef); concepts::backend<B, T> names them all,
// and each backend's umbrella header (backend/cpu/cpu.hpp, backend/cuda/cuda.hpp) checks itself.
//
// Storage: B::buffer<T> satisfies concepts::buffer (core/tensor.hpp).
// Below x, y, dy: Tensor<T, B>; S = wide_t<T> (statistics, Adam's moments); throws ShapeError
// naming the operation and both shapes wherever a requires on shapes is broken.
//
// Pointwise, reductions (accumulated in double):
//   fill(x, v), scale(x, a)       ensures x = v, x *= a.
//   axpy(y, a, x)                 requires same shapes; ensures y += a x.
//   add(a, b)                     requires same shapes; ensures a new a + b.
//   channel_affine(x, s, t)       requires s, t: vector<T> of x.c() values; ensures x[:, c] s[c] + t[c].
//   sum(x), dot(a, b)             ensures the sum of x's values, of a * b (requires same shapes).
// Convolution (g: ConvGeometry, core/conv_geometry.hpp, validated when it was made):
//   conv2d_forward(x, w[, bias], g)    requires x: g.input_shape(), w: g.filter_shape(), bias 1 x O x 1 x 1;
//                                      ensures y of g.output_shape(), with bias[o] added on channel o.
//   conv2d_backward_data(dy, w, g)     requires dy: g.output_shape(); ensures dx (g.input_shape()), the adjoint
//                                      in x (a transposed convolution's forward pass).
//   conv2d_backward_filter(x, dy, g)   ensures dw (g.filter_shape()) of this batch, not accumulated.
//   add_bias(y, bias), bias_backward(dy)  y[:, c] += bias[c]; dy summed to 1 x C x 1 x 1.
//   reflect_pad(x, t, b, l, r), reflect_pad_backward(dy, t, b, l, r)
//                                      requires each pad smaller than the size it pads; PyTorch's
//                                      ReflectionPad2d (the edge not repeated) and its adjoint.
// Activations (the into-forms may write in place: y may be x, dx may be dy):
//   relu_forward(x[, y]), relu_backward(y, dy[, dx])    max(x, 0) (NaN gives 0); dy where y > 0.
//   scaled_tanh_forward(x, s, o, lo, hi), scaled_tanh_backward(x, dy, s, o, lo, hi)
//                                      clamp(s tanh(x) + o, lo, hi); 0 where clipped.
// Normalisation (per (n, c) plane for instance, per channel over N, H, W for batch; mean and
// inv_std: Tensor<S, B> the forward pass fills and backward reads; the epilogue's ReLU and
// residual applied as y is written; dweight, dbias nullptr or added into):
//   instance_norm_forward(x, weight, bias, eps, mean, inv_std, y, epilogue)
//   instance_norm_backward(x, dy, weight, mean, inv_std, dweight, dbias) -> dx
//   batch_norm_forward_training(x, weight, bias, eps, momentum, running_mean, running_var, mean, inv_std, y,
//                               epilogue)    also moves the running statistics by the momentum
//   batch_norm_forward_inference(x, weight, bias, running_mean, running_var, eps, y, epilogue)
//   batch_norm_backward(x, dy, weight, mean, inv_std, dweight, dbias) -> dx
//   batch_norm_backward_inference(x, dy, weight, running_mean, running_var, eps, dweight, dbias) -> dx
// Pooling and upsampling (2x2 windows, stride 2; nearest by an integer factor):
//   max_pool2x2_forward(x), max_pool2x2_backward(x, dy), avg_pool2x2_forward(x),
//   avg_pool2x2_backward(dy, x_shape), upsample_nearest_forward(x, f), upsample_nearest_backward(dy, f)
// Losses (b broadcast over a's batch when it has batch 1):
//   gram_forward(x) -> G: N x 1 x C x C, Tensor<Gs, B> for a scalar Gs of the backend's choosing
//                      (float for bf16 on the GPU); gram_backward(x, dG) -> dx.
//   squared_distance(a, b) -> sum (a - b)^2; scaled_difference(a, b, alpha) -> alpha (a - b);
//                      for T tensors and for Gram matrices alike.
//   total_variation_forward(x, wy, wx) -> double, total_variation_backward(x, wy, wx) -> dx.
// Optimisers:
//   adam_update(param, grad, m, v, lr, beta1, beta2, eps, step)   m, v: Tensor<S, B>; one Adam step.
//   box_project(x, lo, hi), box_free_mask(mask, x, g, lo, hi) -> free count, apply_mask(x, mask),
//   box_mask_direction(d, x, g, lo, hi), box_projected_gradient_max(x, g, lo, hi), max_abs(x),
//   abs_sum(x)                    L-BFGS-B's box constraints (optim/lbfgs.hpp).
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "perceptual/core/conv_geometry.hpp"
#include "perceptual/core/epilogue.hpp"
#include "perceptual/core/tensor.hpp"

namespace perceptual::concepts {

// The type statistics and moments of T data are kept in: T, or float for a type narrower than
// float (bf16), as layers/norm.hpp's norm_statistic_t and optim/adam.hpp's moment_t.
template <class T>
using wide_t = std::conditional_t<(sizeof(T) < sizeof(float)), float, T>;

// X is Tensor<S, B> for some scalar S.
template <class X, class B>
concept tensor_on = std::same_as<X, Tensor<typename X::value_type, B>>;

template <class B, class T>
concept pointwise_ops = requires(Tensor<T, B>& y, const Tensor<T, B>& x, T a, const std::vector<T>& v) {
  fill(y, a);
  scale(y, a);
  axpy(y, a, x);
  { add(x, x) } -> std::same_as<Tensor<T, B>>;
  { channel_affine(x, v, v) } -> std::same_as<Tensor<T, B>>;
  { sum(x) } -> std::convertible_to<double>;
  { dot(x, x) } -> std::convertible_to<double>;
};

template <class B, class T>
concept conv_ops = requires(Tensor<T, B>& y, const Tensor<T, B>& x, const ConvGeometry& g, int pad) {
  { conv2d_forward(x, x, g) } -> std::same_as<Tensor<T, B>>;
  { conv2d_forward(x, x, x, g) } -> std::same_as<Tensor<T, B>>;
  { conv2d_backward_data(x, x, g) } -> std::same_as<Tensor<T, B>>;
  { conv2d_backward_filter(x, x, g) } -> std::same_as<Tensor<T, B>>;
  add_bias(y, x);
  { bias_backward(x) } -> std::same_as<Tensor<T, B>>;
  { reflect_pad(x, pad, pad, pad, pad) } -> std::same_as<Tensor<T, B>>;
  { reflect_pad_backward(x, pad, pad, pad, pad) } -> std::same_as<Tensor<T, B>>;
};

template <class B, class T>
concept activation_ops = requires(Tensor<T, B>& y, const Tensor<T, B>& x, T s) {
  { relu_forward(x) } -> std::same_as<Tensor<T, B>>;
  relu_forward(x, y);
  { relu_backward(x, x) } -> std::same_as<Tensor<T, B>>;
  relu_backward(x, x, y);
  { scaled_tanh_forward(x, s, s, s, s) } -> std::same_as<Tensor<T, B>>;
  { scaled_tanh_backward(x, x, s, s, s, s) } -> std::same_as<Tensor<T, B>>;
};

template <class B, class T>
concept norm_ops = requires(Tensor<T, B>& y, const Tensor<T, B>& x, Tensor<wide_t<T>, B>& stat,
                            const NormEpilogue<T, B>& epilogue, Tensor<T, B>* grad, double eps) {
  instance_norm_forward(x, x, x, eps, stat, stat, y, epilogue);
  { instance_norm_backward(x, x, x, stat, stat, grad, grad) } -> std::same_as<Tensor<T, B>>;
  batch_norm_forward_training(x, x, x, eps, eps, y, y, stat, stat, y, epilogue);
  batch_norm_forward_inference(x, x, x, x, x, eps, y, epilogue);
  { batch_norm_backward(x, x, x, stat, stat, grad, grad) } -> std::same_as<Tensor<T, B>>;
  { batch_norm_backward_inference(x, x, x, x, x, eps, grad, grad) } -> std::same_as<Tensor<T, B>>;
};

template <class B, class T>
concept resampling_ops = requires(const Tensor<T, B>& x, Shape4 shape, int factor) {
  { max_pool2x2_forward(x) } -> std::same_as<Tensor<T, B>>;
  { max_pool2x2_backward(x, x) } -> std::same_as<Tensor<T, B>>;
  { avg_pool2x2_forward(x) } -> std::same_as<Tensor<T, B>>;
  { avg_pool2x2_backward(x, shape) } -> std::same_as<Tensor<T, B>>;
  { upsample_nearest_forward(x, factor) } -> std::same_as<Tensor<T, B>>;
  { upsample_nearest_backward(x, factor) } -> std::same_as<Tensor<T, B>>;
};

// The distance and its gradient on tensors of one scalar: features, or Gram matrices.
template <class B, class T>
concept distance_ops = requires(const Tensor<T, B>& a, T alpha) {
  { squared_distance(a, a) } -> std::convertible_to<double>;
  { scaled_difference(a, a, alpha) } -> std::same_as<Tensor<T, B>>;
};

template <class B, class T>
concept loss_ops = distance_ops<B, T> && requires(const Tensor<T, B>& x, T w) {
  { gram_forward(x) } -> tensor_on<B>;
  { gram_backward(x, gram_forward(x)) } -> std::same_as<Tensor<T, B>>;
  { total_variation_forward(x, w, w) } -> std::convertible_to<double>;
  { total_variation_backward(x, w, w) } -> std::same_as<Tensor<T, B>>;
} && distance_ops<B, typename decltype(gram_forward(std::declval<const Tensor<T, B>&>()))::value_type>;

template <class B, class T>
concept optim_ops = requires(Tensor<T, B>& y, const Tensor<T, B>& x, Tensor<wide_t<T>, B>& moment, T bound, double r,
                             std::int64_t step) {
  adam_update(y, x, moment, moment, r, r, r, r, step);
  box_project(y, bound, bound);
  { box_free_mask(y, x, x, bound, bound) } -> std::convertible_to<std::size_t>;
  apply_mask(y, x);
  box_mask_direction(y, x, x, bound, bound);
  { box_projected_gradient_max(x, x, bound, bound) } -> std::convertible_to<double>;
  { max_abs(x) } -> std::convertible_to<double>;
  { abs_sum(x) } -> std::convertible_to<double>;
};

// B is a backend for scalar T: storage, and every operation listed above.
template <class B, class T = float>
concept backend = buffer<typename B::template buffer<T>, T> && pointwise_ops<B, T> && conv_ops<B, T> &&
    activation_ops<B, T> && norm_ops<B, T> && resampling_ops<B, T> && loss_ops<B, T> && optim_ops<B, T>;

}  // namespace perceptual::concepts
