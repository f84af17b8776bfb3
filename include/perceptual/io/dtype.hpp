#pragma once
// Element types of weight files, by their safetensors names, and conversions between their
// little-endian bytes and float/double: IEEE half and bfloat16 round to nearest even, on any host.
#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "perceptual/core/error.hpp"

namespace perceptual::io {

enum class Dtype { f64, f32, f16, bf16, i64, i32, i16, i8, u64, u32, u16, u8, boolean, f8_e4m3, f8_e5m2 };

namespace detail {

struct DtypeInfo {
  Dtype dtype;
  std::string_view name;  // as safetensors spells it
  std::size_t bytes;
};

inline constexpr std::array<DtypeInfo, 15> dtype_table{{{Dtype::f64, "F64", 8},
                                                        {Dtype::f32, "F32", 4},
                                                        {Dtype::f16, "F16", 2},
                                                        {Dtype::bf16, "BF16", 2},
                                                        {Dtype::i64, "I64", 8},
                                                        {Dtype::i32, "I32", 4},
                                                        {Dtype::i16, "I16", 2},
                                                        {Dtype::i8, "I8", 1},
                                                        {Dtype::u64, "U64", 8},
                                                        {Dtype::u32, "U32", 4},
                                                        {Dtype::u16, "U16", 2},
                                                        {Dtype::u8, "U8", 1},
                                                        {Dtype::boolean, "BOOL", 1},
                                                        {Dtype::f8_e4m3, "F8_E4M3", 1},
                                                        {Dtype::f8_e5m2, "F8_E5M2", 1}}};

constexpr const DtypeInfo& dtype_info(Dtype d) {
  for (const auto& info : dtype_table)
    if (info.dtype == d) return info;
  return dtype_table[0];  // unreachable: every enumerator is in the table
}

// Assembles an unsigned integer from little-endian bytes; compilers turn it into one load.
template <std::unsigned_integral U>
U load_le(const std::byte* p) {
  U v = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i)
    v = static_cast<U>(v | (static_cast<U>(std::to_integer<U>(p[i])) << (8 * i)));
  return v;
}

template <std::unsigned_integral U>
void store_le(U v, std::byte* p) {
  for (std::size_t i = 0; i < sizeof(U); ++i) p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xffu);
}

}  // namespace detail

constexpr std::string_view dtype_name(Dtype d) {
  return detail::dtype_info(d).name;
}
constexpr std::size_t dtype_size(Dtype d) {
  return detail::dtype_info(d).bytes;
}

// The dtype a safetensors header names, or nothing for a name we do not know.
constexpr std::optional<Dtype> parse_dtype(std::string_view name) {
  for (const auto& info : detail::dtype_table)
    if (info.name == name) return info.dtype;
  return std::nullopt;
}

// Whether decode() can convert this dtype (all but the 8-bit floats).
constexpr bool readable(Dtype d) {
  return d != Dtype::f8_e4m3 && d != Dtype::f8_e5m2;
}
// Whether encode() can write this dtype.
constexpr bool writable(Dtype d) {
  return d == Dtype::f64 || d == Dtype::f32 || d == Dtype::f16 || d == Dtype::bf16;
}

// IEEE 754 binary16 bits to float (exact: every half is a float).
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN
  if (exponent != 0) return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
  // Zero or subnormal: mantissa * 2^-24, exact in float.
  const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
  return sign ? -magnitude : magnitude;
}

// Float to binary16 bits, rounding to nearest even; overflow gives infinity, NaN stays NaN.
inline std::uint16_t float_to_half(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));  // quiet NaN
  if (ax >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (ax >= 0x38800000u) {                                                   // a normal half: >= 2^-14
    std::uint32_t m = ax - 0x38000000u;                                      // rebias the exponent 127 -> 15
    m += 0xfffu + ((m >> 13) & 1u);  // round to nearest even at the 13 dropped bits (may carry)
    return static_cast<std::uint16_t>(sign | (m >> 13));
  }
  // A subnormal half (or zero): round(|f| * 2^24) to nearest even, from the float's bits.
  const std::uint32_t exponent = ax >> 23;
  if (exponent < 102) return sign;  // |f| < 2^-25: rounds to zero
  const std::uint32_t mantissa = (ax & 0x7fffffu) | 0x800000u;
  const std::uint32_t shift = 126 - exponent;  // 14..24
  std::uint32_t h = mantissa >> shift;
  const std::uint32_t rest = mantissa & ((1u << shift) - 1u);
  const std::uint32_t halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (h & 1u))) ++h;
  return static_cast<std::uint16_t>(sign | h);
}

