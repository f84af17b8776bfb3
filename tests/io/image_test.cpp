#include "perceptual/io/image.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "support/random.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;
using namespace perceptual::io;
namespace fs = std::filesystem;

namespace {

using testing::TempDir;

Tensor<float, Cpu> random_pixels(Shape4 shape, std::mt19937_64& rng) {
  std::vector<float> v(shape.size());
  for (auto& e : v) e = static_cast<float>(rng() % 256);
  return Tensor<float, Cpu>::from_host(shape, v);
}

// Reading `path` throws FileError whose message names the path and contains `what`.
void check_read_error(const fs::path& path, const std::string& what) {
  INFO("file " << path.string());
  try {
    (void)read_image<float>(path);
    FAIL("no error");
  } catch (const FileError& e) {
    const std::string message = e.what();
    INFO("message: " << message);
    CHECK(message.find(path.string()) != std::string::npos);
    CHECK(message.find(what) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("a PNG written and read back is exact, in RGB order, NCHW") {
  TempDir dir;
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  const auto image = random_pixels({1, 3, 5, 7}, rng);
  write_image(image, dir / "x.png");
  const auto back = read_image<float>(dir / "x.png");
  CHECK(back.shape() == Shape4{1, 3, 5, 7});
  CHECK(back.to_host() == image.to_host());
  const auto wide = read_image<double>(dir / "x.png");
  CHECK(wide.to_host()[7] == static_cast<double>(image.to_host()[7]));

  // Upper-case extensions work; pixel (0, 0) of a hand-made image keeps its channels apart.
  std::vector<float> v(3 * 2 * 2, 0.0f);
  v[0] = 255;      // R at (0, 0)
  v[4 + 1] = 128;  // G at (0, 1)
  v[8 + 2] = 7;    // B at (1, 0)
  write_image(Tensor<float, Cpu>::from_host({1, 3, 2, 2}, v), dir / "y.PNG");
  CHECK(read_image<float>(dir / "y.PNG").to_host() == v);
}

TEST_CASE("writing clamps to [0, 255] and rounds to the nearest integer") {
  TempDir dir;
  const std::vector<float> v{-5.0f, 300.0f, 12.4f, 12.6f, NAN, 254.5f};
  write_image(Tensor<float, Cpu>::from_host({1, 1, 2, 3}, v), dir / "g.png");
  const auto back = read_image<float>(dir / "g.png");  // grey comes back as three equal channels
  REQUIRE(back.shape() == Shape4{1, 3, 2, 3});
  const auto h = back.to_host();
  const std::vector<float> expected{0, 255, 12, 13, 0, 255};
  for (int c = 0; c < 3; ++c) CHECK(std::vector<float>(h.begin() + 6 * c, h.begin() + 6 * c + 6) == expected);
}

TEST_CASE("RGBA and grey-alpha files read as RGB") {
  TempDir dir;
  const std::uint8_t rgba[] = {10, 20, 30, 255, 40, 50, 60, 0};
  REQUIRE(stbi_write_png((dir / "rgba.png").string().c_str(), 2, 1, 4, rgba, 8));
  CHECK(read_image<float>(dir / "rgba.png").to_host() == std::vector<float>{10, 40, 20, 50, 30, 60});
  const std::uint8_t grey_alpha[] = {77, 128};
  REQUIRE(stbi_write_png((dir / "ga.png").string().c_str(), 1, 1, 2, grey_alpha, 2));
  CHECK(read_image<float>(dir / "ga.png").to_host() == std::vector<float>{77, 77, 77});
}

TEST_CASE("a JPEG round trip is close") {
  TempDir dir;
  std::vector<float> v(3 * 32 * 48);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 48; ++x) v[(c * 32 + y) * 48 + x] = static_cast<float>(40 + 3 * x + 2 * y + 30 * c);
  const auto image = Tensor<float, Cpu>::from_host({1, 3, 32, 48}, v);
  write_image(image, dir / "x.jpg");
  write_image(image, dir / "low.jpeg", 10);
  const auto back = read_image<float>(dir / "x.jpg").to_host();
  const auto low = read_image<float>(dir / "low.jpeg").to_host();
  double error = 0, low_error = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    error += std::abs(back[i] - v[i]);
    low_error += std::abs(low[i] - v[i]);
  }
  error /= static_cast<double>(v.size());
  low_error /= static_cast<double>(v.size());
  CHECK(error < 2.0);
  CHECK(error > 0.0);  // it really is lossy, so this really was a JPEG
  CHECK(low_error > error);
}

TEST_CASE("missing, truncated and non-image files give FileError naming the path") {
  TempDir dir;
  check_read_error(dir / "absent.png", "no such file");
  check_read_error(dir.path, "not a regular file");
  { std::ofstream(dir / "text.png") << "this is not an image"; }
  check_read_error(dir / "text.png", "cannot decode");
  std::ofstream(dir / "empty.jpg").close();
  check_read_error(dir / "empty.jpg", "cannot decode");

  std::mt19937_64 rng(3);
  write_image(random_pixels({1, 3, 40, 40}, rng), dir / "full.png");
  write_image(random_pixels({1, 3, 40, 40}, rng), dir / "full.jpg");
  for (const char* name : {"full.png", "full.jpg"}) {
    fs::copy_file(dir / name, dir / (std::string("cut_") + name));
    fs::resize_file(dir / (std::string("cut_") + name), fs::file_size(dir / name) / 2);
    check_read_error(dir / (std::string("cut_") + name), "cannot decode");
  }
}

TEST_CASE("writing rejects bad shapes, extensions, qualities and paths") {
  TempDir dir;
  const Tensor<float, Cpu> rgb({1, 3, 4, 4});
  CHECK_THROWS_AS(write_image(Tensor<float, Cpu>({2, 3, 4, 4}), dir / "x.png"), ShapeError);
  CHECK_THROWS_AS(write_image(Tensor<float, Cpu>({1, 4, 4, 4}), dir / "x.png"), ShapeError);
  CHECK_THROWS_AS(write_image(Tensor<float, Cpu>({1, 3, 0, 4}), dir / "x.png"), ShapeError);
  CHECK_THROWS_WITH_AS(write_image(rgb, dir / "x.bmp"), doctest::Contains(".bmp"), ArgumentError);
  CHECK_THROWS_AS(write_image(rgb, dir / "noextension"), ArgumentError);
  CHECK_THROWS_AS(write_image(rgb, dir / "x.jpg", 0), ArgumentError);
  const fs::path nowhere = dir / "no_such_dir" / "x.png";
  CHECK_THROWS_WITH_AS(write_image(rgb, nowhere), doctest::Contains(nowhere.string().c_str()), FileError);
  fs::create_directories(dir / "dir.png");  // a directory in the way
  CHECK_THROWS_AS(write_image(rgb, dir / "dir.png"), FileError);
  CHECK_FALSE(fs::exists(dir / "x.png"));
}

TEST_CASE("a shared content image reads as 1x3xHxW in [0, 255]") {
  const char* data = std::getenv("PERCEPTUAL_DATA");
  if (!data) {
    MESSAGE("skipped: set PERCEPTUAL_DATA (e.g. /work/shared/data) to read the shared images");
    return;
  }
  const fs::path path = fs::path(data) / "images" / "content" / "chicago.jpg";
  if (!fs::exists(path)) {
    MESSAGE("skipped: " << path.string() << " is absent");
    return;
  }
  const auto image = read_image<float>(path);
  CHECK(image.shape() == Shape4{1, 3, 474, 712});
  const auto v = image.to_host();
  double mean = 0;
  for (float e : v) {
    REQUIRE(e >= 0.0f);
    REQUIRE(e <= 255.0f);
    mean += e;
  }
  mean /= static_cast<double>(v.size());
  CHECK(mean > 30);
  CHECK(mean < 225);
}
