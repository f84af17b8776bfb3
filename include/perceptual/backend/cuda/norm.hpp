#pragma once
// Instance and batch normalisation on the GPU, with backend/cpu/norm.hpp's signatures and saved
// statistics (mean and 1/sqrt(var + eps): N x C x 1 x 1 for instance norm, 1 x C x 1 x 1 for
// batch norm). One block per normalised group (an (n, c) plane, or channel c over the batch)
// reduces in shared memory in a fixed order, so results are deterministic. Statistics are
// accumulated in float for float tensors (double for double) with two passes, the mean first and
// then the squared deviations from it: the one-pass E[x^2] - E[x]^2 cancels catastrophically for
// pixel-valued activations, and Welford's update costs a division per value for the same result.
// Parameter gradients are summed over the batch by a second small kernel, in order, without
// atomics. Contains kernels: include from .cu files compiled by nvcc.
#if !defined(__CUDACC__)
#error "perceptual/backend/cuda/norm.hpp has CUDA kernels: include it from a .cu file compiled by nvcc"
#endif
#include <cstddef>
#include <string>
#include <type_traits>

#include "perceptual/backend/checks.hpp"
#include "perceptual/backend/cuda/bf16.hpp"
#include "perceptual/backend/cuda/tensor.hpp"

namespace perceptual::cuda {

namespace detail {

// Accumulator of the reductions: float for float and bf16, double for double.
template <class T>
using norm_acc_t = std::conditional_t<(sizeof(T) > sizeof(float)), T, float>;

// The block's total of v, returned to every thread; `scratch` holds block_threads values.
template <class A>
__device__ A block_total(A v, A* scratch) {
  scratch[threadIdx.x] = v;
  __syncthreads();
  for (unsigned stride = block_threads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) scratch[threadIdx.x] += scratch[threadIdx.x + stride];
    __syncthreads();
  }
  const A total = scratch[0];
  __syncthreads();  // before scratch is reused
  return total;
}

// Where group `g` lives: `planes` planes of `hw` values, `stride` apart. Instance norm: group
// n * C + c is one plane; batch norm: group c is channel c of each of the N samples.
struct NormLayout {
  int channels;
  std::size_t hw, planes, stride;
  bool per_sample;  // instance norm
  __device__ int channel(int g) const { return per_sample ? g % channels : g; }
  __device__ std::size_t first(int g) const { return static_cast<std::size_t>(g) * hw; }
  __device__ std::size_t offset(int g, std::size_t k) const { return first(g) + k / hw * stride + k % hw; }
  __host__ __device__ std::size_t count() const { return planes * hw; }
};

inline NormLayout instance_layout(Shape4 s) {
  return {s.c, s.plane(), 1, s.plane(), true};
}
inline NormLayout batch_layout(Shape4 s) {
  return {s.c, s.plane(), static_cast<std::size_t>(s.n), static_cast<std::size_t>(s.c) * s.plane(), false};
}

// One block per group: moments (two passes), saved statistics, optionally the running ones
// (running_mean non-null), then y = x * a + b with a = inv_std * gamma, b = beta - mean * a.
template <class T>
__global__ void norm_forward_kernel(T* y, const T* x, const T* weight, const T* bias, NormLayout l, double eps,
                                    T* save_mean, T* save_inv_std, T* running_mean, T* running_var, double momentum) {
  using A = norm_acc_t<T>;
  __shared__ A scratch[block_threads];
  const int g = blockIdx.x;
  const std::size_t count = l.count();
  A s = 0;
  for (std::size_t k = threadIdx.x; k < count; k += blockDim.x) s += static_cast<A>(x[l.offset(g, k)]);
  const A mean = block_total(s, scratch) / static_cast<A>(count);
  A q = 0;
  for (std::size_t k = threadIdx.x; k < count; k += blockDim.x) {
    const A d = static_cast<A>(x[l.offset(g, k)]) - mean;
    q += d * d;
  }
  const A var = block_total(q, scratch) / static_cast<A>(count);
  const A inv_std = A(1) / sqrt(var + static_cast<A>(eps));
  if (threadIdx.x == 0) {
    save_mean[g] = static_cast<T>(mean);
    save_inv_std[g] = static_cast<T>(inv_std);
    if (running_mean) {  // batch norm in training: PyTorch's update, unbiased variance
      const double n = static_cast<double>(count);
      running_mean[g] = static_cast<T>((1 - momentum) * static_cast<double>(running_mean[g]) + momentum * mean);
      running_var[g] =
          static_cast<T>((1 - momentum) * static_cast<double>(running_var[g]) + momentum * var * n / (n - 1));
    }
  }
  const int c = l.channel(g);
  const A a = inv_std * static_cast<A>(weight[c]);
  const A b = static_cast<A>(bias[c]) - mean * a;
  for (std::size_t k = threadIdx.x; k < count; k += blockDim.x) {
    const std::size_t o = l.offset(g, k);
    y[o] = static_cast<T>(static_cast<A>(x[o]) * a + b);
  }
}

// Batch norm with running statistics: the per-channel affine map, one thread per value.
template <class T>
__global__ void norm_inference_kernel(T* y, const T* x, const T* weight, const T* bias, const T* running_mean,
                                      const T* running_var, double eps, int channels, std::size_t hw, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const int c = static_cast<int>(i / hw % channels);
    const double a = static_cast<double>(weight[c]) / sqrt(static_cast<double>(running_var[c]) + eps);
    y[i] = static_cast<T>(static_cast<double>(x[i]) * a +
                          (static_cast<double>(bias[c]) - static_cast<double>(running_mean[c]) * a));
  }
}

