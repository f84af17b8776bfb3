#include "perceptual/train/data.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "support/temp_dir.hpp"

using namespace perceptual;
using namespace perceptual::train;
using TensorF = Tensor<float, Cpu>;
namespace fs = std::filesystem;

namespace {

// A 1x3xHxW image whose pixel (c, i, j) is (c * 64 + i * 7 + j * 3) % 256: exact in PNG.
TensorF pattern(int h, int w, int offset = 0) {
  std::vector<float> v;
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < w; ++j) v.push_back(static_cast<float>((offset + c * 64 + i * 7 + j * 3) % 256));
  return TensorF::from_host({1, 3, h, w}, v);
}

void write_garbage(const fs::path& p) {
  std::ofstream out(p, std::ios::binary);
  out << "this is not a JPEG at all";
}

// n images of size x size, each a distinct constant image whose red value is its index * 10:
// a batch's images are then known by their first pixel.
void write_constant_images(const fs::path& folder, int n, int size) {
  fs::create_directories(folder);
  for (int i = 0; i < n; ++i) {
    std::vector<float> v(3 * size * size, static_cast<float>(i * 10));
    io::write_image(TensorF::from_host({1, 3, size, size}, v), folder / ("img" + std::to_string(10 + i) + ".png"));
  }
}

std::vector<float> first_pixels(const Batch& b) {
  std::vector<float> out;
  const std::size_t per = b.images.size() / b.images.n();
  for (int j = 0; j < b.images.n(); ++j) out.push_back(b.images.data()[j * per]);
  return out;
}

}  // namespace

TEST_CASE("ImageDataset lists image files of several folders recursively, sorted, ignoring other files") {
  testing::TempDir dir;
  fs::create_directories(dir / "a/sub");
  fs::create_directories(dir / "b");
  const auto img = pattern(4, 4);
  io::write_image(img, dir / "a/z.png");
  io::write_image(img, dir / "a/sub/m.JPG");
  io::write_image(img, dir / "b/c.png");
  std::ofstream(dir / "a/notes.txt") << "not an image";
  write_garbage(dir / "b/bad.bmp");

  const ImageDataset data({dir / "b", dir / "a", dir / "a"});
  REQUIRE(data.size() == 4);
  CHECK(data.file(0) == (dir / "a/sub/m.JPG").lexically_normal());
  CHECK(data.file(1) == (dir / "a/z.png").lexically_normal());
  CHECK(data.file(2) == (dir / "b/bad.bmp").lexically_normal());
  CHECK(data.file(3) == (dir / "b/c.png").lexically_normal());
}

TEST_CASE("ImageDataset: an empty folder or a missing one is a clear error") {
  testing::TempDir dir;
  fs::create_directories(dir / "empty");
  std::ofstream(dir / "empty/readme.txt") << "x";
  CHECK_THROWS_WITH_AS(ImageDataset({dir / "empty"}), doctest::Contains("no .jpg, .jpeg, .png or .bmp files"),
                       FileError);
  CHECK_THROWS_WITH_AS(ImageDataset({dir / "missing"}), doctest::Contains("not a folder"), FileError);
}

TEST_CASE("load_square_image scales the shorter side to S and takes the centre crop") {
  testing::TempDir dir;
  // 8x12 at S = 8: no scaling, columns 2..9 of the pattern.
  io::write_image(pattern(8, 12), dir / "wide.png");
  const auto crop = load_square_image(dir / "wide.png", 8);
  REQUIRE(crop.shape() == Shape4{1, 3, 8, 8});
  const auto want = pattern(8, 12).to_host();
  const auto got = crop.to_host();
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 8; ++j) CHECK(got[(c * 8 + i) * 8 + j] == want[(c * 8 + i) * 12 + j + 2]);

  // 20x10 at S = 5: scaled by 1/2 to 10x5, then rows 2..6 (constant image: value kept).
  std::vector<float> v(3 * 20 * 10, 77.0f);
  io::write_image(TensorF::from_host({1, 3, 20, 10}, v), dir / "tall.png");
  const auto small = load_square_image(dir / "tall.png", 5);
  REQUIRE(small.shape() == Shape4{1, 3, 5, 5});
  for (float x : small.to_host()) CHECK(x == doctest::Approx(77.0f).epsilon(1e-4));
}

TEST_CASE("BatchLoader gives Nx3xSxS batches covering each epoch once, in sorted order without shuffling") {
  testing::TempDir dir;
  write_constant_images(dir / "d", 5, 6);
  const ImageDataset data({dir / "d"});
  BatchLoader loader(data, {.image_size = 4, .batch_size = 2, .shuffle = false, .threads = 2});
  const auto b0 = loader.next(), b1 = loader.next(), b2 = loader.next();
  CHECK(b0.index == 0);
  CHECK(b2.index == 2);
  CHECK(b0.images.shape() == Shape4{2, 3, 4, 4});
  CHECK(first_pixels(b0) == std::vector<float>{0, 10});
  CHECK(first_pixels(b1) == std::vector<float>{20, 30});
  CHECK(first_pixels(b2) == std::vector<float>{40, 0});  // the next epoch starts within the batch
  REQUIRE(b0.files.size() == 2);
  CHECK(b0.files[1] == data.file(1));
}

