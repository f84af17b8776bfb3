#pragma once
// optim.hpp's kernels and definitions, for nvcc (optim.hpp includes this file there); a host
// compiler's program links their instances (instances.cu) instead.
#if !defined(__CUDACC__)
#error "perceptual/backend/cuda/optim.cuh has CUDA kernels, for nvcc: g++ links perceptual::cuda_instances"
#endif
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "perceptual/backend/cuda/bf16.hpp"
#include "perceptual/backend/cuda/optim.hpp"
#include "perceptual/backend/cuda/pointwise.cuh"
#include "perceptual/backend/cuda/tensor.hpp"

namespace perceptual::cuda {

namespace detail {

// 32 well-mixed bits from an index and a per-step salt (a murmur3-style finaliser).
__device__ inline std::uint32_t mix_bits(std::uint64_t i, std::uint32_t salt) {
  std::uint32_t h = static_cast<std::uint32_t>(i) ^ static_cast<std::uint32_t>(i >> 32) * 0x9e3779b9u ^ salt;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  return h ^ (h >> 16);
}

// An updated parameter back to storage. bf16 rounds stochastically (add 16 random bits below
// the kept ones, then truncate: unbiased), so steps smaller than half a unit in the last place,
// such as lr 1e-3 on a norm's scale near 1, still move it on average (Zamirai et al. 2020, pure
// bf16 training); every other type rounds to nearest.
template <class T>
__device__ T store_parameter(compute_t<T> value, std::uint32_t random) {
  if constexpr (std::is_same_v<T, bf16>) {
    const std::uint32_t u = __float_as_uint(value);
    if ((u & 0x7f800000u) == 0x7f800000u) return static_cast<T>(value);  // inf or NaN as it is
    bf16 out;
    out.bits = static_cast<std::uint16_t>((u + (random & 0xffffu)) >> 16);
    return out;
  } else {
    (void)random;
    return static_cast<T>(value);
  }
}

// Adam in compute_t<T> (float for bf16), the moments kept in it too (a bf16 second moment could
// not decay: 0.999 v rounds back to v with 8 significant bits), the parameter stored by
// store_parameter.
template <class T>
__global__ void adam_kernel(T* p, const T* g, compute_t<T>* m, compute_t<T>* v, compute_t<T> b1, compute_t<T> b2,
                            compute_t<T> step_size, compute_t<T> inv_sqrt_bc2, compute_t<T> eps, std::uint32_t salt,
                            std::size_t n) {
  using C = compute_t<T>;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const C gi = static_cast<C>(g[i]);
    const C mi = b1 * m[i] + (C(1) - b1) * gi;
    const C vi = b2 * v[i] + (C(1) - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] =
        store_parameter<T>(static_cast<C>(p[i]) - step_size * mi / (sqrt(vi) * inv_sqrt_bc2 + eps), mix_bits(i, salt));
  }
}

// require_same_shape for a parameter and a moment, which may differ in type (bf16 and float).
template <class T, class M>
void require_moment_shape(const Tensor<T, Cuda>& param, const Tensor<M, Cuda>& moment, const std::string& where) {
  if (param.shape() != moment.shape())
    throw ShapeError(where + ": shapes " + to_string(param.shape()) + " and " + to_string(moment.shape()) + " differ");
}

// std::clamp's order of comparisons, so ties and NaN resolve as on the CPU.
template <class T>
__device__ T box_clamp(T v, T lo, T hi) {
  return v < lo ? lo : (hi < v ? hi : v);
}

template <class T>
__global__ void box_project_kernel(T* x, T lo, T hi, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    x[i] = box_clamp(x[i], lo, hi);
}

// The mask, and the binding count per block (integer partials: exact in any order).
template <class T>
__global__ void box_free_mask_kernel(T* mask, const T* x, const T* g, T lo, T hi, std::size_t n,
                                     unsigned long long* binding) {
  unsigned long long count = 0;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const bool bound = (x[i] <= lo && g[i] > 0) || (x[i] >= hi && g[i] < 0);
    mask[i] = bound ? T(0) : T(1);
    count += bound;
  }
  if (count) atomicAdd(binding, count);
}

template <class T>
__global__ void apply_mask_kernel(T* x, const T* mask, std::size_t n) {
  using C = compute_t<T>;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    x[i] = static_cast<T>(static_cast<C>(x[i]) * static_cast<C>(mask[i]));
}

template <class T>
__global__ void box_mask_direction_kernel(T* d, const T* x, const T* g, T lo, T hi, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const bool at_lo = x[i] <= lo && (g[i] > 0 || d[i] < 0);
    const bool at_hi = x[i] >= hi && (g[i] < 0 || d[i] > 0);
    if (at_lo || at_hi) d[i] = T(0);
  }
}

// std::max's rule (a < b ? b : a): a NaN candidate is skipped, as on the CPU.
__device__ inline double max_keep(double a, double b) {
  return a < b ? b : a;
}

// The block's maximum in shared memory; thread 0 gets it. block_threads threads.
__device__ inline double block_max(double v) {
  __shared__ double partial[block_threads];
  partial[threadIdx.x] = v;
  __syncthreads();
  for (unsigned stride = block_threads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] = max_keep(partial[threadIdx.x], partial[threadIdx.x + stride]);
    __syncthreads();
  }
  return partial[0];
}

enum class Norm { projected_gradient_max, max_abs, abs_sum };

