#pragma once
// norm.hpp's kernels and definitions, for nvcc (norm.hpp includes this file there); a host
// compiler's program links their instances (instances.cu) instead. A group (an (n, c) plane, or
// channel c over the batch) is cut into chunks of norm_chunk values, one block each, so that a few
// large planes still fill the GPU; a second small kernel merges each group's chunk partials in a
// fixed order, and a third pass applies the per-group map to every value. Chunks depend on the
// shape only and nothing is summed atomically, so results are bit-identical run to run (and from
// one device to another). A chunk's moments take two passes over its values held in registers, the
// mean first and then the squared deviations from it (the one-pass E[x^2] - E[x]^2 cancels
// catastrophically for pixel-valued activations); chunks are merged by Chan et al.'s pairwise
// formula in double.
#if !defined(__CUDACC__)
#error "perceptual/backend/cuda/norm.cuh has CUDA kernels, for nvcc: g++ links perceptual::cuda_instances"
#endif
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>

#include "perceptual/backend/checks.hpp"
#include "perceptual/backend/cuda/bf16.hpp"
#include "perceptual/backend/cuda/norm.hpp"
#include "perceptual/backend/cuda/tensor.hpp"
#include "perceptual/core/epilogue.hpp"

namespace perceptual::cuda {

namespace detail {

// What values are accumulated in within a thread: float for float and bf16, double for double.
// Block totals, chunk partials and their merge are double whatever the scalar: they are few.
template <class T>
using norm_acc_t = std::conditional_t<(sizeof(T) > sizeof(float)), T, float>;

// A chunk: norm_per_thread values per thread of a block. 4096 values cut a 1024x1024 plane into
// 256 blocks, and leave 16 bytes of partials per 16 KiB (float) of input.
inline constexpr int norm_per_thread = 16;
inline constexpr std::size_t norm_chunk = std::size_t{block_threads} * norm_per_thread;

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
// n * C + c is one plane; batch norm: group c is channel c of each of the N samples. Value k of
// a group is value k % hw of its plane k / hw; chunk j holds values [j, j + 1) * norm_chunk.
struct NormLayout {
  int channels;
  std::size_t hw, planes, stride;
  bool per_sample;  // instance norm
  __host__ __device__ std::size_t count() const { return planes * hw; }
  __host__ __device__ unsigned chunks() const { return static_cast<unsigned>((count() + norm_chunk - 1) / norm_chunk); }
  __device__ std::size_t chunk_size(unsigned j) const {
    const std::size_t rest = count() - j * norm_chunk;
    return rest < norm_chunk ? rest : norm_chunk;
  }
  // The group of plane q of the tensor (q = n * C + c).
  __device__ std::size_t group_of_plane(std::size_t q) const { return per_sample ? q : q % channels; }
  __device__ int channel(int g) const { return per_sample ? g % channels : g; }
};

inline NormLayout instance_layout(Shape4 s) {
  return {s.c, s.plane(), 1, s.plane(), true};
}
inline NormLayout batch_layout(Shape4 s) {
  return {s.c, s.plane(), static_cast<std::size_t>(s.n), static_cast<std::size_t>(s.c) * s.plane(), false};
}

// Walks a thread's values k, k + block_threads, ... of group g: a division to start, then one
// only where a step crosses into another plane (batch norm), none per value.
struct NormCursor {
  std::size_t plane, index;
  __device__ NormCursor(const NormLayout& l, std::size_t k) : plane(k / l.hw), index(k % l.hw) {}
  __device__ std::size_t offset(const NormLayout& l, int g) const {
    return static_cast<std::size_t>(g) * l.hw + plane * l.stride + index;
  }
  __device__ void step(const NormLayout& l) {
    index += block_threads;
    if (index >= l.hw) {
      plane += index / l.hw;
      index %= l.hw;
    }
  }
};

// Count, mean and sum of squared deviations of some values.
struct Moments {
  double n, mean, m2;  // no initialisers: a __shared__ array needs a trivial constructor
};

// Chan, Golub and LeVeque's pairwise update; exact when either side is empty, so idle threads
// take part in the merge.
__device__ inline Moments merge(Moments a, Moments b) {
  const double n = a.n + b.n;
  if (n == 0) return a;
  const double d = b.mean - a.mean;
  return {n, a.mean + d * (b.n / n), a.m2 + b.m2 + d * d * (a.n / n * b.n)};
}

// One block per chunk (block = g * chunks + j): the chunk's mean, exactly as its deviations were
// taken from, and their sum of squares.
template <class T>
__global__ void norm_moments_kernel(const T* x, NormLayout l, unsigned chunks, double* chunk_mean, double* chunk_m2) {
  using A = norm_acc_t<T>;
  __shared__ double scratch[block_threads];
  const int g = static_cast<int>(blockIdx.x / chunks);
  const unsigned j = blockIdx.x % chunks;
  const std::size_t n = l.chunk_size(j);
  A v[norm_per_thread];
  A s = 0;
  NormCursor at(l, j * norm_chunk + threadIdx.x);
#pragma unroll
  for (int i = 0; i < norm_per_thread; ++i, at.step(l)) {
    v[i] = threadIdx.x + std::size_t{block_threads} * i < n ? static_cast<A>(x[at.offset(l, g)]) : A(0);
    s += v[i];
  }
  const A mean = static_cast<A>(block_total<double>(s, scratch) / static_cast<double>(n));
  A q = 0;
#pragma unroll
  for (int i = 0; i < norm_per_thread; ++i) {
    const A d = v[i] - mean;
    if (threadIdx.x + std::size_t{block_threads} * i < n) q += d * d;
  }
  const double m2 = block_total<double>(q, scratch);
  if (threadIdx.x == 0) {
    chunk_mean[blockIdx.x] = mean;
    chunk_m2[blockIdx.x] = m2;
  }
}

// One block per group: merges its chunks (thread t takes t, t + block_threads, ... in turn, then
// a fixed tree), saves the statistics, moves the running ones (running_mean non-null), and
// writes the apply pass's map per group: affine[3g .. 3g + 2] = mean, inv_std * gamma, beta.
template <class T, class S, class A>
__global__ void norm_statistics_kernel(const double* chunk_mean, const double* chunk_m2, NormLayout l, unsigned chunks,
                                       double eps, const T* weight, const T* bias, S* save_mean, S* save_inv_std,
                                       T* running_mean, T* running_var, double momentum, A* affine) {
  __shared__ Moments scratch[block_threads];
  const int g = blockIdx.x;
  Moments m{0, 0, 0};
  for (unsigned j = threadIdx.x; j < chunks; j += block_threads) {
    const std::size_t b = static_cast<std::size_t>(g) * chunks + j;
    m = merge(m, {static_cast<double>(l.chunk_size(j)), chunk_mean[b], chunk_m2[b]});
  }
  scratch[threadIdx.x] = m;
  __syncthreads();
  for (unsigned stride = block_threads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) scratch[threadIdx.x] = merge(scratch[threadIdx.x], scratch[threadIdx.x + stride]);
    __syncthreads();
  }
  if (threadIdx.x != 0) return;
  const double mean = scratch[0].mean, var = scratch[0].m2 / scratch[0].n;
  const double inv_std = 1 / sqrt(var + eps);
  save_mean[g] = static_cast<S>(mean);
  save_inv_std[g] = static_cast<S>(inv_std);
  if (running_mean) {  // batch norm in training: PyTorch's update, unbiased variance
    const double n = static_cast<double>(l.count());
    running_mean[g] = static_cast<T>((1 - momentum) * static_cast<double>(running_mean[g]) + momentum * mean);
    running_var[g] =
        static_cast<T>((1 - momentum) * static_cast<double>(running_var[g]) + momentum * var * n / (n - 1));
  }
  const int c = l.channel(g);
  affine[3 * g] = static_cast<A>(mean);
  affine[3 * g + 1] = static_cast<A>(inv_std * static_cast<double>(weight[c]));
  affine[3 * g + 2] = static_cast<A>(bias[c]);
}

// V consecutive values, loaded and stored as one access of V * sizeof(T) bytes.
template <class T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

// The apply passes: planes along y (striding past the grid's 65535), V values of a plane per
// thread and step along x. y = (x - mean) * scale + shift: the mean taken off first, as on the
// CPU, since x * scale + (shift - mean * scale) loses x's deviation to rounding when |mean| is large.
// Then the epilogue (core/epilogue.hpp): max(y, 0) where `relu`, + residual where it is not null.
// y may be x.
template <int V, class T, class A>
__global__ void norm_apply_kernel(T* y, const T* x, const A* affine, NormLayout l, std::size_t planes, bool relu,
                                  const T* residual) {
  using P = Pack<T, V>;
  for (std::size_t q = blockIdx.y; q < planes; q += gridDim.y) {
    const std::size_t g = l.group_of_plane(q);
    const A mean = affine[3 * g], scale = affine[3 * g + 1], shift = affine[3 * g + 2];
    const P* in = reinterpret_cast<const P*>(x + q * l.hw);
    const P* add = residual ? reinterpret_cast<const P*>(residual + q * l.hw) : nullptr;
    P* out = reinterpret_cast<P*>(y + q * l.hw);
    for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < l.hw / V;
         i += std::size_t{gridDim.x} * blockDim.x) {
      const P a = in[i];
      P b;
#pragma unroll
      for (int e = 0; e < V; ++e) {
        A v = (static_cast<A>(a.v[e]) - mean) * scale + shift;
        if (relu) v = v > A(0) ? v : A(0);
        if (add) v += static_cast<A>(add[i].v[e]);
        b.v[e] = static_cast<T>(v);
      }
      out[i] = b;
    }
  }
}

