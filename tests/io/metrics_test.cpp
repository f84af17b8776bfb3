#include "perceptual/io/metrics.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "support/random.hpp"

using namespace perceptual;
using namespace perceptual::io;
using perceptual::random_tensor;
using perceptual::testing::test_seed;

namespace {

using TensorD = Tensor<double, Cpu>;

TensorD filled(Shape4 s, double v) {
  return TensorD::from_host(s, std::vector<double>(s.size(), v));
}

TensorD plus(const TensorD& x, double d) {
  auto v = x.to_host();
  for (auto& e : v) e += d;
  return TensorD::from_host(x.shape(), v);
}

// SSIM straight from Wang et al.'s definition: at every valid window position, the 2-D Gaussian
// (outer product of exp(-k^2 / 4.5), normalised) weighted means, variances and covariance, then
// eq. 13; the mean over all positions of all images. Independent of the separable implementation.
double reference_ssim(const TensorD& a, const TensorD& b, int border) {
  double g[11][11], total = 0;
  for (int u = 0; u < 11; ++u)
    for (int v = 0; v < 11; ++v)
      total += g[u][v] = std::exp(-((u - 5) * (u - 5) + (v - 5) * (v - 5)) / (2 * 1.5 * 1.5));
  const double c1 = 2.55 * 2.55, c2 = 7.65 * 7.65;
  const auto x = a.to_host(), y = b.to_host();
  double sum = 0;
  int count = 0;
  for (int n = 0; n < a.n(); ++n)
    for (int i = border; i + 11 <= a.h() - border; ++i)
      for (int j = border; j + 11 <= a.w() - border; ++j, ++count) {
        double mx = 0, my = 0;
        for (int u = 0; u < 11; ++u)
          for (int v = 0; v < 11; ++v) {
            const std::size_t k = (static_cast<std::size_t>(n) * a.h() + i + u) * a.w() + j + v;
            mx += g[u][v] / total * x[k];
            my += g[u][v] / total * y[k];
          }
        double vx = 0, vy = 0, cxy = 0;
        for (int u = 0; u < 11; ++u)
          for (int v = 0; v < 11; ++v) {
            const std::size_t k = (static_cast<std::size_t>(n) * a.h() + i + u) * a.w() + j + v;
            vx += g[u][v] / total * (x[k] - mx) * (x[k] - mx);
            vy += g[u][v] / total * (y[k] - my) * (y[k] - my);
            cxy += g[u][v] / total * (x[k] - mx) * (y[k] - my);
          }
        sum += (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
      }
  return sum / count;
}

}  // namespace

TEST_CASE("PSNR of a constant difference d is 10 log10(peak^2 / d^2)") {
  const auto seed = test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  const auto a = random_tensor<double>({2, 1, 9, 13}, rng, 10, 200);
  for (double d : {1.0, 3.0, 25.5}) {
    CHECK(psnr(a, plus(a, d)) == doctest::Approx(10 * std::log10(255.0 * 255.0 / (d * d))));
    CHECK(psnr(plus(a, -d), a) == doctest::Approx(10 * std::log10(255.0 * 255.0 / (d * d))));
    CHECK(psnr(a, plus(a, d), 1.0) == doctest::Approx(10 * std::log10(1 / (d * d))));
  }
  CHECK(psnr(a, plus(a, 1)) == doctest::Approx(48.1308036087));  // 20 log10(255)
  CHECK(std::isinf(psnr(a, a)));
  CHECK(psnr(a, a) > 0);
}

TEST_CASE("PSNR's border crop leaves out exactly the outer pixels") {
  // 6x6: the outer ring (20 pixels) differs by 10, one inner pixel by 4, the other 15 not at all.
  std::vector<double> b(36, 0);
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j)
      if (i == 0 || j == 0 || i == 5 || j == 5) b[i * 6 + j] = 10;
  b[2 * 6 + 3] = 4;
  const auto zero = filled({1, 1, 6, 6}, 0);
  const auto other = TensorD::from_host({1, 1, 6, 6}, b);
  // No border: MSE = (20 * 100 + 16) / 36 = 56. Border 1: MSE = 16 / 16 = 1. Border 2: 2x2 centre,
  // MSE = 16 / 4 = 4.
  CHECK(psnr(zero, other) == doctest::Approx(10 * std::log10(65025.0 / 56)));
  CHECK(psnr(zero, other, 255, 1) == doctest::Approx(10 * std::log10(65025.0)));
  CHECK(psnr(zero, other, 255, 2) == doctest::Approx(10 * std::log10(65025.0 / 4)));
}

TEST_CASE("SSIM of identical images is 1, and of constant images (2pq + C1) / (p^2 + q^2 + C1)") {
  const auto seed = test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  const auto a = random_tensor<double>({2, 1, 20, 17}, rng, 0, 255);
  CHECK(ssim(a, a) == doctest::Approx(1).epsilon(1e-12));
  CHECK(ssim(a, a, 3) == doctest::Approx(1).epsilon(1e-12));
  // Flat images have no variance, so only the luminance term remains: C1 = (0.01 * 255)^2.
  const double c1 = 6.5025;
  CHECK(ssim(filled({1, 1, 12, 15}, 100), filled({1, 1, 12, 15}, 120)) ==
        doctest::Approx((2 * 100 * 120 + c1) / (100 * 100 + 120 * 120 + c1)).epsilon(1e-12));
  CHECK(ssim(filled({1, 1, 11, 11}, 0), filled({1, 1, 11, 11}, 255)) ==
        doctest::Approx(c1 / (255 * 255 + c1)).epsilon(1e-12));
}

