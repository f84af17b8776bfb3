// app/images.hpp: the images a program is given, the crop back to an input's size and the
// benchmarks' test images. (transform_images is run through stylize and super_resolve:
// tests/examples/.)
#include "perceptual/app/images.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;
namespace fs = std::filesystem;

TEST_CASE("collect_images takes named files and the image files of folders, their subfolders only when recursive") {
  testing::TempDir dir;
  fs::create_directories(dir.path / "a" / "sub");
  for (const auto* name : {"a/2.png", "a/1.JPG", "a/notes.txt", "a/sub/3.bmp", "single.jpeg"})
    std::ofstream(dir.path / name) << "x";
  const std::vector<std::string> inputs{(dir.path / "single.jpeg").string(), (dir.path / "a").string()};
  const auto names = [](const std::vector<app::InputImage>& images) {
    std::vector<std::string> out;
    for (const auto& i : images) out.push_back(i.path.filename().string() + (i.from_folder ? "*" : ""));
    return out;
  };
  CHECK(names(app::collect_images(inputs, "test")) == std::vector<std::string>{"single.jpeg", "1.JPG*", "2.png*"});
  CHECK(names(app::collect_images(inputs, "test", true)) ==
        std::vector<std::string>{"single.jpeg", "1.JPG*", "2.png*", "3.bmp*"});
  CHECK_THROWS_WITH_AS(app::collect_images({(dir.path / "absent").string()}, "test"),
                       doctest::Contains("absent: no such file or folder"), FileError);
}

TEST_CASE("crop_top_left keeps each image's top-left rows and columns") {
  Tensor<float, Cpu> x({2, 1, 3, 4});
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(i);
  const auto y = app::crop_top_left(x, 2, 3);
  CHECK(y.shape() == Shape4{2, 1, 2, 3});
  CHECK(y.to_host() == std::vector<float>{0, 1, 2, 4, 5, 6, 12, 13, 14, 16, 17, 18});
  CHECK(app::crop_top_left(x, 3, 4).to_host() == x.to_host());
  CHECK_THROWS_AS(app::crop_top_left(x, 4, 4), ShapeError);
}

TEST_CASE("pad_to_multiple reflects the bottom rows and right columns up to a multiple; crop_top_left undoes it") {
  Tensor<float, Cpu> x({1, 1, 3, 3});
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(i);  // rows {0 1 2} {3 4 5} {6 7 8}
  const auto y = app::pad_to_multiple(x, 4);
  CHECK(y.shape() == Shape4{1, 1, 4, 4});
  CHECK(y.to_host() == std::vector<float>{0, 1, 2, 1, 3, 4, 5, 4, 6, 7, 8, 7, 3, 4, 5, 4});
  CHECK(app::crop_top_left(y, 3, 3).to_host() == x.to_host());
  CHECK(app::pad_to_multiple(y, 4).to_host() == y.to_host());
  CHECK_THROWS_WITH_AS(app::pad_to_multiple(Tensor<float, Cpu>({1, 1, 1, 4}), 4), doctest::Contains("too small"),
                       ShapeError);
}

TEST_CASE("synthetic_image is the same for the same variant, different for another, and within [0, 255]") {
  const auto a = app::synthetic_image(16, 20, 1), b = app::synthetic_image(16, 20, 1),
             c = app::synthetic_image(16, 20, 2);
  CHECK(a.shape() == Shape4{1, 3, 16, 20});
  CHECK(a.to_host() == b.to_host());
  CHECK(a.to_host() != c.to_host());
  for (float v : a.to_host()) CHECK((v >= 0 && v <= 255));
}