// Batch norm with running statistics: the per-channel affine map, one thread per value.
template <class T>
__global__ void norm_inference_kernel(T* y, const T* x, const T* weight, const T* bias, const T* running_mean,
                                      const T* running_var, double eps, int channels, std::size_t hw, std::size_t n,
                                      bool relu, const T* residual) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const int c = static_cast<int>(i / hw % channels);
    const double a = static_cast<double>(weight[c]) / sqrt(static_cast<double>(running_var[c]) + eps);
    double v =
        static_cast<double>(x[i]) * a + (static_cast<double>(bias[c]) - static_cast<double>(running_mean[c]) * a);
    if (relu) v = v > 0 ? v : 0;
    if (residual) v += static_cast<double>(residual[i]);
    y[i] = static_cast<T>(v);
  }
}

// Group g's inv_std: stats_inv[g], or 1 / sqrt(stats_inv[g] + eps) when it holds a variance
// (var_eps >= 0: batch norm's running statistics).
template <class A, class S>
__device__ A group_inv_std(const S* stats_inv, int g, double var_eps) {
  return var_eps >= 0 ? static_cast<A>(1 / sqrt(static_cast<double>(stats_inv[g]) + var_eps))
                      : static_cast<A>(stats_inv[g]);
}

// One block per chunk, as norm_moments_kernel: the chunk's sums of dy and of dy * x_hat.
template <class T, class S>
__global__ void norm_grad_sums_kernel(const T* x, const T* dy, NormLayout l, unsigned chunks, const S* stats_mean,
                                      const S* stats_inv, double var_eps, double* chunk_dy, double* chunk_dy_xhat) {
  using A = norm_acc_t<T>;
  __shared__ double scratch[block_threads];
  const int g = static_cast<int>(blockIdx.x / chunks);
  const unsigned j = blockIdx.x % chunks;
  const std::size_t n = l.chunk_size(j);
  const A mean = static_cast<A>(stats_mean[g]);
  const A inv_std = group_inv_std<A>(stats_inv, g, var_eps);
  A s = 0, sx = 0;
  NormCursor at(l, j * norm_chunk + threadIdx.x);
#pragma unroll
  for (int i = 0; i < norm_per_thread; ++i, at.step(l)) {
    if (threadIdx.x + std::size_t{block_threads} * i >= n) continue;
    const std::size_t o = at.offset(l, g);
    const A d = static_cast<A>(dy[o]);
    s += d;
    sx += d * ((static_cast<A>(x[o]) - mean) * inv_std);
  }
  const double sum_dy = block_total<double>(s, scratch);
  const double sum_dy_xhat = block_total<double>(sx, scratch);
  if (threadIdx.x == 0) {
    chunk_dy[blockIdx.x] = sum_dy;
    chunk_dy_xhat[blockIdx.x] = sum_dy_xhat;
  }
}