// One partial per block of the chosen norm: a maximum, or a sum accumulated in double.
template <Norm K, class T>
__global__ void norm_partials_kernel(const T* x, const T* g, T lo, T hi, std::size_t n, double* partials) {
  double r = 0;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    if constexpr (K == Norm::projected_gradient_max) {
      // Inside the box use |g| itself: (x - g) - x loses g's low digits when |x| >> |g|.
      const T t = x[i] - g[i];
      const double v =
          (t > lo && t < hi) ? fabs(static_cast<double>(g[i])) : fabs(static_cast<double>(box_clamp(t, lo, hi)) - x[i]);
      r = max_keep(r, v);
    } else if constexpr (K == Norm::max_abs) {
      r = max_keep(r, fabs(static_cast<double>(x[i])));
    } else {
      r += fabs(static_cast<double>(x[i]));
    }
  }
  r = K == Norm::abs_sum ? block_sum(r) : block_max(r);
  if (threadIdx.x == 0) partials[blockIdx.x] = r;
}

template <Norm K, class T>
double reduce_norm(const T* x, const T* g, T lo, T hi, std::size_t n) {
  if (n == 0) return 0;
  const unsigned blocks = std::min(grid_blocks(n), 1024u);
  Tensor<double, Cuda> partials({1, 1, 1, static_cast<int>(blocks)});
  norm_partials_kernel<K><<<blocks, block_threads, 0, context().stream()>>>(x, g, lo, hi, n, partials.data());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  double r = 0;
  for (double p : partials.to_host()) r = K == Norm::abs_sum ? r + p : std::max(r, p);
  return r;
}

}  // namespace detail

template <class T, class M>
void adam_update(Tensor<T, Cuda>& param, const Tensor<T, Cuda>& grad, Tensor<M, Cuda>& m, Tensor<M, Cuda>& v, double lr,
                 double beta1, double beta2, double eps, std::int64_t step) {
  static_assert(std::is_same_v<M, detail::compute_t<T>>,
                "adam_update: the moments are float for bf16 parameters (a bf16 second moment cannot decay: 0.999 v "
                "rounds back to v), else the parameter's type.");
  require_same_shape(param, grad, "adam_update (parameter, gradient)");
  detail::require_moment_shape(param, m, "adam_update (parameter, first moment)");
  detail::require_moment_shape(param, v, "adam_update (parameter, second moment)");
  if (param.empty()) return;
  const double bc1 = 1 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1 - std::pow(beta2, static_cast<double>(step));
  using C = detail::compute_t<T>;
  // A different stream of rounding bits for each step and each parameter tensor.
  const auto salt = static_cast<std::uint32_t>(static_cast<std::uint64_t>(step) * 0x9e3779b97f4a7c15ull ^
                                               static_cast<std::uint64_t>(param.size()) * 0xbf58476d1ce4e5b9ull);
  detail::adam_kernel<<<detail::grid_blocks(param.size()), detail::block_threads, 0, context().stream()>>>(
      param.data(), grad.data(), m.data(), v.data(), static_cast<C>(beta1), static_cast<C>(beta2),
      static_cast<C>(lr / bc1), static_cast<C>(1 / std::sqrt(bc2)), static_cast<C>(eps), salt, param.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
}

template <class T>
void box_project(Tensor<T, Cuda>& x, T lo, T hi) {
  if (x.empty()) return;
  detail::box_project_kernel<<<detail::grid_blocks(x.size()), detail::block_threads, 0, context().stream()>>>(
      x.data(), lo, hi, x.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
}

template <class T>
std::size_t box_free_mask(Tensor<T, Cuda>& mask, const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& g, T lo, T hi) {
  require_same_shape(x, g, "box_free_mask (point, gradient)");
  if (mask.shape() != x.shape()) mask = Tensor<T, Cuda>(x.shape());
  if (x.empty()) return 0;
  Tensor<unsigned long long, Cuda> binding({1, 1, 1, 1});  // zero-filled
  detail::box_free_mask_kernel<<<detail::grid_blocks(x.size()), detail::block_threads, 0, context().stream()>>>(
      mask.data(), x.data(), g.data(), lo, hi, x.size(), binding.data());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return static_cast<std::size_t>(binding.to_host()[0]);
}

template <class T>
void apply_mask(Tensor<T, Cuda>& x, const Tensor<T, Cuda>& mask) {
  require_same_shape(x, mask, "apply_mask");
  if (x.empty()) return;
  detail::apply_mask_kernel<<<detail::grid_blocks(x.size()), detail::block_threads, 0, context().stream()>>>(
      x.data(), mask.data(), x.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
}

template <class T>
void box_mask_direction(Tensor<T, Cuda>& d, const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& g, T lo, T hi) {
  require_same_shape(d, x, "box_mask_direction (direction, point)");
  require_same_shape(x, g, "box_mask_direction (point, gradient)");
  if (d.empty()) return;
  detail::box_mask_direction_kernel<<<detail::grid_blocks(d.size()), detail::block_threads, 0, context().stream()>>>(
      d.data(), x.data(), g.data(), lo, hi, d.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
}

template <class T>
double box_projected_gradient_max(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& g, T lo, T hi) {
  require_same_shape(x, g, "box_projected_gradient_max");
  return detail::reduce_norm<detail::Norm::projected_gradient_max>(x.data(), g.data(), lo, hi, x.size());
}

template <class T>
double max_abs(const Tensor<T, Cuda>& x) {
  return detail::reduce_norm<detail::Norm::max_abs>(x.data(), static_cast<const T*>(nullptr), T(0), T(0), x.size());
}

template <class T>
double abs_sum(const Tensor<T, Cuda>& x) {
  return detail::reduce_norm<detail::Norm::abs_sum>(x.data(), static_cast<const T*>(nullptr), T(0), T(0), x.size());
}

}  // namespace perceptual::cuda
