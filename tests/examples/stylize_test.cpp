// Runs the built examples/stylize program on hand-made networks and generated images.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/io/image.hpp"
#include "support/engstrom_reference.hpp"
#include "support/program.hpp"
#include "support/random.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;
using TensorF = Tensor<float, Cpu>;
namespace fs = std::filesystem;

namespace {

const testing::Program program("stylize");

// A random 8-bit RGB image of `s`, written to `path`; returns what reading the file gives.
TensorF write_random_image(const fs::path& path, Size2 s, std::mt19937_64& rng) {
  TensorF x = testing::random_tensor<float>({1, 3, s.h, s.w}, rng, 0, 255);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::round(x.data()[i]);
  io::write_image(x, path);
  return io::read_image<float>(path);
}

// What lengstrom's evaluate.py writes for `x`: the TensorFlow network's output, truncated to 8 bits.
testing::engstrom::Image original_program(const testing::engstrom::Weights& w, const TensorF& x) {
  testing::engstrom::Image in(3, x.h(), x.w());
  std::copy_n(x.data(), in.v.size(), in.v.begin());
  auto y = testing::engstrom::reference_forward(w, in);
  for (auto& e : y.v) e = std::floor(e);
  return y;
}

struct Difference {
  double worst = 0, mean = 0;
};

// Between the 8-bit output file and the top-left `got`-sized part of the reference.
Difference difference(const TensorF& got, const testing::engstrom::Image& want) {
  Difference d;
  const std::size_t n = got.size();
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < got.h(); ++i)
      for (int j = 0; j < got.w(); ++j) {
        const double e =
            std::abs(got.data()[(static_cast<std::size_t>(c) * got.h() + i) * got.w() + j] - want.at(c, i, j));
        d.worst = std::max(d.worst, e);
        d.mean += e / static_cast<double>(n);
      }
  return d;
}

}  // namespace

TEST_CASE("stylize --preset engstrom writes what the original program writes, at any image size") {
  if (!program.available()) return;
  const auto seed = testing::test_seed();
  INFO("seed " << seed << " (replay with PERCEPTUAL_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  testing::TempDir dir;
  const auto w = testing::engstrom::random_weights(rng);
  testing::engstrom::write_file(w, dir / "net.safetensors");

  // A multiple of 4, then sizes that are not: TensorFlow's output is then 4 * ceil(n / 4).
  for (const Size2 s : {Size2{12, 8}, Size2{13, 10}, Size2{9, 15}}) {
    const Size2 tf{4 * ((s.h + 3) / 4), 4 * ((s.w + 3) / 4)};
    INFO("input " << to_string(s) << ", TensorFlow's output " << to_string(tf));
    const std::string name = "in" + std::to_string(s.h) + "x" + std::to_string(s.w);
    const TensorF x = write_random_image(dir / (name + ".png"), s, rng);
    const auto want = original_program(w, x);
    REQUIRE(want.h == tf.h);
    REQUIRE(want.w == tf.w);
    const auto [lo, hi] = std::minmax_element(want.v.begin(), want.v.end());
    REQUIRE(*hi - *lo > 10);  // the reference is not one saturated value

    const auto whole = program.run("-m " + testing::quoted(dir / "net.safetensors") + " " +
                                   testing::quoted(dir / (name + ".png")) + " -o " + testing::quoted(dir / "whole"));
    INFO(whole.output);
    REQUIRE(whole.status == 0);
    const TensorF got = io::read_image<float>(dir / "whole" / (name + "_net.png"));
    REQUIRE(got.shape() == Shape4{1, 3, tf.h, tf.w});
    const Difference d = difference(got, want);
    MESSAGE("input " << to_string(s) << ": largest difference " << d.worst << ", mean " << d.mean
                     << " gray levels from the reference");
    CHECK(d.worst <= 1);  // float against double, across a truncation boundary at most
    CHECK(d.mean < 0.01);

    const auto cropped =
        program.run("-m " + testing::quoted(dir / "net.safetensors") + " --crop-to-input " +
                    testing::quoted(dir / (name + ".png")) + " -o " + testing::quoted(dir / "cropped"));
    INFO(cropped.output);
    REQUIRE(cropped.status == 0);
    const TensorF part = io::read_image<float>(dir / "cropped" / (name + "_net.png"));
    REQUIRE(part.shape() == Shape4{1, 3, s.h, s.w});
    CHECK(difference(part, want).worst <= 1);
  }
}

TEST_CASE("stylize --suffix \"\" writes NAME.png and never replaces an input") {
  if (!program.available()) return;
  std::mt19937_64 rng(5);
  testing::TempDir dir;
  testing::engstrom::write_file(testing::engstrom::random_weights(rng), dir / "net.safetensors");
  write_random_image(dir / "cat.png", {8, 8}, rng);
  const std::string model = "-m " + testing::quoted(dir / "net.safetensors") + " ";

  const auto r =
      program.run(model + "--suffix '' " + testing::quoted(dir / "cat.png") + " -o " + testing::quoted(dir / "out"));
  INFO(r.output);
  CHECK(r.status == 0);
  CHECK(fs::exists(dir / "out" / "cat.png"));
  CHECK_FALSE(fs::exists(dir / "out" / "cat_net.png"));

  SUBCASE("the output would be the input") {
    const auto before = fs::last_write_time(dir / "cat.png");
    const auto same =
        program.run(model + "--suffix '' " + testing::quoted(dir / "cat.png") + " -o " + testing::quoted(dir.path));
    INFO(same.output);
    CHECK(same.status == 1);
    CHECK(same.output.find("would replace it") != std::string::npos);
    CHECK(fs::last_write_time(dir / "cat.png") == before);
  }
  SUBCASE("two inputs of one name") {
    fs::create_directories(dir / "b");
    write_random_image(dir / "b" / "cat.png", {8, 8}, rng);
    const auto two = program.run(model + testing::quoted(dir / "cat.png") + " " +
                                 testing::quoted(dir / "b" / "cat.png") + " -o " + testing::quoted(dir / "two"));
    INFO(two.output);
    CHECK(two.status == 1);
    CHECK(two.output.find("already written for another input") != std::string::npos);
  }
}

TEST_CASE("stylize --batch runs consecutive images of one size in one pass, with one pass's results") {
  if (!program.available()) return;
  std::mt19937_64 rng(7);
  testing::TempDir dir;
  testing::engstrom::write_file(testing::engstrom::random_weights(rng), dir / "net.safetensors");
  fs::create_directories(dir / "in");
  for (const char* name : {"a", "b", "c"}) write_random_image(dir / "in" / (std::string(name) + ".png"), {12, 8}, rng);
  write_random_image(dir / "in" / "d.png", {9, 15}, rng);
  const std::string model =
      "-m " + testing::quoted(dir / "net.safetensors") + " " + testing::quoted(dir / "in") + " -o ";

  const auto one = program.run(model + testing::quoted(dir / "one") + " --batch 1");
  const auto two = program.run(model + testing::quoted(dir / "two") + " --batch 2");
  INFO(one.output);
  INFO(two.output);
  REQUIRE(one.status == 0);
  REQUIRE(two.status == 0);
  CHECK(one.output.find("batch of") == std::string::npos);
  // a and b together; c alone (the batch is full); d alone (another size).
  CHECK(two.output.find("a_net.png (8x12) in") != std::string::npos);
  CHECK(two.output.find("(one of a batch of 2") != std::string::npos);
  const auto c_line = two.output.substr(two.output.find("c.png"));
  CHECK(c_line.substr(0, c_line.find('\n')).find("batch") == std::string::npos);
  // --preserve-colors takes each image's own colours, the second of a batch too.
  REQUIRE(program.run(model + testing::quoted(dir / "one_colors") + " --batch 1 --preserve-colors").status == 0);
  REQUIRE(program.run(model + testing::quoted(dir / "two_colors") + " --batch 2 --preserve-colors").status == 0);
  for (const std::string folder : {"", "_colors"})
    for (const char* name : {"a", "b", "c", "d"}) {
      INFO(name << folder);
      const TensorF x = io::read_image<float>(dir / ("one" + folder) / (std::string(name) + "_net.png"));
      const TensorF y = io::read_image<float>(dir / ("two" + folder) / (std::string(name) + "_net.png"));
      REQUIRE(x.shape() == y.shape());
      double worst = 0;
      for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, double(std::abs(x.data()[i] - y.data()[i])));
      CHECK(worst <= 1);  // the same arithmetic up to the order of float sums, truncated to 8 bits
    }
  CHECK(program.run(model + testing::quoted(dir / "bad") + " --batch 0").status != 0);
}