// One block per group: sums its chunks in order (as norm_statistics_kernel) into the group's
// (sum dy, sum dy * x_hat), the parameter gradients' partials, and writes backward's map per
// group: grad[5g .. 5g + 4] = mean, inv_std, gamma * inv_std, mean(dy), mean(dy * x_hat), the
// last two 0 with fixed statistics (the affine map's dx = gamma * inv_std * dy).
template <class T, class S, class A>
__global__ void norm_grad_merge_kernel(const double* chunk_dy, const double* chunk_dy_xhat, NormLayout l,
                                       unsigned chunks, const S* stats_mean, const S* stats_inv, double var_eps,
                                       const T* weight, bool batch_statistics, double* sum_dy_out,
                                       double* sum_dy_xhat_out, A* grad) {
  __shared__ double scratch[block_threads];
  const int g = blockIdx.x;
  double s = 0, sx = 0;
  for (unsigned j = threadIdx.x; j < chunks; j += block_threads) {
    const std::size_t b = static_cast<std::size_t>(g) * chunks + j;
    s += chunk_dy[b];
    sx += chunk_dy_xhat[b];
  }
  const double sum_dy = block_total(s, scratch);
  const double sum_dy_xhat = block_total(sx, scratch);
  if (threadIdx.x != 0) return;
  sum_dy_out[g] = sum_dy;
  sum_dy_xhat_out[g] = sum_dy_xhat;
  const double count = static_cast<double>(l.count());
  const A inv_std = group_inv_std<A>(stats_inv, g, var_eps);
  grad[5 * g] = static_cast<A>(stats_mean[g]);
  grad[5 * g + 1] = inv_std;
  grad[5 * g + 2] = static_cast<A>(weight[l.channel(g)]) * inv_std;
  grad[5 * g + 3] = batch_statistics ? static_cast<A>(sum_dy / count) : A(0);
  grad[5 * g + 4] = batch_statistics ? static_cast<A>(sum_dy_xhat / count) : A(0);
}

