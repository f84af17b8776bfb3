#include "perceptual/io/resample.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "perceptual/io/color.hpp"
#include "perceptual/io/image.hpp"
#include "support/random.hpp"
#include "support/shared_data.hpp"

using namespace perceptual;
using namespace perceptual::io;
namespace fs = std::filesystem;

namespace {

Tensor<double, Cpu> filled(Shape4 s, double value) {
  return Tensor<double, Cpu>::from_host(s, std::vector<double>(s.size(), value));
}

double at(const Tensor<double, Cpu>& x, const std::vector<double>& host, int n, int c, int y, int w) {
  return host[((static_cast<std::size_t>(n) * x.c() + c) * x.h() + y) * x.w() + w];
}

}  // namespace

TEST_CASE("bicubic resizing of a constant image stays constant, up or down, any batch") {
  const auto x = filled({2, 3, 7, 5}, 42.5);
  for (const Size2 size : {Size2{14, 10}, Size2{3, 2}, Size2{7, 5}, Size2{1, 1}, Size2{20, 3}, Size2{29, 11}}) {
    INFO("to " << to_string(size));
    const auto y = resize_bicubic(x, size);
    CHECK(y.shape() == Shape4{2, 3, size.h, size.w});
    for (double v : y.to_host()) CHECK(v == doctest::Approx(42.5).epsilon(1e-12));
  }
}

TEST_CASE("bicubic resizing of [0, 1] to four samples gives the hand-computed values") {
  // Output i samples x = (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25. Keys' kernel (a = -0.5) has
  // k(0.25) = 0.8671875, k(0.75) = 0.2265625, k(1.25) = -0.0703125, k(1.75) = -0.0234375, and the
  // border mirrors with the edge repeated (x[-1] = x[0], x[-2] = x[1], x[2] = x[1]). At -0.25:
  // k(1.75) x[-2] + k(0.75) x[-1] + k(0.25) x[0] + k(1.25) x[1] = -0.0234375 - 0.0703125.
  const auto x = Tensor<double, Cpu>::from_host({1, 1, 1, 2}, std::vector<double>{0, 1});
  const auto y = resize_bicubic(x, 1, 4).to_host();
  REQUIRE(y.size() == 4);
  CHECK(y[0] == doctest::Approx(-0.09375));
  CHECK(y[1] == doctest::Approx(0.203125));
  CHECK(y[2] == doctest::Approx(0.796875));
  CHECK(y[3] == doctest::Approx(1.09375));
  // The same along H.
  const auto t = resize_bicubic(Tensor<double, Cpu>::from_host({1, 1, 2, 1}, std::vector<double>{0, 255}), 4, 1);
  CHECK(t.to_host()[1] == doctest::Approx(0.203125 * 255));
}

TEST_CASE("bicubic upsampling reproduces a linear ramp away from the borders") {
  std::vector<double> v(2 * 10 * 12);
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 10; ++y)
      for (int x = 0; x < 12; ++x) v[(c * 10 + y) * 12 + x] = 3.0 * x - 2.0 * y + 10 * c;
  const auto in = Tensor<double, Cpu>::from_host({1, 2, 10, 12}, v);
  for (const int factor : {2, 3, 4}) {
    INFO("factor " << factor);
    const auto out = resize_bicubic(in, 10 * factor, 12 * factor);
    const auto h = out.to_host();
    for (int c = 0; c < 2; ++c)
      for (int i = 3 * factor; i < (10 - 3) * factor; ++i)
        for (int j = 3 * factor; j < (12 - 3) * factor; ++j) {
          const double sy = (i + 0.5) / factor - 0.5, sx = (j + 0.5) / factor - 0.5;
          REQUIRE(at(out, h, 0, c, i, j) == doctest::Approx(3.0 * sx - 2.0 * sy + 10 * c));
        }
  }
}

TEST_CASE("resizing to the same size is the identity; images in a batch are independent") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  const auto x = testing::random_tensor<double>({2, 3, 6, 9}, rng, 0, 255);
  const auto same = resize_bicubic(x, 6, 9).to_host();
  const auto original = x.to_host();
  for (std::size_t i = 0; i < same.size(); ++i) CHECK(same[i] == doctest::Approx(original[i]));

  const auto both = resize_bicubic(x, 13, 4).to_host();
  const std::size_t half = original.size() / 2;
  const auto second = Tensor<double, Cpu>::from_host(
      {1, 3, 6, 9}, std::vector<double>(original.begin() + static_cast<std::ptrdiff_t>(half), original.end()));
  const auto alone = resize_bicubic(second, 13, 4).to_host();
  for (std::size_t i = 0; i < alone.size(); ++i) CHECK(both[alone.size() + i] == alone[i]);
}