// One block per group: (sum dy, sum dy * x_hat) into the group's partials, then
//   dx = gamma * inv_std * (dy - mean(dy) - x_hat * mean(dy * x_hat))   (batch statistics), or
//   dx = gamma * inv_std * dy                                          (fixed statistics).
// inv_std is stats_inv[g], or 1 / sqrt(stats_inv[g] + eps) when it holds a variance (eps >= 0).
template <class T>
__global__ void norm_backward_kernel(T* dx, const T* x, const T* dy, const T* weight, NormLayout l, const T* stats_mean,
                                     const T* stats_inv, double var_eps, bool batch_statistics,
                                     norm_acc_t<T>* sum_dy_out, norm_acc_t<T>* sum_dy_xhat_out) {
  using A = norm_acc_t<T>;
  __shared__ A scratch[block_threads];
  const int g = blockIdx.x;
  const std::size_t count = l.count();
  const A mean = static_cast<A>(stats_mean[g]);
  const A inv_std = var_eps >= 0 ? static_cast<A>(1 / sqrt(static_cast<double>(stats_inv[g]) + var_eps))
                                 : static_cast<A>(stats_inv[g]);
  A s = 0, sx = 0;
  for (std::size_t k = threadIdx.x; k < count; k += blockDim.x) {
    const std::size_t o = l.offset(g, k);
    const A d = static_cast<A>(dy[o]);
    s += d;
    sx += d * (static_cast<A>(x[o]) - mean) * inv_std;
  }
  const A sum_dy = block_total(s, scratch);
  const A sum_dy_xhat = block_total(sx, scratch);
  if (threadIdx.x == 0) {
    sum_dy_out[g] = sum_dy;
    sum_dy_xhat_out[g] = sum_dy_xhat;
  }
  const A k_scale = static_cast<A>(weight[l.channel(g)]) * inv_std;
  const A mean_dy = batch_statistics ? sum_dy / static_cast<A>(count) : A(0);
  const A mean_dy_xhat = batch_statistics ? sum_dy_xhat / static_cast<A>(count) : A(0);
  for (std::size_t k = threadIdx.x; k < count; k += blockDim.x) {
    const std::size_t o = l.offset(g, k);
    const A xhat = (static_cast<A>(x[o]) - mean) * inv_std;
    dx[o] = static_cast<T>(k_scale * (static_cast<A>(dy[o]) - mean_dy - xhat * mean_dy_xhat));
  }
}

// grad[c] += sum over the `samples` groups of channel c (groups n * channels + c), in order.
template <class T, class A>
__global__ void accumulate_norm_grad_kernel(T* grad, const A* partial, int channels, int samples) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  A s = 0;
  for (int n = 0; n < samples; ++n) s += partial[static_cast<std::size_t>(n) * channels + c];
  grad[c] = static_cast<T>(static_cast<A>(grad[c]) + s);
}

