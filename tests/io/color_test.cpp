#include "perceptual/io/color.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "support/random.hpp"

using namespace perceptual;
using namespace perceptual::io;

namespace {

// The (Y, Cb, Cr) of one RGB pixel.
std::vector<double> ycbcr_of(double r, double g, double b) {
  return rgb_to_ycbcr(Tensor<double, Cpu>::from_host({1, 3, 1, 1}, std::vector<double>{r, g, b})).to_host();
}

}  // namespace

TEST_CASE("BT.601 studio swing: white is Y 235, black Y 16, greys have neutral chroma") {
  const auto white = ycbcr_of(255, 255, 255);
  CHECK(white[0] == doctest::Approx(235));
  CHECK(white[1] == doctest::Approx(128));
  CHECK(white[2] == doctest::Approx(128));
  const auto black = ycbcr_of(0, 0, 0);
  CHECK(black[0] == doctest::Approx(16));
  CHECK(black[1] == doctest::Approx(128));
  CHECK(black[2] == doctest::Approx(128));
  const auto grey = ycbcr_of(100, 100, 100);
  CHECK(grey[0] == doctest::Approx(16 + 219.0 * 100 / 255));
  CHECK(grey[1] == doctest::Approx(128));
}

TEST_CASE("primaries give MATLAB rgb2ycbcr's values") {
  // Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, Cb = 128 + (-37.797 R - 74.203 G + 112 B) / 255,
  // Cr = 128 + (112 R - 93.786 G - 18.214 B) / 255.
  const auto red = ycbcr_of(255, 0, 0);
  CHECK(red[0] == doctest::Approx(81.481));
  CHECK(red[1] == doctest::Approx(90.203));
  CHECK(red[2] == doctest::Approx(240));
  const auto green = ycbcr_of(0, 255, 0);
  CHECK(green[0] == doctest::Approx(144.553));
  CHECK(green[1] == doctest::Approx(53.797));
  CHECK(green[2] == doctest::Approx(34.214));
  const auto blue = ycbcr_of(0, 0, 255);
  CHECK(blue[0] == doctest::Approx(40.966));
  CHECK(blue[1] == doctest::Approx(240));
  CHECK(blue[2] == doctest::Approx(109.786));
}

TEST_CASE("the inverse is the standard BT.601 inverse, to the forward matrix's rounding") {
  // R = 255/219 (Y - 16) + 255/224 * 1.402 (Cr - 128), B = 255/219 (Y - 16) + 255/224 * 1.772 (Cb - 128),
  // G = 255/219 (Y - 16) - 255/224 * 1.772 * 0.114/0.587 (Cb - 128) - 255/224 * 1.402 * 0.299/0.587 (Cr - 128).
  // Like MATLAB's ycbcr2rgb we invert the forward matrix, whose chroma rows are rounded to three
  // decimals (37.797 for 224 * 0.168736 = 37.796864), so the zeros are only zero to about 1e-5.
  const auto& m = bt601_ycbcr_to_rgb;
  CHECK(m[0][0] == doctest::Approx(255.0 / 219));
  CHECK(std::abs(m[0][1]) < 1e-5);
  CHECK(m[0][2] == doctest::Approx(255.0 / 224 * 1.402));
  CHECK(m[1][1] == doctest::Approx(-255.0 / 224 * 1.772 * 0.114 / 0.587));
  CHECK(m[1][2] == doctest::Approx(-255.0 / 224 * 1.402 * 0.299 / 0.587));
  CHECK(m[2][1] == doctest::Approx(255.0 / 224 * 1.772));
  CHECK(std::abs(m[2][2]) < 1e-5);
  const auto white = ycbcr_to_rgb(Tensor<double, Cpu>::from_host({1, 3, 1, 1}, std::vector<double>{235, 128, 128}));
  for (double v : white.to_host()) CHECK(v == doctest::Approx(255));
}

TEST_CASE("RGB -> YCbCr -> RGB round-trips a batch; luma is the Y channel") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  const auto rgb = testing::random_tensor<double>({2, 3, 4, 5}, rng, 0, 255);
  const auto ycbcr = rgb_to_ycbcr(rgb);
  const auto back = ycbcr_to_rgb(ycbcr).to_host();
  const auto original = rgb.to_host();
  for (std::size_t i = 0; i < back.size(); ++i) CHECK(back[i] == doctest::Approx(original[i]).epsilon(1e-12));

  const auto y = rgb_to_luma_y(rgb);
  CHECK(y.shape() == Shape4{2, 1, 4, 5});
  const auto yh = y.to_host(), full = ycbcr.to_host();
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 20; ++i) CHECK(yh[n * 20 + i] == full[n * 60 + i]);

  const auto f = rgb_to_luma_y(Tensor<float, Cpu>::from_host({1, 3, 1, 1}, std::vector<float>{255, 255, 255}));
  CHECK(f.to_host()[0] == doctest::Approx(235.0f));
}

TEST_CASE("colour conversions need three channels") {
  CHECK_THROWS_AS(rgb_to_ycbcr(Tensor<float, Cpu>({1, 1, 2, 2})), ShapeError);
  CHECK_THROWS_AS(ycbcr_to_rgb(Tensor<float, Cpu>({1, 4, 2, 2})), ShapeError);
  CHECK_THROWS_AS(rgb_to_luma_y(Tensor<float, Cpu>({2, 2, 2, 2})), ShapeError);
}