TEST_CASE("antialiased downscaling averages a checkerboard; without antialiasing it aliases") {
  std::vector<double> v(24 * 24);
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < 24; ++x) v[y * 24 + x] = (x + y) % 2 ? 255 : 0;
  const auto board = Tensor<double, Cpu>::from_host({1, 1, 24, 24}, v);

  // Halving: the widened kernel weighs both colours equally away from the border. (Symmetry makes
  // plain bicubic average here too, so the factor-3 case below is what tells antialiasing apart.)
  const auto half = resize_bicubic(board, 12, 12);
  const auto h = half.to_host();
  for (int y = 2; y < 10; ++y)
    for (int x = 2; x < 10; ++x) CHECK(at(half, h, 0, 0, y, x) == doctest::Approx(127.5));

  // A third: without antialiasing each output sits on one input pixel and copies it.
  const auto aa = resize_bicubic(board, 8, 8).to_host();
  const auto aliased = resize_bicubic(board, 8, 8, /*antialias=*/false).to_host();
  for (int y = 2; y < 6; ++y)
    for (int x = 2; x < 6; ++x) {
      CHECK(std::abs(aa[y * 8 + x] - 127.5) < 20);
      CHECK(aliased[y * 8 + x] == doctest::Approx(v[(3 * y + 1) * 24 + 3 * x + 1]));
    }
}

TEST_CASE("resizing rejects empty inputs and non-positive sizes") {
  CHECK_THROWS_AS(resize_bicubic(Tensor<double, Cpu>({1, 3, 0, 4}), 2, 2), ShapeError);
  CHECK_THROWS_AS(resize_bicubic(filled({1, 1, 4, 4}, 1), 0, 2), ArgumentError);
  CHECK_THROWS_AS(resize_bicubic(filled({1, 1, 4, 4}, 1), 2, -1), ArgumentError);
  // An extreme shrink is still well defined: a 1x1 average.
  CHECK(resize_bicubic(filled({1, 1, 1, 3000}, 9), 1, 1).to_host()[0] == doctest::Approx(9));
}

TEST_CASE("Gaussian blur of an impulse is the normalised hand-computed kernel") {
  // sigma 1, radius ceil(3) = 3: exp(-k^2/2) = 1, 0.60653066, 0.13533528, 0.011108997; their sum
  // over k = -3..3 is 2.50594988, so the weights are 0.39905027, 0.24203623, 0.05400558, 0.00443305.
  const double w[4] = {0.39905027, 0.24203623, 0.05400558, 0.00443305};
  std::vector<double> v(11, 0.0);
  v[5] = 1;
  const auto row = gaussian_blur(Tensor<double, Cpu>::from_host({1, 1, 1, 11}, v), 1.0).to_host();
  for (int i = 0; i < 11; ++i) CHECK(row[i] == doctest::Approx(std::abs(i - 5) <= 3 ? w[std::abs(i - 5)] : 0.0));

  // In 2-D, the outer product.
  std::vector<double> image(9 * 9, 0.0);
  image[4 * 9 + 4] = 1;
  const auto blurred = gaussian_blur(Tensor<double, Cpu>::from_host({1, 1, 9, 9}, image), 1.0).to_host();
  CHECK(blurred[4 * 9 + 4] == doctest::Approx(w[0] * w[0]));
  CHECK(blurred[2 * 9 + 5] == doctest::Approx(w[2] * w[1]));
  CHECK(blurred[0] == doctest::Approx(0.0));
}