using checks::require_norm_parameter;

template <class T>
Tensor<T, Cuda> norm_forward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& weight, const Tensor<T, Cuda>& bias,
                             NormLayout l, int groups, double eps, T* save_mean, T* save_inv_std, T* running_mean,
                             T* running_var, double momentum) {
  Tensor<T, Cuda> y(x.shape());
  if (y.empty()) return y;
  norm_forward_kernel<<<groups, block_threads, 0, context().stream()>>>(y.data(), x.data(), weight.data(), bias.data(),
                                                                        l, eps, save_mean, save_inv_std, running_mean,
                                                                        running_var, momentum);
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return y;
}

// The shared backward: dx, and the parameter gradients (summed over `samples` groups per
// channel) added into dweight and dbias unless they are nullptr.
template <class T>
Tensor<T, Cuda> norm_backward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& dy, const Tensor<T, Cuda>& weight,
                              NormLayout l, int groups, int samples, const T* stats_mean, const T* stats_inv,
                              double var_eps, bool batch_statistics, Tensor<T, Cuda>* dweight, Tensor<T, Cuda>* dbias) {
  using A = norm_acc_t<T>;
  Tensor<T, Cuda> dx(x.shape());
  if (dx.empty()) return dx;
  Tensor<A, Cuda> sum_dy({1, 1, 1, groups}), sum_dy_xhat({1, 1, 1, groups});
  norm_backward_kernel<<<groups, block_threads, 0, context().stream()>>>(
      dx.data(), x.data(), dy.data(), weight.data(), l, stats_mean, stats_inv, var_eps, batch_statistics, sum_dy.data(),
      sum_dy_xhat.data());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  const unsigned blocks = static_cast<unsigned>((x.c() + block_threads - 1) / block_threads);
  if (dweight) {
    accumulate_norm_grad_kernel<<<blocks, block_threads, 0, context().stream()>>>(dweight->data(), sum_dy_xhat.data(),
                                                                                  x.c(), samples);
    PERCEPTUAL_CUDA_CHECK_LAUNCH();
  }
  if (dbias) {
    accumulate_norm_grad_kernel<<<blocks, block_threads, 0, context().stream()>>>(dbias->data(), sum_dy.data(), x.c(),
                                                                                  samples);
    PERCEPTUAL_CUDA_CHECK_LAUNCH();
  }
  return dx;
}

}  // namespace detail

// Per sample and channel over H and W, biased variance. Writes `save_mean` and `save_inv_std`
// (N x C x 1 x 1) for instance_norm_backward.
template <class T>
Tensor<T, Cuda> instance_norm_forward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& weight,
                                      const Tensor<T, Cuda>& bias, double eps, Tensor<T, Cuda>& save_mean,
                                      Tensor<T, Cuda>& save_inv_std) {
  detail::require_norm_parameter(weight, x, "weight", "instance_norm_forward");
  detail::require_norm_parameter(bias, x, "bias", "instance_norm_forward");
  save_mean = Tensor<T, Cuda>({x.n(), x.c(), 1, 1});
  save_inv_std = Tensor<T, Cuda>({x.n(), x.c(), 1, 1});
  return detail::norm_forward(x, weight, bias, detail::instance_layout(x.shape()), x.n() * x.c(), eps, save_mean.data(),
                              save_inv_std.data(), static_cast<T*>(nullptr), static_cast<T*>(nullptr), 0.0);
}

// dL/dx; adds dL/dweight and dL/dbias into `dweight` and `dbias` unless they are nullptr.
template <class T>
Tensor<T, Cuda> instance_norm_backward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& dy,
                                       const Tensor<T, Cuda>& weight, const Tensor<T, Cuda>& save_mean,
                                       const Tensor<T, Cuda>& save_inv_std, Tensor<T, Cuda>* dweight,
                                       Tensor<T, Cuda>* dbias) {
  require_same_shape(x, dy, "instance_norm_backward");
  detail::require_norm_parameter(weight, x, "weight", "instance_norm_backward");
  return detail::norm_backward(x, dy, weight, detail::instance_layout(x.shape()), x.n() * x.c(), x.n(),
                               save_mean.data(), save_inv_std.data(), -1.0, true, dweight, dbias);
}