TEST_CASE("stylize --max-memory runs an image too large for it band by band, with the one pass's output") {
  if (!program.available()) return;
  std::mt19937_64 rng(9);
  testing::TempDir dir;
  testing::engstrom::write_file(testing::engstrom::random_weights(rng), dir / "net.safetensors");
  // 900x700: its one pass needs several hundred MiB, its smallest band a few.
  write_random_image(dir / "big.png", {700, 900}, rng);
  const std::string args = "-m " + testing::quoted(dir / "net.safetensors") + " " + testing::quoted(dir / "big.png");
  const auto one = program.run(args + " -o " + testing::quoted(dir / "one"));
  const auto bands = program.run(args + " -o " + testing::quoted(dir / "bands") + " --max-memory 256M");
  INFO(one.output);
  INFO(bands.output);
  REQUIRE(one.status == 0);
  REQUIRE(bands.status == 0);
  CHECK(one.output.find("band by band") == std::string::npos);
  CHECK(bands.output.find("does not fit one pass in 256 MiB") != std::string::npos);
  CHECK(bands.output.find("band by band in") != std::string::npos);
  const TensorF x = io::read_image<float>(dir / "one" / "big_net.png");
  const TensorF y = io::read_image<float>(dir / "bands" / "big_net.png");
  REQUIRE(x.shape() == y.shape());
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, double(std::abs(x.data()[i] - y.data()[i])));
  CHECK(worst <= 1);              // float sums in another order, truncated to 8 bits
  std::vector<std::string> left;  // the scratch files are unnamed: nothing stays behind
  for (const auto& e : fs::directory_iterator(dir / "bands")) left.push_back(e.path().filename().string());
  CHECK(left == std::vector<std::string>{"big_net.png"});

  SUBCASE("impossible budgets and scratch folders are errors, before any work") {
    const auto tiny = program.run(args + " -o " + testing::quoted(dir / "tiny") + " --max-memory 1M");
    INFO(tiny.output);
    CHECK(tiny.status == 1);
    CHECK(tiny.output.find("leaves nothing for the image") != std::string::npos);
    const auto nowhere = program.run(args + " -o " + testing::quoted(dir / "nowhere") +
                                     " --max-memory 256M --scratch-dir " + testing::quoted(dir / "missing"));
    INFO(nowhere.output);
    CHECK(nowhere.status != 0);
    CHECK(nowhere.output.find("--scratch-dir") != std::string::npos);
    CHECK_FALSE(fs::exists(dir / "nowhere" / "big_net.png"));
    CHECK(program.run(args + " --max-memory lots").status != 0);
  }
}