// dx = gamma * inv_std * (dy - mean(dy) - x_hat * mean(dy * x_hat)), laid out as norm_apply_kernel.
template <int V, class T, class A>
__global__ void norm_backward_apply_kernel(T* dx, const T* x, const T* dy, const A* grad, NormLayout l,
                                           std::size_t planes) {
  using P = Pack<T, V>;
  for (std::size_t q = blockIdx.y; q < planes; q += gridDim.y) {
    const std::size_t g = l.group_of_plane(q);
    const A mean = grad[5 * g], inv_std = grad[5 * g + 1], k = grad[5 * g + 2];
    const A mean_dy = grad[5 * g + 3], mean_dy_xhat = grad[5 * g + 4];
    const P* xs = reinterpret_cast<const P*>(x + q * l.hw);
    const P* dys = reinterpret_cast<const P*>(dy + q * l.hw);
    P* out = reinterpret_cast<P*>(dx + q * l.hw);
    for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < l.hw / V;
         i += std::size_t{gridDim.x} * blockDim.x) {
      const P a = xs[i], d = dys[i];
      P b;
#pragma unroll
      for (int e = 0; e < V; ++e) {
        const A xhat = (static_cast<A>(a.v[e]) - mean) * inv_std;
        b.v[e] = static_cast<T>(k * (static_cast<A>(d.v[e]) - mean_dy - xhat * mean_dy_xhat));
      }
      out[i] = b;
    }
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

using checks::require_norm_output;
using checks::require_norm_parameter;

inline Shape4 flat_shape(std::size_t n) {
  return {1, 1, 1, static_cast<int>(n)};
}

// The values a thread moves per access in the apply passes: 16 bytes' worth where every plane
// starts 16-byte aligned (hw a multiple of that, pointers aligned, as the allocator's blocks
// are), else one. Either way each value gets the same arithmetic, so the results agree.
template <class T>
inline constexpr int pack_values = 16 / sizeof(T);
template <class T>
bool packable(std::size_t hw, std::initializer_list<const void*> pointers) {
  return hw % pack_values<T> == 0 && std::all_of(pointers.begin(), pointers.end(), [](const void* p) {
           return reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
         });
}

// Grid of the apply passes: planes along y, and along x enough blocks for a plane's `steps`
// thread steps, fewer where there are many planes (4096 blocks in all fill any current GPU).
inline dim3 apply_grid(std::size_t planes, std::size_t steps) {
  const unsigned y = static_cast<unsigned>(std::min<std::size_t>(planes, 65535));
  const std::size_t x = std::min((steps + block_threads - 1) / block_threads, std::max<std::size_t>(1, 4096 / y));
  return dim3(static_cast<unsigned>(x), y);
}

template <class T, class S>
void norm_forward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& weight, const Tensor<T, Cuda>& bias, NormLayout l,
                  int groups, double eps, S* save_mean, S* save_inv_std, T* running_mean, T* running_var,
                  double momentum, Tensor<T, Cuda>& y, const NormEpilogue<T, Cuda>& epilogue) {
  using A = norm_acc_t<T>;
  if (y.empty()) return;
  const cudaStream_t stream = context().stream();
  const unsigned chunks = l.chunks();
  const std::size_t blocks = static_cast<std::size_t>(groups) * chunks;
  Tensor<double, Cuda> chunk_mean(flat_shape(blocks)), chunk_m2(flat_shape(blocks));
  Tensor<A, Cuda> affine(flat_shape(3 * static_cast<std::size_t>(groups)));
  norm_moments_kernel<<<static_cast<unsigned>(blocks), block_threads, 0, stream>>>(x.data(), l, chunks,
                                                                                   chunk_mean.data(), chunk_m2.data());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  norm_statistics_kernel<<<groups, block_threads, 0, stream>>>(chunk_mean.data(), chunk_m2.data(), l, chunks, eps,
                                                               weight.data(), bias.data(), save_mean, save_inv_std,
                                                               running_mean, running_var, momentum, affine.data());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  const std::size_t planes = static_cast<std::size_t>(x.n()) * x.c();
  constexpr int V = pack_values<T>;
  const T* residual = epilogue.residual ? epilogue.residual->data() : nullptr;
  if (packable<T>(l.hw, {x.data(), y.data(), residual ? residual : y.data()}))
    norm_apply_kernel<V><<<apply_grid(planes, l.hw / V), block_threads, 0, stream>>>(
        y.data(), x.data(), affine.data(), l, planes, epilogue.relu, residual);
  else
    norm_apply_kernel<1><<<apply_grid(planes, l.hw), block_threads, 0, stream>>>(y.data(), x.data(), affine.data(), l,
                                                                                 planes, epilogue.relu, residual);
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
}

