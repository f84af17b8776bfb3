#pragma once
// Instance and batch normalisation on the CPU. Statistics are accumulated in double; the forward
// pass saves each group's mean and 1/sqrt(var + eps) (shape N x C x 1 x 1 for instance norm,
// 1 x C x 1 x 1 for batch norm) for the backward pass, as cuDNN's saveMean / saveInvVariance.
// Groups run in parallel (parallel.hpp); the forward passes write into an output the caller
// gives, which may be the input itself, and apply a NormEpilogue (ReLU, residual add) as they go.
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "perceptual/backend/checks.hpp"
#include "perceptual/backend/cpu/parallel.hpp"
#include "perceptual/backend/cpu/tensor.hpp"
#include "perceptual/core/epilogue.hpp"

namespace perceptual::cpu {

namespace detail {

// The values normalised together: `planes` planes of `hw` contiguous values, the first at
// `first`, each `stride` after the previous. Instance norm: one plane (channel c of sample n);
// batch norm: channel c of every sample.
struct NormGroup {
  std::size_t first, stride, planes, hw;
  double count() const { return static_cast<double>(planes * hw); }
  std::size_t plane(std::size_t p) const { return first + p * stride; }
};

inline NormGroup instance_group(Shape4 s, int n, int c) {
  const std::size_t hw = s.plane();
  return {(static_cast<std::size_t>(n) * s.c + c) * hw, 0, 1, hw};
}

inline NormGroup batch_group(Shape4 s, int c) {
  const std::size_t hw = s.plane();
  return {static_cast<std::size_t>(c) * hw, static_cast<std::size_t>(s.c) * hw, static_cast<std::size_t>(s.n), hw};
}

// Mean and biased variance, two passes: one pass (E[x^2] - E[x]^2) cancels catastrophically for
// activations with a large mean, such as pixel values in [0, 255].
// Each sum in double, vectorised (`omp simd` may reorder a reduction; still double throughout).
template <class T>
std::pair<double, double> group_moments(const T* x, NormGroup g) {
  double sum = 0;
  for (std::size_t p = 0; p < g.planes; ++p) {
    const T* v = x + g.plane(p);
    PERCEPTUAL_SIMD_SUM(sum)
    for (std::size_t i = 0; i < g.hw; ++i) sum += v[i];
  }
  const double mean = sum / g.count();
  double squares = 0;
  for (std::size_t p = 0; p < g.planes; ++p) {
    const T* v = x + g.plane(p);
    PERCEPTUAL_SIMD_SUM(squares)
    for (std::size_t i = 0; i < g.hw; ++i) squares += (v[i] - mean) * (v[i] - mean);
  }
  return {mean, squares / g.count()};
}

// y = (x - mean) * inv_std * gamma + beta, folded into one multiply-add per value, then the
// epilogue: max(y, 0) where `relu`, + residual where `residual` is not null. y may be x.
template <class T>
void group_normalize(const T* x, T* y, NormGroup g, double mean, double inv_std, double gamma, double beta, bool relu,
                     const T* residual) {
  const double a = inv_std * gamma;
  const double b = beta - mean * a;
  for (std::size_t p = 0; p < g.planes; ++p) {
    const std::size_t o = g.plane(p);
    const T* in = x + o;
    T* out = y + o;
    const auto rectify = [](T v) { return v > T(0) ? v : T(0); };  // as relu_forward: NaN gives 0
    if (relu && residual)
      for (std::size_t i = 0; i < g.hw; ++i) out[i] = rectify(static_cast<T>(in[i] * a + b)) + residual[o + i];
    else if (relu)
      for (std::size_t i = 0; i < g.hw; ++i) out[i] = rectify(static_cast<T>(in[i] * a + b));
    else if (residual)
      for (std::size_t i = 0; i < g.hw; ++i) out[i] = static_cast<T>(in[i] * a + b) + residual[o + i];
    else
      for (std::size_t i = 0; i < g.hw; ++i) out[i] = static_cast<T>(in[i] * a + b);
  }
}

// Writes dL/dx for one group and returns (sum dy, sum dy * x_hat), the bias and weight gradients.
// With batch statistics the mean and variance depend on x, which adds the two mean terms:
//   dx = gamma * inv_std * (dy - mean(dy) - x_hat * mean(dy * x_hat));
// with fixed statistics (batch norm in eval mode) it is the affine map's dx = gamma * inv_std * dy.
template <class T>
std::pair<double, double> group_backward(const T* x, const T* dy, T* dx, NormGroup g, double mean, double inv_std,
                                         double gamma, bool batch_statistics) {
  double sum_dy = 0, sum_dy_xhat = 0;
  for (std::size_t p = 0; p < g.planes; ++p) {
    const std::size_t o = g.plane(p);
    PERCEPTUAL_SIMD_SUM(sum_dy, sum_dy_xhat)
    for (std::size_t i = 0; i < g.hw; ++i) {
      sum_dy += dy[o + i];
      sum_dy_xhat += dy[o + i] * (x[o + i] - mean) * inv_std;
    }
  }
  const double k = gamma * inv_std;
  const double mean_dy = batch_statistics ? sum_dy / g.count() : 0.0;
  const double mean_dy_xhat = batch_statistics ? sum_dy_xhat / g.count() : 0.0;
  for (std::size_t p = 0; p < g.planes; ++p) {
    const std::size_t o = g.plane(p);
    for (std::size_t i = 0; i < g.hw; ++i) {
      const double xhat = (x[o + i] - mean) * inv_std;
      dx[o + i] = static_cast<T>(k * (dy[o + i] - mean_dy - xhat * mean_dy_xhat));
    }
  }
  return {sum_dy, sum_dy_xhat};
}

using checks::require_norm_output;
using checks::require_norm_parameter;

// Adds `value` to grad[c] when the gradient is wanted (grad is nullptr for a frozen layer).
template <class T>
void accumulate_norm_grad(Tensor<T, Cpu>* grad, int c, double value) {
  if (grad) grad->data()[c] += static_cast<T>(value);
}

}  // namespace detail

// Per sample and channel over H and W, biased variance: y = epilogue(norm(x)), into `y` (x's
// shape; it may be x itself). Writes `save_mean` and `save_inv_std` (N x C x 1 x 1) for
// instance_norm_backward.
template <class T>
void instance_norm_forward(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& weight, const Tensor<T, Cpu>& bias,
                           double eps, Tensor<T, Cpu>& save_mean, Tensor<T, Cpu>& save_inv_std, Tensor<T, Cpu>& y,
                           const NormEpilogue<T, Cpu>& epilogue) {
  detail::require_norm_parameter(weight, x, "weight", "instance_norm_forward");
  detail::require_norm_parameter(bias, x, "bias", "instance_norm_forward");
  detail::require_norm_output(x, y, epilogue, "instance_norm_forward");
  save_mean = Tensor<T, Cpu>({x.n(), x.c(), 1, 1});
  save_inv_std = Tensor<T, Cpu>({x.n(), x.c(), 1, 1});
  const int groups = x.n() * x.c();
  const T* residual = epilogue.residual ? epilogue.residual->data() : nullptr;
  PERCEPTUAL_PARALLEL_FOR_IF(x.size() >= detail::parallel_grain)
  for (int i = 0; i < groups; ++i) {
    const int c = i % x.c();
    const auto g = detail::instance_group(x.shape(), i / x.c(), c);
    const auto [mean, var] = detail::group_moments(x.data(), g);
    const double inv_std = 1 / std::sqrt(var + eps);
    save_mean.data()[i] = static_cast<T>(mean);
    save_inv_std.data()[i] = static_cast<T>(inv_std);
    detail::group_normalize(x.data(), y.data(), g, mean, inv_std, weight.data()[c], bias.data()[c], epilogue.relu,
                            residual);
  }
}

template <class T>
Tensor<T, Cpu> instance_norm_forward(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& weight, const Tensor<T, Cpu>& bias,
                                     double eps, Tensor<T, Cpu>& save_mean, Tensor<T, Cpu>& save_inv_std) {
  Tensor<T, Cpu> y(x.shape(), uninitialized);  // every group is normalised into it
  instance_norm_forward(x, weight, bias, eps, save_mean, save_inv_std, y, {});
  return y;
}

// dL/dx; adds dL/dweight and dL/dbias into `dweight` and `dbias` unless they are nullptr.
template <class T>
Tensor<T, Cpu> instance_norm_backward(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& dy, const Tensor<T, Cpu>& weight,
                                      const Tensor<T, Cpu>& save_mean, const Tensor<T, Cpu>& save_inv_std,
                                      Tensor<T, Cpu>* dweight, Tensor<T, Cpu>* dbias) {
  require_same_shape(x, dy, "instance_norm_backward");
  detail::require_norm_parameter(weight, x, "weight", "instance_norm_backward");
  Tensor<T, Cpu> dx(x.shape(), uninitialized);  // every group writes its own
  const int groups = x.n() * x.c();
  std::vector<std::pair<double, double>> sums(static_cast<std::size_t>(groups));
  PERCEPTUAL_PARALLEL_FOR_IF(x.size() >= detail::parallel_grain)
  for (int i = 0; i < groups; ++i) {
    const int c = i % x.c();
    sums[static_cast<std::size_t>(i)] =
        detail::group_backward(x.data(), dy.data(), dx.data(), detail::instance_group(x.shape(), i / x.c(), c),
                               save_mean.data()[i], save_inv_std.data()[i], weight.data()[c], true);
  }
  for (int i = 0; i < groups; ++i) {  // in order, so that the sums are the same on any thread count
    detail::accumulate_norm_grad(dweight, i % x.c(), sums[static_cast<std::size_t>(i)].second);
    detail::accumulate_norm_grad(dbias, i % x.c(), sums[static_cast<std::size_t>(i)].first);
  }
  return dx;
}

// Per channel over N, H and W with the batch's biased variance: y = epilogue(norm(x)), into `y`
// (x's shape; it may be x itself). Saves the batch's statistics for batch_norm_backward and moves
// the running ones towards them by `momentum`, the running variance towards the unbiased batch
// variance (as PyTorch).
template <class T>
void batch_norm_forward_training(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& weight, const Tensor<T, Cpu>& bias,
                                 double eps, double momentum, Tensor<T, Cpu>& running_mean, Tensor<T, Cpu>& running_var,
                                 Tensor<T, Cpu>& save_mean, Tensor<T, Cpu>& save_inv_std, Tensor<T, Cpu>& y,
                                 const NormEpilogue<T, Cpu>& epilogue) {
  detail::require_norm_parameter(weight, x, "weight", "batch_norm_forward_training");
  detail::require_norm_parameter(bias, x, "bias", "batch_norm_forward_training");
  detail::require_norm_parameter(running_mean, x, "running_mean", "batch_norm_forward_training");
  detail::require_norm_parameter(running_var, x, "running_var", "batch_norm_forward_training");
  detail::require_norm_output(x, y, epilogue, "batch_norm_forward_training");
  const double count = static_cast<double>(x.n()) * static_cast<double>(x.shape().plane());
  if (count < 2)
    throw ShapeError("batch_norm_forward_training: input " + to_string(x.shape()) +
                     " has one value per channel, training needs more for a variance");
  save_mean = Tensor<T, Cpu>({1, x.c(), 1, 1});
  save_inv_std = Tensor<T, Cpu>({1, x.c(), 1, 1});
  const T* residual = epilogue.residual ? epilogue.residual->data() : nullptr;
  PERCEPTUAL_PARALLEL_FOR_IF(x.size() >= detail::parallel_grain)
  for (int c = 0; c < x.c(); ++c) {
    const auto g = detail::batch_group(x.shape(), c);
    const auto [mean, var] = detail::group_moments(x.data(), g);
    const double inv_std = 1 / std::sqrt(var + eps);
    save_mean.data()[c] = static_cast<T>(mean);
    save_inv_std.data()[c] = static_cast<T>(inv_std);
    T& rm = running_mean.data()[c];
    T& rv = running_var.data()[c];
    rm = static_cast<T>((1 - momentum) * rm + momentum * mean);
    rv = static_cast<T>((1 - momentum) * rv + momentum * var * count / (count - 1));
    detail::group_normalize(x.data(), y.data(), g, mean, inv_std, weight.data()[c], bias.data()[c], epilogue.relu,
                            residual);
  }
}

template <class T>
Tensor<T, Cpu> batch_norm_forward_training(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& weight,
                                           const Tensor<T, Cpu>& bias, double eps, double momentum,
                                           Tensor<T, Cpu>& running_mean, Tensor<T, Cpu>& running_var,
                                           Tensor<T, Cpu>& save_mean, Tensor<T, Cpu>& save_inv_std) {
  Tensor<T, Cpu> y(x.shape(), uninitialized);  // every group is normalised into it
  batch_norm_forward_training(x, weight, bias, eps, momentum, running_mean, running_var, save_mean, save_inv_std, y,
                              {});
  return y;
}

// Per channel with the running statistics, a fixed affine map: y = epilogue(norm(x)), into `y`
// (x's shape; it may be x itself).
template <class T>
void batch_norm_forward_inference(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& weight, const Tensor<T, Cpu>& bias,
                                  const Tensor<T, Cpu>& running_mean, const Tensor<T, Cpu>& running_var, double eps,
                                  Tensor<T, Cpu>& y, const NormEpilogue<T, Cpu>& epilogue) {
  detail::require_norm_parameter(weight, x, "weight", "batch_norm_forward_inference");
  detail::require_norm_parameter(bias, x, "bias", "batch_norm_forward_inference");
  detail::require_norm_parameter(running_mean, x, "running_mean", "batch_norm_forward_inference");
  detail::require_norm_parameter(running_var, x, "running_var", "batch_norm_forward_inference");
  detail::require_norm_output(x, y, epilogue, "batch_norm_forward_inference");
  const T* residual = epilogue.residual ? epilogue.residual->data() : nullptr;
  PERCEPTUAL_PARALLEL_FOR_IF(x.size() >= detail::parallel_grain)
  for (int c = 0; c < x.c(); ++c)
    detail::group_normalize(x.data(), y.data(), detail::batch_group(x.shape(), c), running_mean.data()[c],
                            1 / std::sqrt(static_cast<double>(running_var.data()[c]) + eps), weight.data()[c],
                            bias.data()[c], epilogue.relu, residual);
}

template <class T>
Tensor<T, Cpu> batch_norm_forward_inference(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& weight,
                                            const Tensor<T, Cpu>& bias, const Tensor<T, Cpu>& running_mean,
                                            const Tensor<T, Cpu>& running_var, double eps) {
  Tensor<T, Cpu> y(x.shape(), uninitialized);  // every group is normalised into it
  batch_norm_forward_inference(x, weight, bias, running_mean, running_var, eps, y, {});
  return y;
}

// Backward of batch_norm_forward_training, from its saved statistics. dL/dx; adds dL/dweight and
// dL/dbias into `dweight` and `dbias` unless they are nullptr.
template <class T>
Tensor<T, Cpu> batch_norm_backward(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& dy, const Tensor<T, Cpu>& weight,
                                   const Tensor<T, Cpu>& save_mean, const Tensor<T, Cpu>& save_inv_std,
                                   Tensor<T, Cpu>* dweight, Tensor<T, Cpu>* dbias) {
  require_same_shape(x, dy, "batch_norm_backward");
  detail::require_norm_parameter(weight, x, "weight", "batch_norm_backward");
  Tensor<T, Cpu> dx(x.shape(), uninitialized);  // every channel writes its own
  PERCEPTUAL_PARALLEL_FOR_IF(x.size() >= detail::parallel_grain)
  for (int c = 0; c < x.c(); ++c) {
    const auto [sum_dy, sum_dy_xhat] =
        detail::group_backward(x.data(), dy.data(), dx.data(), detail::batch_group(x.shape(), c), save_mean.data()[c],
                               save_inv_std.data()[c], weight.data()[c], true);
    detail::accumulate_norm_grad(dweight, c, sum_dy_xhat);  // each channel its own entry
    detail::accumulate_norm_grad(dbias, c, sum_dy);
  }
  return dx;
}

// Backward of batch_norm_forward_inference: the statistics are constants.
template <class T>
Tensor<T, Cpu> batch_norm_backward_inference(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& dy,
                                             const Tensor<T, Cpu>& weight, const Tensor<T, Cpu>& running_mean,
                                             const Tensor<T, Cpu>& running_var, double eps, Tensor<T, Cpu>* dweight,
                                             Tensor<T, Cpu>* dbias) {
  require_same_shape(x, dy, "batch_norm_backward_inference");
  detail::require_norm_parameter(weight, x, "weight", "batch_norm_backward_inference");
  Tensor<T, Cpu> dx(x.shape(), uninitialized);  // every channel writes its own
  PERCEPTUAL_PARALLEL_FOR_IF(x.size() >= detail::parallel_grain)
  for (int c = 0; c < x.c(); ++c) {
    const auto [sum_dy, sum_dy_xhat] = detail::group_backward(
        x.data(), dy.data(), dx.data(), detail::batch_group(x.shape(), c), running_mean.data()[c],
        1 / std::sqrt(static_cast<double>(running_var.data()[c]) + eps), weight.data()[c], false);
    detail::accumulate_norm_grad(dweight, c, sum_dy_xhat);
    detail::accumulate_norm_grad(dbias, c, sum_dy);
  }
  return dx;
}

}  // namespace perceptual::cpu