TEST_CASE("BatchLoader: shuffled epochs are permutations and batch k depends only on (seed, k)") {
  testing::TempDir dir;
  write_constant_images(dir / "d", 7, 4);
  const ImageDataset data({dir / "d"});
  auto run = [&](int threads, std::int64_t first, int count, std::uint64_t seed) {
    BatchLoader loader(
        data,
        {.image_size = 4, .batch_size = 7, .seed = seed, .threads = threads, .prefetch = 3, .first_batch = first});
    std::vector<std::vector<float>> out;
    for (int i = 0; i < count; ++i) out.push_back(first_pixels(loader.next()));
    return out;
  };
  const auto sync = run(0, 0, 4, 42);
  CHECK(run(1, 0, 4, 42) == sync);
  CHECK(run(3, 0, 4, 42) == sync);
  const auto resumed = run(2, 2, 2, 42);  // a resumed run sees batches 2 and 3
  CHECK(resumed[0] == sync[2]);
  CHECK(resumed[1] == sync[3]);
  for (const auto& epoch : sync)  // batch = epoch here: each image once
    CHECK(std::set<float>(epoch.begin(), epoch.end()) == std::set<float>{0, 10, 20, 30, 40, 50, 60});
  CHECK(sync[0] != sync[1]);  // a fresh shuffle per epoch
  CHECK(run(0, 0, 1, 43)[0] != sync[0]);
}

TEST_CASE("BatchLoader reports an unreadable file once and takes the next readable file in its place") {
  testing::TempDir dir;
  write_constant_images(dir / "d", 3, 4);
  write_garbage(dir / "d" / "img11.jpg");  // sorts before img11.png
  const ImageDataset data({dir / "d"});
  REQUIRE(data.size() == 4);
  CHECK(data.file(1).filename() == "img11.jpg");
  BatchLoader loader(data, {.image_size = 4, .batch_size = 2, .shuffle = false, .threads = 2});
  const auto b0 = loader.next(), b1 = loader.next(), b2 = loader.next();
  CHECK(first_pixels(b0) == std::vector<float>{0, 10});   // img11.jpg's slot takes img11.png
  CHECK(first_pixels(b1) == std::vector<float>{10, 20});  // positions 2, 3
  CHECK(first_pixels(b2) == std::vector<float>{0, 10});   // the next epoch: skipped again, silently
  CHECK(b0.files[1].filename() == "img11.png");
}

TEST_CASE("BatchLoader: a dataset of unreadable files is an error from next(), and the threads stop") {
  testing::TempDir dir;
  fs::create_directories(dir / "d");
  write_garbage(dir / "d" / "a.jpg");
  write_garbage(dir / "d" / "b.png");
  const ImageDataset data({dir / "d"});
  for (int threads : {0, 2}) {
    BatchLoader loader(data, {.image_size = 4, .batch_size = 2, .threads = threads});
    CHECK_THROWS_WITH_AS(loader.next(), doctest::Contains("none of the 2 images could be read"), FileError);
  }  // the destructor joins workers that wait for room in the queue
}

TEST_CASE("BatchLoader rejects invalid options") {
  testing::TempDir dir;
  write_constant_images(dir / "d", 1, 4);
  const ImageDataset data({dir / "d"});
  CHECK_THROWS_AS(BatchLoader(data, {.batch_size = 0}), ArgumentError);
  CHECK_THROWS_AS(BatchLoader(data, {.threads = -1}), ArgumentError);
}

TEST_CASE("BatchLoader refuses, before allocating, batches that cannot fit in memory and a first batch past 2^63") {
  testing::TempDir dir;
  write_constant_images(dir / "d", 1, 4);
  const ImageDataset data({dir / "d"});
  CHECK_THROWS_WITH_AS(BatchLoader(data, {.image_size = 4096, .batch_size = 1024}),
                       doctest::Contains("of this machine's physical memory"), ArgumentError);
  CHECK_THROWS_WITH_AS(BatchLoader(data, {.image_size = 4, .batch_size = 2, .first_batch = 1LL << 62}),
                       doctest::Contains("past the last one"), ArgumentError);
}

