#include "perceptual/io/dtype.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "support/random.hpp"

using namespace perceptual;
using namespace perceptual::io;

TEST_CASE("dtype names, sizes and parsing follow the safetensors spelling") {
  CHECK(dtype_name(Dtype::f32) == "F32");
  CHECK(dtype_name(Dtype::bf16) == "BF16");
  CHECK(dtype_size(Dtype::f64) == 8);
  CHECK(dtype_size(Dtype::f16) == 2);
  CHECK(dtype_size(Dtype::boolean) == 1);
  CHECK(parse_dtype("F16") == Dtype::f16);
  CHECK(parse_dtype("I64") == Dtype::i64);
  CHECK_FALSE(parse_dtype("f32").has_value());  // case matters
  CHECK_FALSE(parse_dtype("F17").has_value());
  CHECK(readable(Dtype::u8));
  CHECK_FALSE(readable(Dtype::f8_e4m3));
  CHECK(writable(Dtype::bf16));
  CHECK_FALSE(writable(Dtype::i32));
}

TEST_CASE("float to half gives hand-computed bit patterns, rounding to nearest even") {
  CHECK(float_to_half(1.0f) == 0x3c00);
  CHECK(float_to_half(-2.0f) == 0xc000);
  CHECK(float_to_half(0.5f) == 0x3800);
  CHECK(float_to_half(0.0f) == 0x0000);
  CHECK(float_to_half(-0.0f) == 0x8000);
  CHECK(float_to_half(65504.0f) == 0x7bff);  // largest half
  CHECK(float_to_half(65519.0f) == 0x7bff);  // below the halfway point to 65536
  CHECK(float_to_half(65520.0f) == 0x7c00);  // halfway: ties to even, which is inf
  CHECK(float_to_half(1e6f) == 0x7c00);      // overflow
  CHECK(float_to_half(-INFINITY) == 0xfc00);
  CHECK(float_to_half(1.0f / 3) == 0x3555);             // 0.333251953125
  CHECK(float_to_half(0.1f) == 0x2e66);                 // 0.0999755859375
  CHECK(float_to_half(1.0f + 0x1p-11f) == 0x3c00);      // tie between 0x3c00 and 0x3c01: even
  CHECK(float_to_half(1.0f + 3 * 0x1p-11f) == 0x3c02);  // tie between 0x3c01 and 0x3c02: even
  CHECK(float_to_half(0x1p-14f) == 0x0400);             // smallest normal
  CHECK(float_to_half(0x1p-24f) == 0x0001);             // smallest subnormal
  CHECK(float_to_half(0x1p-25f) == 0x0000);             // half of it: ties to even zero
  CHECK(float_to_half(0x1.8p-25f) == 0x0001);           // above the tie
  CHECK(float_to_half(3 * 0x1p-25f) == 0x0002);         // 1.5 subnormal steps: tie to even 2
  CHECK(float_to_half(0x1.ffcp-15f) == 0x0400);         // rounds up out of the subnormals
  CHECK(float_to_half(1e-10f) == 0x0000);
  const std::uint16_t nan = float_to_half(std::numeric_limits<float>::quiet_NaN());
  CHECK((nan & 0x7c00) == 0x7c00);
  CHECK((nan & 0x03ff) != 0);
}

TEST_CASE("half to float decodes normals, subnormals, infinities and NaN") {
  CHECK(half_to_float(0x3c00) == 1.0f);
  CHECK(half_to_float(0xc000) == -2.0f);
  CHECK(half_to_float(0x7bff) == 65504.0f);
  CHECK(half_to_float(0x3555) == 0.333251953125f);
  CHECK(half_to_float(0x0001) == 0x1p-24f);
  CHECK(half_to_float(0x83ff) == -1023 * 0x1p-24f);
  CHECK(half_to_float(0x7c00) == INFINITY);
  CHECK(std::isnan(half_to_float(0x7e00)));
  CHECK(std::signbit(half_to_float(0x8000)));
  // Every half survives a round trip through float.
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // NaN payloads are not kept exactly
    REQUIRE(float_to_half(half_to_float(static_cast<std::uint16_t>(h))) == h);
  }
}

TEST_CASE("float to bfloat16 gives hand-computed bit patterns") {
  CHECK(float_to_bf16(1.0f) == 0x3f80);
  CHECK(float_to_bf16(-2.0f) == 0xc000);
  CHECK(float_to_bf16(3.14159265f) == 0x4049);                        // 0x40490fdb: low half below the tie
  CHECK(float_to_bf16(1.0f / 3) == 0x3eab);                           // 0x3eaaaaab: above the tie, rounds up
  CHECK(float_to_bf16(0.1f) == 0x3dcd);                               // 0x3dcccccd
  CHECK(float_to_bf16(1.0f + 0x1p-8f) == 0x3f80);                     // 0x3f808000: tie, even stays
  CHECK(float_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3f82);                 // 0x3f818000: tie, rounds to even
  CHECK(float_to_bf16(std::numeric_limits<float>::max()) == 0x7f80);  // rounds to inf
  CHECK(std::isnan(bf16_to_float(float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(bf16_to_float(0x4049) == 3.140625f);
  CHECK(bf16_to_float(0xbf80) == -1.0f);
}

TEST_CASE("random floats convert to half and bfloat16 within half an ulp") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1000, 1000);
  for (int i = 0; i < 10000; ++i) {
    const float x = dist(rng);
    const float h = half_to_float(float_to_half(x));
    const float b = bf16_to_float(float_to_bf16(x));
    CHECK(std::abs(h - x) <= std::abs(x) * 0x1p-11f);
    CHECK(std::abs(b - x) <= std::abs(x) * 0x1p-8f);
  }
}

TEST_CASE("encode and decode use little-endian bytes") {
  const std::vector<float> values{1.0f, -2.0f};
  std::array<std::byte, 8> bytes{};
  encode(Dtype::f16, values.data(), 2, bytes.data());
  CHECK(bytes[0] == std::byte{0x00});
  CHECK(bytes[1] == std::byte{0x3c});
  CHECK(bytes[2] == std::byte{0x00});
  CHECK(bytes[3] == std::byte{0xc0});
  encode(Dtype::f32, values.data(), 2, bytes.data());
  CHECK(bytes[3] == std::byte{0x3f});  // 1.0f = 0x3f800000
  CHECK(bytes[2] == std::byte{0x80});
  std::vector<double> back(2);
  decode(Dtype::f32, bytes.data(), 2, back.data());
  CHECK(back == std::vector<double>{1.0, -2.0});

  const std::array<std::byte, 4> ints{std::byte{0xff}, std::byte{0xff}, std::byte{0x02}, std::byte{0x01}};
  std::vector<float> out(2);
  decode(Dtype::i16, ints.data(), 2, out.data());
  CHECK(out == std::vector<float>{-1.0f, 258.0f});
  decode(Dtype::u8, ints.data(), 2, out.data());
  CHECK(out == std::vector<float>{255.0f, 255.0f});
  CHECK_THROWS_AS(encode(Dtype::i32, values.data(), 2, bytes.data()), ArgumentError);
  CHECK_THROWS_AS(decode(Dtype::f8_e5m2, ints.data(), 1, out.data()), ArgumentError);
}