// The shared backward: dx, and the parameter gradients (summed over `samples` groups per
// channel) added into dweight and dbias unless they are nullptr.
template <class T, class S>
Tensor<T, Cuda> norm_backward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& dy, const Tensor<T, Cuda>& weight,
                              NormLayout l, int groups, int samples, const S* stats_mean, const S* stats_inv,
                              double var_eps, bool batch_statistics, Tensor<T, Cuda>* dweight, Tensor<T, Cuda>* dbias) {
  using A = norm_acc_t<T>;
  Tensor<T, Cuda> dx(x.shape());
  if (dx.empty()) return dx;
  const cudaStream_t stream = context().stream();
  // With fixed statistics and no parameter gradients dx needs no sums: the merge sees no chunks.
  const unsigned chunks = batch_statistics || dweight || dbias ? l.chunks() : 0;
  const std::size_t blocks = static_cast<std::size_t>(groups) * chunks;
  Tensor<double, Cuda> chunk_dy(flat_shape(blocks)), chunk_dy_xhat(flat_shape(blocks));
  Tensor<double, Cuda> sum_dy(flat_shape(groups)), sum_dy_xhat(flat_shape(groups));
  Tensor<A, Cuda> grad(flat_shape(5 * static_cast<std::size_t>(groups)));
  if (blocks > 0) {
    norm_grad_sums_kernel<<<static_cast<unsigned>(blocks), block_threads, 0, stream>>>(
        x.data(), dy.data(), l, chunks, stats_mean, stats_inv, var_eps, chunk_dy.data(), chunk_dy_xhat.data());
    PERCEPTUAL_CUDA_CHECK_LAUNCH();
  }
  norm_grad_merge_kernel<<<groups, block_threads, 0, stream>>>(
      chunk_dy.data(), chunk_dy_xhat.data(), l, chunks, stats_mean, stats_inv, var_eps, weight.data(), batch_statistics,
      sum_dy.data(), sum_dy_xhat.data(), grad.data());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  const std::size_t planes = static_cast<std::size_t>(x.n()) * x.c();
  constexpr int V = pack_values<T>;
  if (packable<T>(l.hw, {x.data(), dy.data(), dx.data()}))
    norm_backward_apply_kernel<V><<<apply_grid(planes, l.hw / V), block_threads, 0, stream>>>(
        dx.data(), x.data(), dy.data(), grad.data(), l, planes);
  else
    norm_backward_apply_kernel<1><<<apply_grid(planes, l.hw), block_threads, 0, stream>>>(
        dx.data(), x.data(), dy.data(), grad.data(), l, planes);
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  const unsigned channel_blocks = static_cast<unsigned>((x.c() + block_threads - 1) / block_threads);
  if (dweight) {
    accumulate_norm_grad_kernel<<<channel_blocks, block_threads, 0, stream>>>(dweight->data(), sum_dy_xhat.data(),
                                                                              x.c(), samples);
    PERCEPTUAL_CUDA_CHECK_LAUNCH();
  }
  if (dbias) {
    accumulate_norm_grad_kernel<<<channel_blocks, block_threads, 0, stream>>>(dbias->data(), sum_dy.data(), x.c(),
                                                                              samples);
    PERCEPTUAL_CUDA_CHECK_LAUNCH();
  }
  return dx;
}

}  // namespace detail