TEST_CASE("load_random_crop cuts an SxS window at the image's own resolution, scaling up only small images") {
  testing::TempDir dir;
  io::write_image(pattern(20, 30), dir / "big.png");
  const auto want = pattern(20, 30).to_host();
  std::mt19937_64 rng(3);
  std::set<std::pair<int, int>> places;
  for (int draw = 0; draw < 20; ++draw) {
    const auto crop = load_random_crop(dir / "big.png", 8, rng);
    REQUIRE(crop.shape() == Shape4{1, 3, 8, 8});
    const auto got = crop.to_host();
    // The place is found from the first pixel's neighbourhood, then every pixel must agree.
    int found = 0;
    for (int top = 0; top + 8 <= 20; ++top)
      for (int left = 0; left + 8 <= 30; ++left) {
        bool same = true;
        for (int c = 0; c < 3 && same; ++c)
          for (int i = 0; i < 8 && same; ++i)
            for (int j = 0; j < 8 && same; ++j)
              same = got[(c * 8 + i) * 8 + j] == want[(c * 20 + top + i) * 30 + left + j];
        if (same) {
          ++found;
          places.insert({top, left});
        }
      }
    CHECK(found >= 1);
  }
  CHECK(places.size() > 5);  // the place varies

  // A 6x10 image for an 8x8 crop: scaled to 8x13 first (a constant image keeps its value).
  std::vector<float> v(3 * 6 * 10, 50.0f);
  io::write_image(TensorF::from_host({1, 3, 6, 10}, v), dir / "small.png");
  const auto small = load_random_crop(dir / "small.png", 8, rng);
  REQUIRE(small.shape() == Shape4{1, 3, 8, 8});
  for (float x : small.to_host()) CHECK(x == doctest::Approx(50.0f).epsilon(1e-4));
}

TEST_CASE(
    "BatchLoader with random crops and a low-resolution factor: inputs are the degraded crops, and batch k "
    "depends only on (seed, k)") {
  testing::TempDir dir;
  fs::create_directories(dir / "d");
  for (int i = 0; i < 3; ++i)
    io::write_image(pattern(24 + 4 * i, 28, 50 * i), dir / "d" / ("p" + std::to_string(i) + ".png"));
  const ImageDataset data({dir / "d"});
  const LoaderOptions base{
      .image_size = 16, .batch_size = 2, .seed = 5, .threads = 0, .crop = LoaderOptions::Crop::random, .lr_factor = 4};
  auto batches = [&](int threads, std::int64_t first, int count) {
    auto o = base;
    o.threads = threads;
    o.first_batch = first;
    BatchLoader loader(data, o);
    std::vector<std::pair<std::vector<float>, std::vector<float>>> out;
    for (int i = 0; i < count; ++i) {
      const Batch b = loader.next();
      REQUIRE(b.images.shape() == Shape4{2, 3, 16, 16});
      REQUIRE(b.inputs.shape() == Shape4{2, 3, 4, 4});
      for (int j = 0; j < 2; ++j) {  // each input is io::sr_degrade of its image
        TensorF image({1, 3, 16, 16});
        std::copy_n(b.images.data() + j * 768, 768, image.data());
        const auto lr = io::sr_degrade(image, 4).to_host();
        CHECK(std::equal(lr.begin(), lr.end(), b.inputs.data() + j * 48));
      }
      out.emplace_back(b.images.to_host(), b.inputs.to_host());
    }
    return out;
  };
  const auto sync = batches(0, 0, 4);
  CHECK(batches(2, 0, 4) == sync);
  const auto resumed = batches(2, 2, 2);
  CHECK(resumed[0] == sync[2]);
  CHECK(resumed[1] == sync[3]);
  // Positions 0..2 and 3..5 are the same files in other orders with other crops: no two batches
  // repeat, and another seed gives other crops.
  CHECK(sync[0] != sync[1]);
  CHECK(sync[1] != sync[3]);
  auto other = base;
  other.seed = 6;
  BatchLoader loader(data, other);
  CHECK(loader.next().images.to_host() != sync[0].first);

  auto bad = base;
  bad.lr_factor = 3;  // 16 is not a multiple of 3
  CHECK_THROWS_WITH_AS(BatchLoader(data, bad), doctest::Contains("not a multiple of the low-resolution factor 3"),
                       ArgumentError);
}

TEST_CASE("BatchLoader: the shards of a global batch hold its images, in order, and nothing else") {
  testing::TempDir dir;
  write_constant_images(dir / "data", 7, 8);
  const ImageDataset data({dir / "data"});
  const LoaderOptions whole{.image_size = 8, .batch_size = 5, .seed = 4, .threads = 0};
  BatchLoader all(data, whole);
  auto first = whole, second = whole;
  first.shard = dist::shard(5, 0, 2);
  second.shard = dist::shard(5, 1, 2);
  BatchLoader a(data, first), b(data, second);
  for (int k = 0; k < 3; ++k) {  // across an epoch's end
    auto pixels = first_pixels(a.next());
    CHECK(pixels.size() == 3);
    const auto rest = first_pixels(b.next());
    pixels.insert(pixels.end(), rest.begin(), rest.end());
    CHECK(pixels == first_pixels(all.next()));
  }
  auto outside = whole;
  outside.shard = {4, 6};
  CHECK_THROWS_WITH_AS(BatchLoader(data, outside), doctest::Contains("shard [4, 6) is not within a batch of 5"),
                       ArgumentError);
}
