#include "perceptual/tiled/store.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"

using namespace perceptual;

namespace {

Tensor<float, Cpu> counting_band(int c, int rows, int w, float first) {
  std::vector<float> v(static_cast<std::size_t>(c) * rows * w);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = first + static_cast<float>(i);
  return Tensor<float, Cpu>::from_host({1, c, rows, w}, v);
}

}  // namespace

TEST_CASE("a row store gives back the bands written to it, in memory and on disk") {
  const auto dir = std::filesystem::temp_directory_path();
  for (const bool disk : {false, true}) {
    INFO((disk ? "scratch file" : "memory"));
    tiled::RowStore store(3, 10, 7, disk ? dir : std::filesystem::path{});
    CHECK(store.on_disk() == disk);
    CHECK(store.bytes() == 3 * 10 * 7 * sizeof(float));
    const auto top = counting_band(3, 4, 7, 0), bottom = counting_band(3, 6, 7, 1000);
    store.write(0, top);
    store.write(4, bottom);
    CHECK(store.read(0, 4).to_host() == top.to_host());
    CHECK(store.read(4, 10).to_host() == bottom.to_host());
    // A band across both writes: each channel's rows from the one, then the other.
    const auto mid = store.read(2, 6).to_host();
    CHECK(mid[0] == top.to_host()[14]);           // channel 0, row 2
    CHECK(mid[2 * 7] == bottom.to_host()[0]);     // channel 0, row 4
    CHECK(mid[4 * 7] == top.to_host()[28 + 14]);  // channel 1, row 2
  }
}

TEST_CASE("a scratch file leaves nothing in its folder") {
  const auto dir = std::filesystem::temp_directory_path() / "perceptual-store-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    tiled::RowStore store(2, 5, 5, dir);
    store.write(0, counting_band(2, 5, 5, 0));
  }
  CHECK(std::filesystem::is_empty(dir));
  std::filesystem::remove_all(dir);
}

TEST_CASE("row store errors") {
  CHECK_THROWS_AS(tiled::RowStore(0, 5, 5), ShapeError);
  CHECK_THROWS_AS(tiled::RowStore(1, 5, 5, "/nonexistent/folder"), FileError);
  CHECK_THROWS_AS(tiled::free_disk_bytes("/nonexistent/folder"), FileError);
  tiled::RowStore store(2, 5, 4);
  CHECK_THROWS_AS(store.write(3, counting_band(2, 3, 4, 0)), ShapeError);  // past the last row
  CHECK_THROWS_AS(store.write(0, counting_band(3, 1, 4, 0)), ShapeError);  // channels
  CHECK_THROWS_AS(store.write(0, counting_band(2, 1, 5, 0)), ShapeError);  // width
  CHECK_THROWS_AS((void)store.read(4, 6), ShapeError);
}