template <class T, class S>
void instance_norm_forward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& weight, const Tensor<T, Cuda>& bias,
                           double eps, Tensor<S, Cuda>& save_mean, Tensor<S, Cuda>& save_inv_std, Tensor<T, Cuda>& y,
                           const NormEpilogue<T, Cuda>& epilogue) {
  detail::require_norm_parameter(weight, x, "weight", "instance_norm_forward");
  detail::require_norm_parameter(bias, x, "bias", "instance_norm_forward");
  detail::require_norm_output(x, y, epilogue, "instance_norm_forward");
  save_mean = Tensor<S, Cuda>({x.n(), x.c(), 1, 1});
  save_inv_std = Tensor<S, Cuda>({x.n(), x.c(), 1, 1});
  detail::norm_forward(x, weight, bias, detail::instance_layout(x.shape()), x.n() * x.c(), eps, save_mean.data(),
                       save_inv_std.data(), static_cast<T*>(nullptr), static_cast<T*>(nullptr), 0.0, y, epilogue);
}

template <class T, class S>
Tensor<T, Cuda> instance_norm_forward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& weight,
                                      const Tensor<T, Cuda>& bias, double eps, Tensor<S, Cuda>& save_mean,
                                      Tensor<S, Cuda>& save_inv_std) {
  Tensor<T, Cuda> y(x.shape());
  instance_norm_forward(x, weight, bias, eps, save_mean, save_inv_std, y, {});
  return y;
}

template <class T, class S>
Tensor<T, Cuda> instance_norm_backward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& dy,
                                       const Tensor<T, Cuda>& weight, const Tensor<S, Cuda>& save_mean,
                                       const Tensor<S, Cuda>& save_inv_std, Tensor<T, Cuda>* dweight,
                                       Tensor<T, Cuda>* dbias) {
  require_same_shape(x, dy, "instance_norm_backward");
  detail::require_norm_parameter(weight, x, "weight", "instance_norm_backward");
  return detail::norm_backward(x, dy, weight, detail::instance_layout(x.shape()), x.n() * x.c(), x.n(),
                               save_mean.data(), save_inv_std.data(), -1.0, true, dweight, dbias);
}

