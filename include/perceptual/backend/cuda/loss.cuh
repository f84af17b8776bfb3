#pragma once
// loss.hpp's kernels and definitions, for nvcc (loss.hpp includes this file there); a host
// compiler's program links their instances (instances.cu) instead.
#if !defined(__CUDACC__)
#error "perceptual/backend/cuda/loss.cuh has CUDA kernels, for nvcc: g++ links perceptual::cuda_instances"
#endif
#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>

#include "perceptual/backend/cuda/bf16.hpp"
#include "perceptual/backend/cuda/loss.hpp"
#include "perceptual/backend/cuda/pointwise.cuh"
#include "perceptual/backend/cuda/tensor.hpp"

namespace perceptual::cuda {

namespace detail {

// b may hold one image for all of a's (a style target against a batch) or one per image.
template <class T>
void require_broadcastable(const Tensor<T, Cuda>& a, const Tensor<T, Cuda>& b, const std::string& where) {
  const Shape4 sa = a.shape(), sb = b.shape();
  if (sa.c != sb.c || sa.h != sb.h || sa.w != sb.w || (sb.n != sa.n && sb.n != 1))
    throw ShapeError(where + ": shapes " + to_string(sa) + " and " + to_string(sb) +
                     " differ (the second may have batch 1 or the first's batch)");
}

// Column-major C = alpha op(A) op(B) + beta C for `batch` matrices `stride_*` apart.
inline void gemm_strided_batched(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                                 const float* a, int lda, long long stride_a, const float* b, int ldb,
                                 long long stride_b, float beta, float* c, int ldc, long long stride_c, int batch) {
  PERCEPTUAL_CUBLAS_CHECK(cublasSgemmStridedBatched(context().cublas(), ta, tb, m, n, k, &alpha, a, lda, stride_a, b,
                                                    ldb, stride_b, &beta, c, ldc, stride_c, batch));
}
inline void gemm_strided_batched(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, double alpha,
                                 const double* a, int lda, long long stride_a, const double* b, int ldb,
                                 long long stride_b, double beta, double* c, int ldc, long long stride_c, int batch) {
  PERCEPTUAL_CUBLAS_CHECK(cublasDgemmStridedBatched(context().cublas(), ta, tb, m, n, k, &alpha, a, lda, stride_a, b,
                                                    ldb, stride_b, &beta, c, ldc, stride_c, batch));
}
// bf16 operands, a bf16 or a float result, float accumulation on tensor cores.
inline void gemm_strided_batched(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                                 const bf16* a, int lda, long long stride_a, const bf16* b, int ldb, long long stride_b,
                                 float beta, bf16* c, int ldc, long long stride_c, int batch) {
  PERCEPTUAL_CUBLAS_CHECK(cublasGemmStridedBatchedEx(context().cublas(), ta, tb, m, n, k, &alpha, a, CUDA_R_16BF, lda,
                                                     stride_a, b, CUDA_R_16BF, ldb, stride_b, &beta, c, CUDA_R_16BF,
                                                     ldc, stride_c, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}
inline void gemm_strided_batched(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                                 const bf16* a, int lda, long long stride_a, const bf16* b, int ldb, long long stride_b,
                                 float beta, float* c, int ldc, long long stride_c, int batch) {
  PERCEPTUAL_CUBLAS_CHECK(cublasGemmStridedBatchedEx(context().cublas(), ta, tb, m, n, k, &alpha, a, CUDA_R_16BF, lda,
                                                     stride_a, b, CUDA_R_16BF, ldb, stride_b, &beta, c, CUDA_R_32F, ldc,
                                                     stride_c, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

// sym[n] = dg[n] + dg[n]^T for each C x C matrix, dg in T or in the Gram's type G.
template <class T, class G>
__global__ void symmetrize_kernel(T* sym, const G* dg, int c, std::size_t n) {
  using C = compute_t<T>;
  const std::size_t cc = static_cast<std::size_t>(c) * c;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const std::size_t base = i / cc * cc;
    const int r = static_cast<int>(i % cc / c), k = static_cast<int>(i % c);
    sym[i] = static_cast<T>(static_cast<C>(dg[i]) + static_cast<C>(dg[base + static_cast<std::size_t>(k) * c + r]));
  }
}

// Index into b for index i of a, b broadcast over a's batch when it has batch 1.
__device__ inline std::size_t broadcast_index(std::size_t i, std::size_t per, bool broadcast) {
  return broadcast ? i % per : i;
}

template <class T>
__global__ void squared_distance_kernel(const T* a, const T* b, std::size_t per, bool broadcast, std::size_t n,
                                        double* partials) {
  double s = 0;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[broadcast_index(i, per, broadcast)]);
    s += d * d;
  }
  s = block_sum(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

template <class T>
__global__ void scaled_difference_kernel(T* out, const T* a, const T* b, compute_t<T> alpha, std::size_t per,
                                         bool broadcast, std::size_t n) {
  using C = compute_t<T>;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    out[i] = static_cast<T>(alpha * (static_cast<C>(a[i]) - static_cast<C>(b[broadcast_index(i, per, broadcast)])));
}

// wy * (vertical squared differences) + wx * (horizontal ones), per block.
template <class T>
__global__ void total_variation_kernel(const T* x, int h, int w, double wy, double wx, std::size_t n,
                                       double* partials) {
  double s = 0;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const int j = static_cast<int>(i % w), r = static_cast<int>(i / w % h);
    const double v = static_cast<double>(x[i]);
    if (r + 1 < h) {
      const double d = static_cast<double>(x[i + w]) - v;
      s += wy * d * d;
    }
    if (j + 1 < w) {
      const double d = static_cast<double>(x[i + 1]) - v;
      s += wx * d * d;
    }
  }
  s = block_sum(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

// Each value gathers the terms of its up to four neighbouring differences (no atomics).
template <class T>
__global__ void total_variation_backward_kernel(T* dx, const T* x, int h, int w, compute_t<T> wy, compute_t<T> wx,
                                                std::size_t n) {
  using C = compute_t<T>;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const int j = static_cast<int>(i % w), r = static_cast<int>(i / w % h);
    const C v = static_cast<C>(x[i]);
    C d = 0;
    if (r > 0) d += C(2) * wy * (v - static_cast<C>(x[i - w]));
    if (r + 1 < h) d -= C(2) * wy * (static_cast<C>(x[i + w]) - v);
    if (j > 0) d += C(2) * wx * (v - static_cast<C>(x[i - 1]));
    if (j + 1 < w) d -= C(2) * wx * (static_cast<C>(x[i + 1]) - v);
    dx[i] = static_cast<T>(d);
  }
}

// Adds the per-block partials of a reduction kernel already launched into `partials`.
inline double add_partials(const Tensor<double, Cuda>& partials) {
  double s = 0;
  for (double p : partials.to_host()) s += p;
  return s;
}

}  // namespace detail

template <class T>
Tensor<detail::compute_t<T>, Cuda> gram_forward(const Tensor<T, Cuda>& f) {
  using G = detail::compute_t<T>;
  if (f.empty()) throw ShapeError("gram_forward: empty features " + to_string(f.shape()));
  const int c = f.c(), hw = f.h() * f.w();
  Tensor<G, Cuda> g({f.n(), 1, c, c});
  const auto alpha = static_cast<G>(1 / (static_cast<double>(c) * hw));
  // Row-major F (C x HW) is column-major F^T (HW x C): G = (F^T)^T F^T, symmetric either way.
  detail::gemm_strided_batched(CUBLAS_OP_T, CUBLAS_OP_N, c, c, hw, alpha, f.data(), hw, static_cast<long long>(c) * hw,
                               f.data(), hw, static_cast<long long>(c) * hw, G(0), g.data(), c,
                               static_cast<long long>(c) * c, f.n());
  return g;
}

template <class T, class G>
Tensor<T, Cuda> gram_backward(const Tensor<T, Cuda>& f, const Tensor<G, Cuda>& dg) {
  static_assert(std::is_same_v<G, T> || std::is_same_v<G, detail::compute_t<T>>,
                "gram_backward: the Gram gradient is in the features' type or in the Gram's (float for bf16).");
  const Shape4 expected{f.n(), 1, f.c(), f.c()};
  if (dg.shape() != expected)
    throw ShapeError("gram_backward: gradient " + to_string(dg.shape()) + " for features " + to_string(f.shape()) +
                     ", expected " + to_string(expected));
  const int c = f.c(), hw = f.h() * f.w();
  Tensor<T, Cuda> df(f.shape());
  if (f.empty()) return df;
  const auto alpha = static_cast<detail::compute_t<T>>(1 / (static_cast<double>(c) * hw));
  Tensor<T, Cuda> sym(dg.shape());
  detail::symmetrize_kernel<<<detail::grid_blocks(sym.size()), detail::block_threads, 0, context().stream()>>>(
      sym.data(), dg.data(), c, sym.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  // Row-major dF = S F (C x HW) is column-major dF^T = F^T S^T = F^T S (S symmetric).
  detail::gemm_strided_batched(CUBLAS_OP_N, CUBLAS_OP_N, hw, c, c, alpha, f.data(), hw, static_cast<long long>(c) * hw,
                               sym.data(), c, static_cast<long long>(c) * c, decltype(alpha)(0), df.data(), hw,
                               static_cast<long long>(c) * hw, f.n());
  return df;
}

template <class T>
double squared_distance(const Tensor<T, Cuda>& a, const Tensor<T, Cuda>& b) {
  detail::require_broadcastable(a, b, "squared_distance");
  if (a.empty()) return 0;
  const std::size_t per = a.shape().size() / a.n();
  const unsigned blocks = std::min(detail::grid_blocks(a.size()), 1024u);
  Tensor<double, Cuda> partials({1, 1, 1, static_cast<int>(blocks)});
  detail::squared_distance_kernel<<<blocks, detail::block_threads, 0, context().stream()>>>(
      a.data(), b.data(), per, b.n() == 1, a.size(), partials.data());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return detail::add_partials(partials);
}

template <class T>
Tensor<T, Cuda> scaled_difference(const Tensor<T, Cuda>& a, const Tensor<T, Cuda>& b, T alpha) {
  detail::require_broadcastable(a, b, "scaled_difference");
  Tensor<T, Cuda> out(a.shape());
  if (out.empty()) return out;
  const std::size_t per = a.shape().size() / a.n();
  detail::scaled_difference_kernel<<<detail::grid_blocks(a.size()), detail::block_threads, 0, context().stream()>>>(
      out.data(), a.data(), b.data(), alpha, per, b.n() == 1, a.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return out;
}

template <class T>
double total_variation_forward(const Tensor<T, Cuda>& x, T wy, T wx) {
  if (x.empty()) return 0;
  const unsigned blocks = std::min(detail::grid_blocks(x.size()), 1024u);
  Tensor<double, Cuda> partials({1, 1, 1, static_cast<int>(blocks)});
  detail::total_variation_kernel<<<blocks, detail::block_threads, 0, context().stream()>>>(
      x.data(), x.h(), x.w(), static_cast<double>(wy), static_cast<double>(wx), x.size(), partials.data());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return detail::add_partials(partials);
}

template <class T>
Tensor<T, Cuda> total_variation_backward(const Tensor<T, Cuda>& x, T wy, T wx) {
  Tensor<T, Cuda> dx(x.shape());
  if (dx.empty()) return dx;
  detail::
      total_variation_backward_kernel<<<detail::grid_blocks(x.size()), detail::block_threads, 0, context().stream()>>>(
          dx.data(), x.data(), x.h(), x.w(), wy, wx, x.size());
  PERCEPTUAL_CUDA_CHECK_LAUNCH();
  return dx;
}

}  // namespace perceptual::cuda