TEST_CASE("Gaussian blur keeps constants, handles borders as asked, and rejects bad sigmas") {
  const auto x = filled({2, 3, 5, 4}, 17.0);
  for (const double sigma : {0.5, 1.0, 2.5, 10.0})
    for (const Border border : {Border::replicate, Border::reflect}) {
      const auto y = gaussian_blur(x, sigma, border);
      CHECK(y.shape() == x.shape());
      for (double v : y.to_host()) CHECK(v == doctest::Approx(17.0));
    }
  // An impulse on the edge: replicate lends it the weight of every tap beyond the border,
  // reflect mirrors it without repeating it.
  const double w[4] = {0.39905027, 0.24203623, 0.05400558, 0.00443305};
  std::vector<double> v(8, 0.0);
  v[0] = 1;
  const auto edge = Tensor<double, Cpu>::from_host({1, 1, 1, 8}, v);
  const auto replicated = gaussian_blur(edge, 1.0, Border::replicate).to_host();
  const auto reflected = gaussian_blur(edge, 1.0, Border::reflect).to_host();
  CHECK(replicated[0] == doctest::Approx(w[0] + w[1] + w[2] + w[3]));
  CHECK(replicated[1] == doctest::Approx(w[1] + w[2] + w[3]));
  CHECK(reflected[0] == doctest::Approx(w[0]));
  CHECK(reflected[1] == doctest::Approx(w[1]));  // pixel -1 reads pixel 1, so only the direct tap
  CHECK(reflected[2] == doctest::Approx(w[2]));
  CHECK(reflected[3] == doctest::Approx(w[3]));

  CHECK(gaussian_blur(edge, 0.0).to_host() == v);
  CHECK_THROWS_AS(gaussian_blur(edge, -1.0), ArgumentError);
  CHECK_THROWS_AS(gaussian_blur(edge, NAN), ArgumentError);
  CHECK_THROWS_AS(gaussian_blur(Tensor<double, Cpu>({1, 0, 3, 3}), 1.0), ShapeError);
}

TEST_CASE("sr_degrade blurs, downscales and rounds as computed by hand on a one-dimensional step") {
  // Rows vary, columns do not: the blur and resize along W change nothing. Along H (8 -> 4):
  // Gaussian sigma 1 with replicated borders (weights w[|k|], k = -3..3), then bicubic x1/2 with
  // antialiasing: output i centres on 2i + 0.5, and the kernel stretched by 2 has weights
  // k(d / 2) / 2 at distances d = 0.5, 1.5, 2.5, 3.5: a = 0.43359375, 0.11328125, -0.03515625,
  // -0.01171875 (summing to 1/2 each side), borders mirrored with the edge repeated.
  const double w[4] = {0.39905027, 0.24203623, 0.05400558, 0.00443305};
  const double a[4] = {0.43359375, 0.11328125, -0.03515625, -0.01171875};
  const std::vector<double> column{0, 0, 40, 255, 255, 90, 0, 10};
  std::vector<double> blurred(8, 0.0), expected(4, 0.0);
  for (int i = 0; i < 8; ++i)
    for (int k = -3; k <= 3; ++k) blurred[i] += w[std::abs(k)] * column[std::clamp(i + k, 0, 7)];
  const auto symmetric = [](int j) { return j < 0 ? -j - 1 : j > 7 ? 15 - j : j; };
  for (int i = 0; i < 4; ++i)
    for (int t = 0; t < 4; ++t)
      expected[i] += a[t] * (blurred[symmetric(2 * i - t)] + blurred[symmetric(2 * i + 1 + t)]);

  std::vector<double> image;
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 6; ++j) image.push_back(column[i]);
  const auto hr = Tensor<double, Cpu>::from_host({1, 3, 8, 6}, image);
  const auto exact = sr_degrade(hr, 2, 1.0, false);
  const auto rounded = sr_degrade(hr, 2);
  REQUIRE(exact.shape() == Shape4{1, 3, 4, 3});
  const auto he = exact.to_host(), hq = rounded.to_host();
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 3; ++j) {
        INFO("c " << c << " row " << i << " column " << j);
        CHECK(he[(c * 4 + i) * 3 + j] == doctest::Approx(expected[i]).epsilon(1e-7));
        CHECK(hq[(c * 4 + i) * 3 + j] == std::round(std::clamp(expected[i], 0.0, 255.0)));
      }
  // Without the blur, a constant image stays constant at any factor.
  const auto constant = sr_degrade(filled({2, 3, 16, 8}, 77.0), 4, 0.0);
  CHECK(constant.shape() == Shape4{2, 3, 4, 2});
  for (double v : constant.to_host()) CHECK(v == 77.0);
}

TEST_CASE("sr_degrade needs sides that are multiples of the factor") {
  CHECK_THROWS_WITH_AS(sr_degrade(filled({1, 3, 10, 8}, 1.0), 4), doctest::Contains("multiples of the factor"),
                       ArgumentError);
  CHECK_THROWS_AS(sr_degrade(filled({1, 3, 8, 8}, 1.0), 0), ArgumentError);
  CHECK_THROWS_AS(sr_degrade(Tensor<double, Cpu>({1, 3, 0, 8}), 4), ShapeError);
}