template <class T, class S>
void batch_norm_forward_training(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& weight, const Tensor<T, Cuda>& bias,
                                 double eps, double momentum, Tensor<T, Cuda>& running_mean,
                                 Tensor<T, Cuda>& running_var, Tensor<S, Cuda>& save_mean,
                                 Tensor<S, Cuda>& save_inv_std, Tensor<T, Cuda>& y,
                                 const NormEpilogue<T, Cuda>& epilogue) {
  detail::require_norm_parameter(weight, x, "weight", "batch_norm_forward_training");
  detail::require_norm_parameter(bias, x, "bias", "batch_norm_forward_training");
  detail::require_norm_parameter(running_mean, x, "running_mean", "batch_norm_forward_training");
  detail::require_norm_parameter(running_var, x, "running_var", "batch_norm_forward_training");
  detail::require_norm_output(x, y, epilogue, "batch_norm_forward_training");
  const double count = static_cast<double>(x.n()) * static_cast<double>(x.shape().plane());
  if (count < 2)
    throw ShapeError("batch_norm_forward_training: input " + to_string(x.shape()) +
                     " has one value per channel, training needs more for a variance");
  save_mean = Tensor<S, Cuda>({1, x.c(), 1, 1});
  save_inv_std = Tensor<S, Cuda>({1, x.c(), 1, 1});
  detail::norm_forward(x, weight, bias, detail::batch_layout(x.shape()), x.c(), eps, save_mean.data(),
                       save_inv_std.data(), running_mean.data(), running_var.data(), momentum, y, epilogue);
}

template <class T, class S>
Tensor<T, Cuda> batch_norm_forward_training(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& weight,
                                            const Tensor<T, Cuda>& bias, double eps, double momentum,
                                            Tensor<T, Cuda>& running_mean, Tensor<T, Cuda>& running_var,
                                            Tensor<S, Cuda>& save_mean, Tensor<S, Cuda>& save_inv_std) {
  Tensor<T, Cuda> y(x.shape());
  batch_norm_forward_training(x, weight, bias, eps, momentum, running_mean, running_var, save_mean, save_inv_std, y,
                              {});
  return y;
}

template <class T>
void batch_norm_forward_inference(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& weight, const Tensor<T, Cuda>& bias,
                                  const Tensor<T, Cuda>& running_mean, const Tensor<T, Cuda>& running_var, double eps,
                                  Tensor<T, Cuda>& y, const NormEpilogue<T, Cuda>& epilogue) {
  detail::require_norm_parameter(weight, x, "weight", "batch_norm_forward_inference");
  detail::require_norm_parameter(bias, x, "bias", "batch_norm_forward_inference");
  detail::require_norm_parameter(running_mean, x, "running_mean", "batch_norm_forward_inference");
  detail::require_norm_parameter(running_var, x, "running_var", "batch_norm_forward_inference");
  detail::require_norm_output(x, y, epilogue, "batch_norm_forward_inference");
  if (y.empty()) return;
  detail::norm_inference_kernel<<<detail::grid_blocks(y.size()), detail::block_threads, 0, context().stream()>>>(
      y.data(), x.data(), weight.data(), bias.data(), running_mean.data(), running_var.data(), eps, x.c(),
      x.shape().plane(), y.size(), epilogue.relu, epilogue.residual ? epilogue.residual->data() : nullptr);
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
}

template <class T>
Tensor<T, Cuda> batch_norm_forward_inference(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& weight,
                                             const Tensor<T, Cuda>& bias, const Tensor<T, Cuda>& running_mean,
                                             const Tensor<T, Cuda>& running_var, double eps) {
  Tensor<T, Cuda> y(x.shape());
  batch_norm_forward_inference(x, weight, bias, running_mean, running_var, eps, y, {});
  return y;
}

template <class T, class S>
Tensor<T, Cuda> batch_norm_backward(const Tensor<T, Cuda>& x, const Tensor<T, Cuda>& dy, const Tensor<T, Cuda>& weight,
                                    const Tensor<S, Cuda>& save_mean, const Tensor<S, Cuda>& save_inv_std,
                                    Tensor<T, Cuda>* dweight, Tensor<T, Cuda>* dbias) {
  require_same_shape(x, dy, "batch_norm_backward");
  detail::require_norm_parameter(weight, x, "weight", "batch_norm_backward");
  return detail::norm_backward(x, dy, weight, detail::batch_layout(x.shape()), x.c(), 1, save_mean.data(),
                               save_inv_std.data(), -1.0, true, dweight, dbias);
}

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