// bfloat16 bits to float (exact: the top half of a float).
inline float bf16_to_float(std::uint16_t b) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

// Float to bfloat16 bits, rounding to nearest even; NaN stays a (quiet) NaN.
inline std::uint16_t float_to_bf16(float f) {
  std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<std::uint16_t>(x >> 16);
}

// Converts `count` little-endian elements of `dtype` at `src` to T. Requires readable(dtype).
template <std::floating_point T>
void decode(Dtype dtype, const std::byte* src, std::size_t count, T* out) {
  using detail::load_le;
  const std::size_t step = dtype_size(dtype);
  for (std::size_t i = 0; i < count; ++i, src += step) {
    switch (dtype) {
      case Dtype::f64:
        out[i] = static_cast<T>(std::bit_cast<double>(load_le<std::uint64_t>(src)));
        break;
      case Dtype::f32:
        out[i] = static_cast<T>(std::bit_cast<float>(load_le<std::uint32_t>(src)));
        break;
      case Dtype::f16:
        out[i] = static_cast<T>(half_to_float(load_le<std::uint16_t>(src)));
        break;
      case Dtype::bf16:
        out[i] = static_cast<T>(bf16_to_float(load_le<std::uint16_t>(src)));
        break;
      case Dtype::i64:
        out[i] = static_cast<T>(static_cast<std::int64_t>(load_le<std::uint64_t>(src)));
        break;
      case Dtype::i32:
        out[i] = static_cast<T>(static_cast<std::int32_t>(load_le<std::uint32_t>(src)));
        break;
      case Dtype::i16:
        out[i] = static_cast<T>(static_cast<std::int16_t>(load_le<std::uint16_t>(src)));
        break;
      case Dtype::i8:
        out[i] = static_cast<T>(static_cast<std::int8_t>(load_le<std::uint8_t>(src)));
        break;
      case Dtype::u64:
        out[i] = static_cast<T>(load_le<std::uint64_t>(src));
        break;
      case Dtype::u32:
        out[i] = static_cast<T>(load_le<std::uint32_t>(src));
        break;
      case Dtype::u16:
        out[i] = static_cast<T>(load_le<std::uint16_t>(src));
        break;
      case Dtype::u8:
        out[i] = static_cast<T>(load_le<std::uint8_t>(src));
        break;
      case Dtype::boolean:
        out[i] = static_cast<T>(load_le<std::uint8_t>(src) != 0);
        break;
      case Dtype::f8_e4m3:
      case Dtype::f8_e5m2:
        throw ArgumentError("decode: dtype " + std::string(dtype_name(dtype)) + " cannot be converted");
    }
  }
}

// Converts `count` values to little-endian `dtype` bytes at `out` (count * dtype_size(dtype)
// bytes). Requires writable(dtype): F64, F32, F16 or BF16.
template <std::floating_point T>
void encode(Dtype dtype, const T* src, std::size_t count, std::byte* out) {
  using detail::store_le;
  if (!writable(dtype)) throw ArgumentError("encode: cannot write dtype " + std::string(dtype_name(dtype)));
  const std::size_t step = dtype_size(dtype);
  for (std::size_t i = 0; i < count; ++i, out += step) {
    const auto v = static_cast<float>(src[i]);
    switch (dtype) {
      case Dtype::f64:
        store_le(std::bit_cast<std::uint64_t>(static_cast<double>(src[i])), out);
        break;
      case Dtype::f32:
        store_le(std::bit_cast<std::uint32_t>(v), out);
        break;
      case Dtype::f16:
        store_le(float_to_half(v), out);
        break;
      case Dtype::bf16:
        store_le(float_to_bf16(v), out);
        break;
      default:
        break;  // excluded above
    }
  }
}

}  // namespace perceptual::io
