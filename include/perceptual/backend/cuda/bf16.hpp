#pragma once
// bf16: the CUDA backend's reduced-precision scalar (bfloat16: float's 8-bit exponent, 8 bits of
// significand), chosen at compile time as Model<Net, Cuda, bf16>. Tensors store it; kernels
// convert to float (compute_t) for every operation and accumulation and round back to nearest
// even on store; convolutions and Gram matrices run on tensor cores with float accumulation.
// float's range means no loss scaling is needed, unlike IEEE half. Parses with a host compiler.
#include <cstdint>
#include <cstring>
#include <type_traits>

// Host and device attributes behind one macro, empty for a host compiler.
#if defined(__CUDACC__)
#define PERCEPTUAL_HOST_DEVICE __host__ __device__
#else
#define PERCEPTUAL_HOST_DEVICE
#endif

namespace perceptual::cuda {

namespace detail {
template <class A>
concept arithmetic = std::is_arithmetic_v<A>;
}  // namespace detail

// Bit-compatible with CUDA's __nv_bfloat16 and cuDNN's and cuBLAS's BF16 types. Converts
// implicitly from and to float, so generic code's T(1) and static_cast<T>(x) work.
struct bf16 {
  std::uint16_t bits = 0;

  bf16() = default;
  // From any arithmetic value through float (one template, so no conversion is ambiguous).
  template <detail::arithmetic A>
  PERCEPTUAL_HOST_DEVICE bf16(A value) : bits(round(static_cast<float>(value))) {}
  PERCEPTUAL_HOST_DEVICE operator float() const { return from_bits(static_cast<std::uint32_t>(bits) << 16); }

 private:
  PERCEPTUAL_HOST_DEVICE static std::uint32_t to_bits(float f) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(f);
#else
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
#endif
  }
  PERCEPTUAL_HOST_DEVICE static float from_bits(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
#endif
  }
  // Round to nearest, ties to even; NaN stays a (quiet) NaN.
  PERCEPTUAL_HOST_DEVICE static std::uint16_t round(float f) {
    const std::uint32_t u = to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
    return static_cast<std::uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  }
};

static_assert(sizeof(bf16) == 2 && std::is_trivially_copyable_v<bf16>);

namespace detail {

// The type kernels compute and accumulate in: float for bf16, the scalar itself otherwise.
template <class T>
using compute_t = std::conditional_t<std::is_same_v<T, bf16>, float, T>;

}  // namespace detail

}  // namespace perceptual::cuda

namespace perceptual {
using cuda::bf16;
}  // namespace perceptual
