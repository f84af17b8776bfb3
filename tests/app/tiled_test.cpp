#include "perceptual/app/tiled.hpp"

#include <doctest/doctest.h>

#include <random>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/io/image.hpp"
#include "support/random.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;

TEST_CASE("sizes: bytes, or with K, M, G, T (powers of 1024)") {
  CHECK(app::parse_size("300000000") == 300000000);
  CHECK(app::parse_size("512M") == std::size_t{512} << 20);
  CHECK(app::parse_size("8G") == std::size_t{8} << 30);
  CHECK(app::parse_size("8g") == std::size_t{8} << 30);
  CHECK(app::parse_size("1.5GiB") == std::size_t{3} << 29);
  CHECK(app::parse_size("2TB") == std::size_t{2} << 40);
  CHECK(app::parse_size("64K") == std::size_t{64} << 10);
  for (const char* bad : {"", "0", "-1", "lots", "8X", "G", "8 G", "1e30"}) {
    INFO(bad);
    CHECK_THROWS_AS(app::parse_size(bad), ArgumentError);
  }
}

TEST_CASE("an image file's rows, reflection-padded below and to the right as pad_to_multiple pads it") {
  testing::TempDir dir;
  std::mt19937_64 rng(3);
  Tensor<float, Cpu> x = testing::random_tensor<float>({1, 3, 13, 10}, rng, 0, 255);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::round(x.data()[i]);
  io::write_image(x, dir / "x.png");
  const auto want = app::pad_to_multiple(x, 4);  // 16 x 12
  app::detail::PaddedRows rows(dir / "x.png", 12);
  CHECK(rows.height() == 13);
  CHECK(rows.width() == 10);
  Tensor<float, Cpu> top({1, 3, 9, 12}, uninitialized), bottom({1, 3, 7, 12}, uninitialized);
  rows.fill(0, top);
  rows.fill(9, bottom);
  CHECK(top.to_host() == app::crop_top_left(want, 9, 12).to_host());
  const auto b = bottom.to_host(), w = want.to_host();
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 7; ++i)
      for (int j = 0; j < 12; ++j) {
        INFO(c << " " << i << " " << j);
        CHECK(b[(c * 7 + i) * 12 + j] == w[(c * 16 + 9 + i) * 12 + j]);
      }
}