TEST_CASE("SSIM matches a direct evaluation of Wang et al.'s definition, with and without a border") {
  const auto seed = test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  const auto a = random_tensor<double>({2, 1, 19, 23}, rng, 0, 255);
  auto b = a.to_host();
  std::normal_distribution<double> noise(0, 20);
  for (auto& e : b) e += noise(rng);
  const auto nb = TensorD::from_host(a.shape(), b);
  for (int border : {0, 1, 4}) {
    INFO("border " << border);
    const double expected = reference_ssim(a, nb, border);
    CHECK(expected < 0.99);  // the pair is not trivially similar
    CHECK(ssim(a, nb, border) == doctest::Approx(expected).epsilon(1e-10));
  }
  // float images are measured in double too.
  const auto va = a.to_host();
  const auto af = Tensor<float, Cpu>::from_host(a.shape(), std::vector<float>(va.begin(), va.end()));
  const auto bf = Tensor<float, Cpu>::from_host(a.shape(), std::vector<float>(b.begin(), b.end()));
  CHECK(ssim(af, bf) == doctest::Approx(reference_ssim(a, nb, 0)).epsilon(1e-5));
}

TEST_CASE("SSIM decreases as more noise is added") {
  const auto seed = test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  // A smooth image, so that noise is what dominates the structure term.
  std::vector<double> v(48 * 48);
  for (int i = 0; i < 48; ++i)
    for (int j = 0; j < 48; ++j) v[i * 48 + j] = 128 + 60 * std::sin(i / 5.0) * std::cos(j / 7.0);
  const auto clean = TensorD::from_host({1, 1, 48, 48}, v);
  std::normal_distribution<double> unit(0, 1);
  std::vector<double> z(v.size());
  for (auto& e : z) e = unit(rng);
  double previous = 1;
  for (double sigma : {2.0, 5.0, 10.0, 20.0, 40.0}) {
    auto noisy = v;
    for (std::size_t k = 0; k < v.size(); ++k) noisy[k] += sigma * z[k];
    const double s = ssim(clean, TensorD::from_host(clean.shape(), noisy));
    INFO("sigma " << sigma << ": SSIM " << s);
    CHECK(s < previous);
    CHECK(s > 0);
    previous = s;
  }
}

TEST_CASE("psnr_y and ssim_y round to 8 bits, then measure BT.601 luma") {
  // Grey RGB (v, v, v) has Y = 16 + 219 v / 255, so a grey difference d is a luma difference
  // 219 d / 255.
  const auto grey = filled({1, 3, 16, 16}, 100);
  for (double d : {1.0, 7.0}) {
    const double dy = 219 * d / 255;
    CHECK(psnr_y(grey, plus(grey, d)) == doctest::Approx(10 * std::log10(65025 / (dy * dy))));
    CHECK(psnr_y(grey, plus(grey, d), 4) == doctest::Approx(10 * std::log10(65025 / (dy * dy))));
    const double y0 = 16 + 219 * 100 / 255.0, y1 = 16 + 219 * (100 + d) / 255.0, c1 = 6.5025;
    CHECK(ssim_y(grey, plus(grey, d)) == doctest::Approx((2 * y0 * y1 + c1) / (y0 * y0 + y1 * y1 + c1)));
  }
  // 100.4 rounds to 100 and 300 clamps to 255: both images are then identical.
  CHECK(std::isinf(psnr_y(grey, plus(grey, 0.4))));
  CHECK(ssim_y(grey, plus(grey, -0.4)) == doctest::Approx(1));
  CHECK(std::isinf(psnr_y(filled({1, 3, 4, 4}, 255), filled({1, 3, 4, 4}, 300))));
  // Not rounded, 100.4 would count.
  CHECK(std::isfinite(psnr(rgb_to_luma_y(grey), rgb_to_luma_y(plus(grey, 0.4)))));
}

TEST_CASE("the metrics reject mismatched shapes, colour images and borders that leave nothing") {
  const auto a = filled({1, 1, 16, 16}, 1);
  CHECK_THROWS_AS(psnr(a, filled({1, 1, 16, 15}, 1)), ShapeError);
  CHECK_THROWS_AS(ssim(a, filled({2, 1, 16, 16}, 1)), ShapeError);
  CHECK_THROWS_AS(psnr(filled({1, 3, 16, 16}, 1), filled({1, 3, 16, 16}, 1)), ShapeError);
  CHECK_THROWS_AS(ssim(filled({1, 3, 16, 16}, 1), filled({1, 3, 16, 16}, 1)), ShapeError);
  CHECK_THROWS_AS(psnr_y(a, a), ShapeError);
  CHECK_THROWS_AS(ssim_y(filled({1, 3, 16, 16}, 1), filled({1, 3, 16, 17}, 1)), ShapeError);
  CHECK_THROWS_WITH_AS(psnr(a, filled({1, 1, 16, 15}, 1)), doctest::Contains("1x1x16x16"), ShapeError);
  CHECK_THROWS_AS(psnr(a, a, 255, 8), ArgumentError);
  CHECK_THROWS_AS(psnr(a, a, 255, -1), ArgumentError);
  CHECK_THROWS_AS(psnr(a, a, 0), ArgumentError);
  CHECK_THROWS_AS(psnr_y(filled({1, 3, 16, 16}, 1), filled({1, 3, 16, 16}, 1), 8), ArgumentError);
  CHECK_THROWS_AS(ssim(a, a, 8), ArgumentError);
  CHECK(psnr(a, plus(a, 1), 255, 7) == doctest::Approx(20 * std::log10(255.0)));  // 2x2 left
  // The window needs 11x11 pixels after cropping.
  CHECK_THROWS_AS(ssim(a, a, 3), ShapeError);
  CHECK_THROWS_AS(ssim(filled({1, 1, 10, 40}, 1), filled({1, 1, 10, 40}, 1)), ShapeError);
  CHECK(ssim(a, a, 2) == doctest::Approx(1));
}