// The super-resolution protocol's reference figures (shared data README): bicubic x4 upscaling
// of the given LR images, rounded to 8 bits, Y-channel PSNR with a 4-pixel border cropped.
TEST_CASE("bicubic x4 upscaling reproduces the published Set5 and Set14 PSNRs") {
  for (const auto& [set, reference] : {std::pair<std::string, double>{"Set5", 28.43}, {"Set14", 26.09}}) {
    const fs::path dir = testing::shared_data(fs::path("sr") / set / "x4", "to check the SR reference PSNRs");
    if (dir.empty()) continue;
    double total = 0;
    int count = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string name = entry.path().string();
      if (!name.ends_with("_LR.png")) continue;
      const auto lr = read_image<double>(name);
      const auto hr = read_image<double>(name.substr(0, name.size() - 7) + "_HR.png");
      auto up = resize_bicubic(lr, 4 * lr.h(), 4 * lr.w()).to_host();
      REQUIRE(hr.shape() == Shape4{1, 3, 4 * lr.h(), 4 * lr.w()});
      for (auto& e : up) e = std::round(std::clamp(e, 0.0, 255.0));
      const auto y = rgb_to_luma_y(Tensor<double, Cpu>::from_host(hr.shape(), up)).to_host();
      const auto y_ref = rgb_to_luma_y(hr).to_host();
      double mse = 0;
      int pixels = 0;
      for (int i = 4; i < hr.h() - 4; ++i)
        for (int j = 4; j < hr.w() - 4; ++j, ++pixels) {
          const double d =
              y[static_cast<std::size_t>(i) * hr.w() + j] - y_ref[static_cast<std::size_t>(i) * hr.w() + j];
          mse += d * d;
        }
      total += 10 * std::log10(255.0 * 255.0 / (mse / pixels));
      ++count;
    }
    INFO(set << ": " << count << " images, mean PSNR " << total / count);
    CHECK(count > 0);
    CHECK(std::abs(total / count - reference) < 0.005);  // the figures are given to 0.01 dB
  }
}

// The LR images were made with MATLAB's imresize: downscaling the HR images by 4 must agree with
// them up to 8-bit rounding (MATLAB also rounds between its two passes) away from the border.
TEST_CASE("antialiased bicubic x1/4 matches MATLAB's Set5 LR images inside the border") {
  const fs::path dir = testing::shared_data("sr/Set5/x4", "to compare with MATLAB's LR images");
  if (dir.empty()) return;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().string();
    if (!name.ends_with("_HR.png")) continue;
    const auto hr = read_image<double>(name);
    const auto lr = read_image<double>(name.substr(0, name.size() - 7) + "_LR.png");
    const auto ours = resize_bicubic(hr, hr.h() / 4, hr.w() / 4);
    REQUIRE(ours.shape() == lr.shape());
    const auto a = ours.to_host(), b = lr.to_host();
    double worst = 0, sum = 0;
    int n = 0;
    for (int c = 0; c < 3; ++c)
      for (int y = 1; y < lr.h() - 1; ++y)
        for (int x = 1; x < lr.w() - 1; ++x, ++n) {
          const double d = std::abs(std::clamp(at(ours, a, 0, c, y, x), 0.0, 255.0) - at(lr, b, 0, c, y, x));
          worst = std::max(worst, d);
          sum += d;
        }
    INFO(name << ": mean difference " << sum / n << ", worst " << worst);
    CHECK(sum / n < 0.3);
    CHECK(worst < 2.0);
  }
}

TEST_CASE("resize_longer_side keeps the aspect ratio and gives the longer side the asked size") {
  const Tensor<float, Cpu> landscape({1, 3, 30, 60});
  CHECK(io::resize_longer_side(landscape, 20).shape() == Shape4{1, 3, 10, 20});
  const Tensor<float, Cpu> portrait({1, 3, 45, 15});
  CHECK(io::resize_longer_side(portrait, 90).shape() == Shape4{1, 3, 90, 30});
  const Tensor<float, Cpu> thin({1, 3, 1, 100});
  CHECK(io::resize_longer_side(thin, 10).shape() == Shape4{1, 3, 1, 10});  // never below one pixel
}