// Per channel over N, H and W with the batch's biased variance; saves the batch's statistics for
// batch_norm_backward and moves the running ones towards them by `momentum`, the running
// variance towards the unbiased batch variance (as PyTorch).
template <class T>
Tensor<T, Cuda> batch_norm_forward_training(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& weight,
                                            const Tensor<T, Cuda>& bias, double eps, double momentum,
                                            Tensor<T, Cuda>& running_mean, Tensor<T, Cuda>& running_var,
                                            Tensor<T, Cuda>& save_mean, Tensor<T, Cuda>& save_inv_std) {
  detail::require_norm_parameter(weight, x, "weight", "batch_norm_forward_training");
  detail::require_norm_parameter(bias, x, "bias", "batch_norm_forward_training");
  detail::require_norm_parameter(running_mean, x, "running_mean", "batch_norm_forward_training");
  detail::require_norm_parameter(running_var, x, "running_var", "batch_norm_forward_training");
  const double count = static_cast<double>(x.n()) * static_cast<double>(x.shape().plane());
  if (count < 2)
    throw ShapeError("batch_norm_forward_training: input " + to_string(x.shape()) +
                     " has one value per channel, training needs more for a variance");
  save_mean = Tensor<T, Cuda>({1, x.c(), 1, 1});
  save_inv_std = Tensor<T, Cuda>({1, x.c(), 1, 1});
  return detail::norm_forward(x, weight, bias, detail::batch_layout(x.shape()), x.c(), eps, save_mean.data(),
                              save_inv_std.data(), running_mean.data(), running_var.data(), momentum);
}

// Per channel with the running statistics: a fixed affine map.
template <class T>
Tensor<T, Cuda> batch_norm_forward_inference(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& weight,
                                             const Tensor<T, Cuda>& bias, const Tensor<T, Cuda>& running_mean,
                                             const Tensor<T, Cuda>& running_var, double eps) {
  detail::require_norm_parameter(weight, x, "weight", "batch_norm_forward_inference");
  detail::require_norm_parameter(bias, x, "bias", "batch_norm_forward_inference");
  detail::require_norm_parameter(running_mean, x, "running_mean", "batch_norm_forward_inference");
  detail::require_norm_parameter(running_var, x, "running_var", "batch_norm_forward_inference");
  Tensor<T, Cuda> y(x.shape());
  if (y.empty()) return y;
  detail::norm_inference_kernel<<<detail::grid_blocks(y.size()), detail::block_threads, 0, context().stream()>>>(
      y.data(), x.data(), weight.data(), bias.data(), running_mean.data(), running_var.data(), eps, x.c(),
      x.shape().plane(), y.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return y;
}

// Backward of batch_norm_forward_training, from its saved statistics. dL/dx; adds dL/dweight and
// dL/dbias into `dweight` and `dbias` unless they are nullptr.
template <class T>
Tensor<T, Cuda> batch_norm_backward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& dy, const Tensor<T, Cuda>& weight,
                                    const Tensor<T, Cuda>& save_mean, const Tensor<T, Cuda>& save_inv_std,
                                    Tensor<T, Cuda>* dweight, Tensor<T, Cuda>* dbias) {
  require_same_shape(x, dy, "batch_norm_backward");
  detail::require_norm_parameter(weight, x, "weight", "batch_norm_backward");
  return detail::norm_backward(x, dy, weight, detail::batch_layout(x.shape()), x.c(), 1, save_mean.data(),
                               save_inv_std.data(), -1.0, true, dweight, dbias);
}

// Backward of batch_norm_forward_inference: the statistics are constants.
template <class T>
Tensor<T, Cuda> batch_norm_backward_inference(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& dy,
                                              const Tensor<T, Cuda>& weight, const Tensor<T, Cuda>& running_mean,
                                              const Tensor<T, Cuda>& running_var, double eps, Tensor<T, Cuda>* dweight,
                                              Tensor<T, Cuda>* dbias) {
  require_same_shape(x, dy, "batch_norm_backward_inference");
  detail::require_norm_parameter(weight, x, "weight", "batch_norm_backward_inference");
  return detail::norm_backward(x, dy, weight, detail::batch_layout(x.shape()), x.c(), 1, running_mean.data(),
                               running_var.data(), eps, false, dweight, dbias);
}

}  // namespace perceptual::cuda
