#include "perceptual/io/image.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "support/file_bytes.hpp"
#include "support/random.hpp"
#include "support/shared_data.hpp"
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

using testing::read_bytes;
using testing::write_bytes;

// Stores v at bytes[at...] in `n` bytes, big- or little-endian.
void put(std::string& bytes, std::size_t at, std::uint32_t v, int n, bool big_endian) {
  REQUIRE(at + n <= bytes.size());
  for (int i = 0; i < n; ++i) bytes[at + (big_endian ? n - 1 - i : i)] = static_cast<char>((v >> (8 * i)) & 0xff);
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string png_chunk(const std::string& type, const std::string& body) {
  std::uint32_t crc = 0xffffffffu;
  for (unsigned char c : type + body) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return be32(static_cast<std::uint32_t>(body.size())) + type + body + be32(~crc);
}

// A PNG of the given depth and colour type (0 grey, 2 RGB) from its scanlines (each with its
// filter byte), stored uncompressed: stb_image_write writes no 16-bit PNGs.
std::string png_file(std::uint32_t w, std::uint32_t h, int depth, int colour, const std::string& raw) {
  std::uint32_t a = 1, b = 0;
  for (unsigned char c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  const auto n = static_cast<std::uint16_t>(raw.size());
  const std::string zlib = std::string("\x78\x01\x01", 3) + static_cast<char>(n & 0xff) + static_cast<char>(n >> 8) +
                           static_cast<char>(~n & 0xff) + static_cast<char>((~n >> 8) & 0xff) + raw +
                           be32((b << 16) | a);
  const std::string ihdr =
      be32(w) + be32(h) + static_cast<char>(depth) + static_cast<char>(colour) + std::string(3, '\0');
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + png_chunk("IDAT", zlib) +
         png_chunk("IEND", "");
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

TEST_CASE("16-bit grey and RGB PNGs read as RGB at their precision") {
  TempDir dir;
  write_bytes(dir / "grey16.png", png_file(2, 1, 16, 0, std::string("\0\x12\x34\xfe\xdc", 5)));
  const auto grey = read_image<double>(dir / "grey16.png");
  REQUIRE(grey.shape() == Shape4{1, 3, 1, 2});
  const double a = 0x1234 * (255.0 / 65535.0), b = 0xfedc * (255.0 / 65535.0);
  const std::vector<double> expected{a, b, a, b, a, b};
  const auto values = grey.to_host();
  for (std::size_t i = 0; i < values.size(); ++i) CHECK(values[i] == doctest::Approx(expected[i]).epsilon(1e-9));

  write_bytes(dir / "rgb16.png", png_file(1, 1, 16, 2, std::string("\0\x00\x00\x80\x01\xff\xff", 7)));
  const auto rgb = read_image<double>(dir / "rgb16.png").to_host();
  REQUIRE(rgb.size() == 3);
  CHECK(rgb[0] == 0.0);
  CHECK(rgb[1] == doctest::Approx(0x8001 * (255.0 / 65535.0)).epsilon(1e-9));
  CHECK(rgb[2] == doctest::Approx(255.0).epsilon(1e-9));
}

TEST_CASE("formats other than JPEG, PNG and BMP are refused before stb_image decodes them") {
  // Found by fuzz/image_fuzzer: stb_image 2.27 returns 16-bit grey PNM converted to RGB in a buffer
  // half the size it reports, which read_image read past the end of. Its GIF, TGA, PSD, PIC, HDR and
  // PNM decoders are not this library's formats; they are no longer reached.
  TempDir dir;
  write_bytes(dir / "grey16.png", std::string("P5\n2 1\n65535\n\x12\x34\xff\xfe", 17));  // named .png
  check_read_error(dir / "grey16.png", "cannot decode: not a JPEG, PNG or BMP file (it starts with bytes 50 35 0a 32)");
  write_bytes(dir / "pixel.gif", std::string("GIF89a\x01\x00\x01\x00\x80\x00\x00", 13));
  check_read_error(dir / "pixel.gif", "cannot decode: not a JPEG, PNG or BMP file (it starts with bytes 47 49 46 38)");
  const std::uint8_t rgb[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  REQUIRE(stbi_write_tga((dir / "x.tga").string().c_str(), 2, 2, 3, rgb));
  check_read_error(dir / "x.tga", "cannot decode: not a JPEG, PNG or BMP file (it starts with bytes ");
  REQUIRE(stbi_write_bmp((dir / "x.bmp").string().c_str(), 2, 2, 3, rgb));  // BMP stays
  CHECK(read_image<float>(dir / "x.bmp").to_host() == std::vector<float>{1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12});
}

TEST_CASE("a JPEG Huffman table with more than 256 codes is refused before stb_image reads it") {
  // Found by fuzz/image_fuzzer: stb_image 2.27 fills the table without checking the count, writing
  // past it inside the decoder's state.
  TempDir dir;
  std::mt19937_64 rng(11);
  write_image(random_pixels({1, 3, 8, 8}, rng), dir / "x.jpg");
  const std::string jpg = read_bytes(dir / "x.jpg");
  REQUIRE(jpg.compare(0, 2, "\xff\xd8") == 0);
  // After SOI, a DHT segment whose one table claims 16 x 19 = 304 codes.
  const std::string dht = std::string("\xff\xc4\x00\x13\x00", 5) + std::string(16, '\x13');
  write_bytes(dir / "dht.jpg", jpg.substr(0, 2) + dht + jpg.substr(2));
  check_read_error(dir / "dht.jpg",
                   "corrupt JPEG: a Huffman table (DHT) with 304 codes, more than 256 (stb_image 2.27 would write past "
                   "its table)");
  // The same table after the frame header, between the scan and the end of the image, is found too.
  const auto eoi = jpg.rfind("\xff\xd9");
  REQUIRE(eoi != std::string::npos);
  write_bytes(dir / "dht_late.jpg", jpg.substr(0, eoi) + dht + jpg.substr(eoi));
  check_read_error(dir / "dht_late.jpg", "a Huffman table (DHT) with 304 codes");
  CHECK(read_image<float>(dir / "x.jpg").shape() == Shape4{1, 3, 8, 8});  // the walk passes a valid file
}

TEST_CASE("a JPEG scan that uses a table no segment defined is refused before stb_image decodes it") {
  // Found by fuzz/image_fuzzer: stb_image 2.27 decodes with its never-set (malloc'ed) table, whose
  // garbage tripped an assertion of stb's (compiled into Debian's libstb too: an abort).
  TempDir dir;
  std::mt19937_64 rng(13);
  write_image(random_pixels({1, 3, 8, 8}, rng), dir / "x.jpg");
  const std::string jpg = read_bytes(dir / "x.jpg");
  const auto sos = jpg.find("\xff\xda"), sof = jpg.find("\xff\xc0");
  REQUIRE(sos != std::string::npos);
  REQUIRE(sof != std::string::npos);
  std::string dc = jpg;
  dc[sos + 6] = '\x22';  // the first component's Huffman tables: DC 2, AC 2 (stb_image_write defines 0 and 1)
  write_bytes(dir / "dc.jpg", dc);
  check_read_error(dir / "dc.jpg",
                   "corrupt JPEG: a scan uses the DC Huffman table 2, which no DHT defined before it (stb_image 2.27 "
                   "would decode with memory it never set)");
  std::string ac = jpg;
  ac[sos + 6] = '\x03';
  write_bytes(dir / "ac.jpg", ac);
  check_read_error(dir / "ac.jpg", "a scan uses the AC Huffman table 3, which no DHT defined before it");
  std::string dqt = jpg;
  dqt[sof + 12] = '\x03';  // the first component's quantization table
  write_bytes(dir / "dqt.jpg", dqt);
  check_read_error(dir / "dqt.jpg", "a scan uses the quantization table 3, which no DQT defined before it");
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
  check_read_error(dir / "text.png", "not a JPEG, PNG or BMP file");
  std::ofstream(dir / "empty.jpg").close();
  check_read_error(dir / "empty.jpg", "not a JPEG, PNG or BMP file");

  std::mt19937_64 rng(3);
  write_image(random_pixels({1, 3, 40, 40}, rng), dir / "full.png");
  write_image(random_pixels({1, 3, 40, 40}, rng), dir / "full.jpg");
  for (const char* name : {"full.png", "full.jpg"}) {
    fs::copy_file(dir / name, dir / (std::string("cut_") + name));
    fs::resize_file(dir / (std::string("cut_") + name), fs::file_size(dir / name) / 2);
    check_read_error(dir / (std::string("cut_") + name), "cannot decode");
  }
}

TEST_CASE("not an image, and a corrupt or truncated image, say so and name the file") {
  TempDir dir;
  { std::ofstream(dir / "text.png") << "this is not an image"; }
  check_read_error(dir / "text.png", "cannot decode: not a JPEG, PNG or BMP file (it starts with bytes 74 68 69 73)");
  std::ofstream(dir / "empty.jpg").close();
  check_read_error(dir / "empty.jpg", "cannot decode: not a JPEG, PNG or BMP file (it is empty)");
  std::mt19937_64 rng(5);
  write_image(random_pixels({1, 3, 40, 30}, rng), dir / "full.png");
  std::string png = read_bytes(dir / "full.png");
  png.resize(png.size() / 2);
  write_bytes(dir / "cut.png", png);
  check_read_error(dir / "cut.png", "cannot decode: truncated or corrupt PNG: the IDAT chunk claims ");
  // A chunk that claims more than the file holds (stb_image 2.27 would allocate that much first;
  // found by fuzz/image_fuzzer, which counts an allocation past 2 GiB as a failure).
  std::string claim = png_file(2, 1, 8, 0, std::string("\0\1\2", 3));
  const auto idat = claim.find("IDAT");
  REQUIRE(idat != std::string::npos);
  claim.replace(idat - 4, 4, be32(0x50d0000du));
  write_bytes(dir / "claim.png", claim);
  check_read_error(dir / "claim.png",
                   "cannot decode: truncated or corrupt PNG: the IDAT chunk claims 1355808781 bytes, "
                   "but " +
                       std::to_string(claim.size() - idat - 4) + " remain in the file");
  // stb's reason quotes an unknown chunk's type; the message shows its bytes as \xNN.
  std::string chunk = png_file(2, 1, 8, 0, std::string("\0\1\2", 3));
  chunk.insert(8 + 25, png_chunk(std::string("\xc4\x80QQ", 4), "x"));
  write_bytes(dir / "chunk.png", chunk);
  check_read_error(dir / "chunk.png",
                   "cannot decode the 2x1 PNG image: the file is corrupt or truncated (stb_image: "
                   "\"\\xc4\\x80QQ PNG chunk not known\")");
  png.resize(20);  // the signature and part of the header
  write_bytes(dir / "stub.png", png);
  check_read_error(dir / "stub.png",
                   "cannot decode: truncated or corrupt PNG: the IHDR chunk claims 13 bytes, but 4 "
                   "remain in the file");
  write_bytes(dir / "depth7.png", png_file(2, 1, 7, 0, std::string("\0\1\2", 3)));  // no 7-bit PNGs
  check_read_error(dir / "depth7.png", "cannot decode: the PNG header is corrupt or truncated (stb_image: \"");
}

TEST_CASE("an image whose header claims more pixels than the limit is refused before decoding") {
  TempDir dir;
  std::mt19937_64 rng(7);
  const auto image = random_pixels({1, 3, 8, 8}, rng);
  write_image(image, dir / "small.png");
  write_image(image, dir / "small.jpg");
  REQUIRE(stbi_write_bmp((dir / "small.bmp").string().c_str(), 1, 1, 3, "\x01\x02\x03"));

  // Each file's header patched to claim a huge size, its data left as it was (a few hundred
  // bytes): decoding would first allocate gigabytes. The default limit is 2^28 pixels.
  std::string png = read_bytes(dir / "small.png");
  put(png, 16, 17000, 4, true);  // IHDR width, height (big-endian); stb itself stops at 2^30 bytes
  put(png, 20, 17000, 4, true);
  write_bytes(dir / "huge.png", png);
  check_read_error(dir / "huge.png",
                   "the header claims 17000x17000 = 289000000 pixels, more than the limit of 268435456 "
                   "(io::ImageLimits::max_pixels; the programs' --max-pixels)");

  std::string jpg = read_bytes(dir / "small.jpg");
  const auto sof = jpg.find("\xff\xc0");  // baseline start of frame: length, precision, height, width
  REQUIRE(sof != std::string::npos);
  put(jpg, sof + 5, 65500, 2, true);
  put(jpg, sof + 7, 65000, 2, true);
  write_bytes(dir / "huge.jpg", jpg);
  check_read_error(dir / "huge.jpg",
                   "the header claims 65000x65500 = 4257500000 pixels, more than the limit of 268435456");

  std::string bmp = read_bytes(dir / "small.bmp");
  put(bmp, 18, 1u << 20, 4, false);  // BITMAPINFOHEADER width, height (little-endian)
  put(bmp, 22, 1u << 20, 4, false);
  write_bytes(dir / "huge.bmp", bmp);
  check_read_error(dir / "huge.bmp", "the header claims 1048576x1048576 = 1099511627776 pixels, more than the limit");

  // 16384x16384 is within the default.
  put(png, 16, 16384, 4, true);
  put(png, 20, 16384, 4, true);
  write_bytes(dir / "16k.png", png);
  CHECK(ImageLimits::default_max_pixels >= std::int64_t{16384} * 16384);
  check_read_error(dir / "16k.png", "cannot decode the 16384x16384 PNG image: the file is corrupt or truncated");
}

TEST_CASE("the pixel limit is set per call or as the process's default") {
  TempDir dir;
  std::mt19937_64 rng(9);
  write_image(random_pixels({1, 3, 40, 30}, rng), dir / "x.png");
  CHECK(read_image<float>(dir / "x.png", {.max_pixels = 1200}).shape() == Shape4{1, 3, 40, 30});
  CHECK_THROWS_WITH_AS(read_image<float>(dir / "x.png", {.max_pixels = 1199}),
                       doctest::Contains("the header claims 30x40 = 1200 pixels, more than the limit of 1199"),
                       FileError);
  CHECK_THROWS_WITH_AS(read_image<float>(dir / "x.png", {.max_pixels = 0}),
                       doctest::Contains("max_pixels 0 must be at least 1"), ArgumentError);

  REQUIRE(default_image_limits().max_pixels == ImageLimits::default_max_pixels);
  set_default_image_limits({.max_pixels = 1000});
  CHECK(default_image_limits().max_pixels == 1000);
  CHECK_THROWS_WITH_AS(read_image<float>(dir / "x.png"), doctest::Contains("more than the limit of 1000"), FileError);
  CHECK_THROWS_WITH_AS(set_default_image_limits({.max_pixels = -5}),
                       doctest::Contains("max_pixels -5 must be at least 1"), ArgumentError);
  CHECK(default_image_limits().max_pixels == 1000);  // unchanged by the refused value
  set_default_image_limits({});
  CHECK(read_image<float>(dir / "x.png").shape() == Shape4{1, 3, 40, 30});
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
  const fs::path path = testing::shared_data("images/content/chicago.jpg", "to read the shared images");
  if (path.empty()) return;
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
