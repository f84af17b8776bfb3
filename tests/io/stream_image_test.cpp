// ImageRowReader and ImageRowWriter (include/perceptual/io/stream_image.hpp): rows equal
// read_image's and write_image's exactly (JPEG: within a few levels), for every PNG colour type;
// corrupt, truncated and missing files are FileErrors naming the path; a write is atomic.
#include "perceptual/io/stream_image.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "support/file_bytes.hpp"
#include "support/file_size_limit.hpp"
#include "support/random.hpp"
#include "support/shared_data.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;
using namespace perceptual::io;
namespace fs = std::filesystem;

namespace {

using testing::TempDir;

using testing::read_bytes;
using testing::write_bytes;

std::vector<unsigned char> random_bytes(std::size_t n, std::mt19937_64& rng) {
  std::vector<unsigned char> v(n);
  for (auto& e : v) e = static_cast<unsigned char>(rng());
  return v;
}

// All rows of `path` through ImageRowReader, as read_image lays them out (planar, CxHxW).
std::vector<float> read_rows(ImageRowReader& reader) {
  const auto w = static_cast<std::size_t>(reader.width()), h = static_cast<std::size_t>(reader.height());
  std::vector<float> image(3 * w * h), row(3 * w);
  for (std::size_t y = 0; y < h; ++y) {
    reader.read_row(row.data());
    for (std::size_t c = 0; c < 3; ++c) std::copy_n(row.data() + c * w, w, image.data() + (c * h + y) * w);
  }
  return image;
}

// The message of the FileError that opening `path` and reading all its rows throws, or "".
std::string read_error(const fs::path& path) {
  try {
    ImageRowReader reader(path);
    (void)read_rows(reader);
  } catch (const FileError& e) {
    return e.what();
  }
  return "";
}

void check_read_error(const fs::path& path, const std::string& what) {
  const std::string message = read_error(path);
  INFO("file " << path.string() << ", message: " << message);
  CHECK(message.find("ImageRowReader " + path.string() + ": ") == 0);
  CHECK(message.find(what) != std::string::npos);
}

// A PNG written by libpng itself (stb_image_write writes no 16-bit, palette or interlaced PNGs):
// `samples` holds `h` rows of packed samples as libpng takes them (16 bits big-endian).
void libpng_write(const fs::path& path, int w, int h, int depth, int colour, const std::vector<unsigned char>& samples,
                  bool interlaced = false, const std::vector<png_color>& palette = {},
                  const std::vector<unsigned char>& transparency = {}, const png_color_16* transparent = nullptr) {
  io::detail::PngCodec codec(true);
  std::FILE* file = std::fopen(path.c_str(), "wb");
  REQUIRE(file);
  const std::size_t row_bytes = samples.size() / static_cast<std::size_t>(h);
  const bool ok = io::detail::png_call(codec, [&] {
    png_structp p = codec.png;
    png_init_io(p, file);
    png_set_IHDR(p, codec.info, static_cast<png_uint_32>(w), static_cast<png_uint_32>(h), depth, colour,
                 interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (!palette.empty()) png_set_PLTE(p, codec.info, palette.data(), static_cast<int>(palette.size()));
    if (!transparency.empty() || transparent)
      png_set_tRNS(p, codec.info, transparency.empty() ? nullptr : transparency.data(),
                   static_cast<int>(transparency.size()), transparent);
    png_write_info(p, codec.info);
    const int passes = png_set_interlace_handling(p);
    for (int pass = 0; pass < passes; ++pass)
      for (int y = 0; y < h; ++y) png_write_row(p, samples.data() + static_cast<std::size_t>(y) * row_bytes);
    png_write_end(p, codec.info);
  });
  std::fclose(file);
  REQUIRE_MESSAGE(ok, codec.message);
}

// A JPEG written by libjpeg itself, for what stb_image_write does not write: grey (1 component),
// CMYK (4) and progressive files. `samples` holds w x h pixels of `components` bytes.
void libjpeg_write(const fs::path& path, int w, int h, int components, bool progressive,
                   const std::vector<unsigned char>& samples) {
  io::detail::JpegWriteCodec codec;
  codec.fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
  REQUIRE(codec.fd >= 0);
  const bool ok = io::detail::jpeg_call(codec.errors, [&] {
    jpeg_compress_struct* c = &codec.cinfo;
    jpeg_create_compress(c);
    codec.created = true;
    c->dest = &codec.destination;
    c->image_width = static_cast<JDIMENSION>(w);
    c->image_height = static_cast<JDIMENSION>(h);
    c->input_components = components;
    c->in_color_space = components == 1 ? JCS_GRAYSCALE : components == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(c);
    jpeg_set_quality(c, 90, TRUE);
    if (progressive) jpeg_simple_progression(c);
    jpeg_start_compress(c, TRUE);
    for (int y = 0; y < h; ++y) {
      JSAMPROW row[1] = {const_cast<unsigned char*>(samples.data()) + static_cast<std::size_t>(y) * w * components};
      jpeg_write_scanlines(c, row, 1);
    }
    jpeg_finish_compress(c);
  });
  ::close(codec.fd);
  REQUIRE_MESSAGE(ok, codec.errors.message);
}

// Smooth colours with some noise: the content JPEG is made for.
std::vector<unsigned char> photo(int w, int h, int components, std::mt19937_64& rng) {
  std::vector<unsigned char> v(static_cast<std::size_t>(w) * h * components);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < components; ++c)
        v[(static_cast<std::size_t>(y) * w + x) * components + c] =
            static_cast<unsigned char>(std::clamp(40 + 2 * x + y * (c + 1) + static_cast<int>(rng() % 9), 0, 255));
  return v;
}

// Mean and largest absolute difference.
std::pair<double, double> difference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double sum = 0, most = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(static_cast<double>(a[i]) - b[i]);
    sum += d;
    most = std::max(most, d);
  }
  return {sum / static_cast<double>(a.size()), most};
}

// Reads `path` by rows and whole: equal bit for bit, and streamed (or not) as said.
void check_rows_equal_read_image(const fs::path& path, bool streamed) {
  INFO("file " << path.filename().string());
  ImageRowReader reader(path);
  CHECK(reader.format() == "PNG");
  CHECK(reader.streamed() == streamed);
  const auto whole = read_image<float>(path);
  REQUIRE(reader.width() == whole.w());
  REQUIRE(reader.height() == whole.h());
  CHECK(read_rows(reader) == whole.to_host());
  CHECK(reader.rows_read() == reader.height());
}

}  // namespace

TEST_CASE("PNG rows of every colour type equal read_image's bit for bit") {
  TempDir dir;
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  const int w = 13, h = 7;
  const auto n = static_cast<std::size_t>(w * h);
  for (int channels = 1; channels <= 4; ++channels) {  // grey, grey+alpha, RGB, RGBA: stb_image_write
    const fs::path path = dir / ("stb" + std::to_string(channels) + ".png");
    REQUIRE(stbi_write_png(path.c_str(), w, h, channels, random_bytes(n * channels, rng).data(), w * channels));
    check_rows_equal_read_image(path, true);
  }
  libpng_write(dir / "rgb16.png", w, h, 16, PNG_COLOR_TYPE_RGB, random_bytes(n * 6, rng));
  check_rows_equal_read_image(dir / "rgb16.png", true);
  libpng_write(dir / "grey16.png", w, h, 16, PNG_COLOR_TYPE_GRAY, random_bytes(n * 2, rng));
  check_rows_equal_read_image(dir / "grey16.png", true);
  libpng_write(dir / "rgba16.png", w, h, 16, PNG_COLOR_TYPE_RGB_ALPHA, random_bytes(n * 8, rng));
  check_rows_equal_read_image(dir / "rgba16.png", true);
  libpng_write(dir / "grey_alpha16.png", w, h, 16, PNG_COLOR_TYPE_GRAY_ALPHA, random_bytes(n * 4, rng));
  check_rows_equal_read_image(dir / "grey_alpha16.png", true);
  for (const int depth : {1, 2, 4}) {  // grey under 8 bits: scaled to 0..255 as stb does
    const fs::path path = dir / ("grey" + std::to_string(depth) + ".png");
    libpng_write(path, w, h, depth, PNG_COLOR_TYPE_GRAY, random_bytes(static_cast<std::size_t>(h) * 7, rng));
    check_rows_equal_read_image(path, true);
  }
  // A transparent colour (tRNS) in an RGB and a grey file: stb_image makes it alpha, then drops it.
  const png_color_16 transparent{0, 10, 20, 30, 40};
  libpng_write(dir / "rgb_trns.png", w, h, 8, PNG_COLOR_TYPE_RGB, random_bytes(n * 3, rng), false, {}, {},
               &transparent);
  check_rows_equal_read_image(dir / "rgb_trns.png", true);
  libpng_write(dir / "grey_trns.png", w, h, 8, PNG_COLOR_TYPE_GRAY, random_bytes(n, rng), false, {}, {}, &transparent);
  check_rows_equal_read_image(dir / "grey_trns.png", true);
  std::vector<png_color> palette(256);
  for (auto& p : palette)
    p = {static_cast<png_byte>(rng()), static_cast<png_byte>(rng()), static_cast<png_byte>(rng())};
  libpng_write(dir / "palette.png", w, h, 8, PNG_COLOR_TYPE_PALETTE, random_bytes(n, rng), false, palette);
  check_rows_equal_read_image(dir / "palette.png", true);
  // Transparent palette entries (tRNS): the colour stays, the alpha goes, as in read_image.
  libpng_write(dir / "palette_trns.png", w, h, 8, PNG_COLOR_TYPE_PALETTE, random_bytes(n, rng), false, palette,
               random_bytes(100, rng));
  check_rows_equal_read_image(dir / "palette_trns.png", true);
  palette.resize(16);
  libpng_write(dir / "palette4.png", w, h, 4, PNG_COLOR_TYPE_PALETTE,
               random_bytes(static_cast<std::size_t>(h) * 7, rng), false, palette);
  check_rows_equal_read_image(dir / "palette4.png", true);
}

TEST_CASE("an interlaced PNG and a BMP are decoded whole and handed out by rows equal to read_image's") {
  TempDir dir;
  std::mt19937_64 rng(21);
  libpng_write(dir / "interlaced.png", 11, 9, 8, PNG_COLOR_TYPE_RGB, random_bytes(11 * 9 * 3, rng), true);
  check_rows_equal_read_image(dir / "interlaced.png", false);
  libpng_write(dir / "interlaced16.png", 11, 9, 16, PNG_COLOR_TYPE_GRAY, random_bytes(11 * 9 * 2, rng), true);
  check_rows_equal_read_image(dir / "interlaced16.png", false);
  REQUIRE(stbi_write_bmp((dir / "x.bmp").c_str(), 6, 5, 3, random_bytes(6 * 5 * 3, rng).data()));
  ImageRowReader bmp(dir / "x.bmp");
  CHECK(bmp.format() == "BMP");
  CHECK_FALSE(bmp.streamed());
  CHECK(read_rows(bmp) == read_image<float>(dir / "x.bmp").to_host());
  CHECK(bmp.streamed() == false);  // still, after the last row
}

TEST_CASE("a tall narrow PNG streams row by row, and reading past the last row is an ArgumentError") {
  TempDir dir;
  const int w = 5, h = 40000;
  std::vector<unsigned char> rgb(static_cast<std::size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        rgb[(static_cast<std::size_t>(y) * w + x) * 3 + c] = static_cast<unsigned char>(y * 7 + x + c * 50);
  REQUIRE(stbi_write_png((dir / "tall.png").c_str(), w, h, 3, rgb.data(), w * 3));
  ImageRowReader reader(dir / "tall.png");
  REQUIRE(reader.width() == w);
  REQUIRE(reader.height() == h);
  CHECK(reader.streamed());
  std::vector<float> row(3 * w);
  bool all_equal = true;
  for (int y = 0; y < h; ++y) {
    reader.read_row(row.data());
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) all_equal &= row[c * w + x] == rgb[(static_cast<std::size_t>(y) * w + x) * 3 + c];
  }
  CHECK(all_equal);
  CHECK(reader.rows_read() == h);
  CHECK_THROWS_WITH_AS(reader.read_row(row.data()), doctest::Contains("all 40000 rows were read"), ArgumentError);
}

TEST_CASE("JPEG rows are within a few levels of read_image's (libjpeg-turbo against stb_image)") {
  TempDir dir;
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  const int w = 61, h = 43;  // not multiples of the 8 or 16 pixel blocks
  const auto pixels = photo(w, h, 3, rng);
  std::vector<float> planar(3 * static_cast<std::size_t>(w) * h);
  for (std::size_t i = 0; i < static_cast<std::size_t>(w) * h; ++i)
    for (std::size_t c = 0; c < 3; ++c) planar[c * w * h + i] = pixels[3 * i + c];
  const auto image = Tensor<float, Cpu>::from_host({1, 3, h, w}, planar);
  write_image(image, dir / "q95.jpg");       // 4:4:4
  write_image(image, dir / "q75.jpeg", 75);  // 4:2:0
  libjpeg_write(dir / "grey.jpg", w, h, 1, false, photo(w, h, 1, rng));
  libjpeg_write(dir / "progressive.jpg", w, h, 3, true, pixels);
  for (const char* name : {"q95.jpg", "q75.jpeg", "grey.jpg", "progressive.jpg"}) {
    INFO(name);
    ImageRowReader reader(dir / name);
    CHECK(reader.format() == "JPEG");
    CHECK(reader.streamed());
    const auto [mean, most] = difference(read_rows(reader), read_image<float>(dir / name).to_host());
    INFO("mean " << mean << ", most " << most);
    CHECK(mean < 0.5);  // measured: up to 0.19 (4:2:0), 0.02 (4:4:4)
    CHECK(most <= 5);   // measured: up to 3
  }
  // CMYK, which libjpeg does not make RGB: decoded whole by read_image.
  libjpeg_write(dir / "cmyk.jpg", w, h, 4, false, photo(w, h, 4, rng));
  ImageRowReader cmyk(dir / "cmyk.jpg");
  CHECK_FALSE(cmyk.streamed());
  CHECK(read_rows(cmyk) == read_image<float>(dir / "cmyk.jpg").to_host());
}

TEST_CASE("missing, empty, random, corrupt and truncated files are FileErrors naming the path") {
  TempDir dir;
  check_read_error(dir / "absent.png", "no such file");
  check_read_error(dir.path, "not a regular file");
  write_bytes(dir / "empty.png", "");
  check_read_error(dir / "empty.png", "cannot decode: not a JPEG, PNG or BMP file (it is empty)");
  std::mt19937_64 rng(23);
  auto noise = random_bytes(4096, rng);
  noise[0] = 0x42;  // not a JPEG, PNG or BMP signature
  write_bytes(dir / "random.png", std::string(noise.begin(), noise.end()));
  check_read_error(dir / "random.png", "cannot decode: not a JPEG, PNG or BMP file (it starts with bytes 42 ");
  write_bytes(dir / "signed.png", std::string("\x89PNG\r\n\x1a\n", 8) + std::string(noise.begin(), noise.end()));
  check_read_error(dir / "signed.png", "cannot decode: the PNG header is corrupt or truncated (libpng: \"");
  write_bytes(dir / "signed.jpg", std::string("\xff\xd8\xff", 3) + std::string(noise.begin(), noise.end()));
  check_read_error(dir / "signed.jpg", "(libjpeg: \"");

  // A PNG cut short anywhere: in the signature, the header, the pixels, or before IEND.
  REQUIRE(stbi_write_png((dir / "full.png").c_str(), 40, 30, 3, random_bytes(40 * 30 * 3, rng).data(), 40 * 3));
  const std::string png = read_bytes(dir / "full.png");
  for (const std::size_t length : {std::size_t{5}, std::size_t{8}, std::size_t{20}, std::size_t{33}, std::size_t{60},
                                   png.size() / 2, png.size() - 13, png.size() - 1}) {
    const fs::path cut = dir / ("cut" + std::to_string(length) + ".png");
    write_bytes(cut, png.substr(0, length));
    check_read_error(cut, "cannot decode");
  }
  // A flipped byte in the pixels' chunk: libpng checks its CRC.
  std::string flipped = png;
  flipped[png.size() / 2] = static_cast<char>(flipped[png.size() / 2] ^ 0x10);
  write_bytes(dir / "flipped.png", flipped);
  check_read_error(dir / "flipped.png", "the file is corrupt or truncated (libpng: \"");

  // A JPEG cut short: libjpeg would go on with grey, which the reader refuses.
  std::vector<float> v(3 * 40 * 48);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(rng() % 256);
  write_image(Tensor<float, Cpu>::from_host({1, 3, 40, 48}, v), dir / "full.jpg");
  const std::string jpg = read_bytes(dir / "full.jpg");
  for (const std::size_t length : {std::size_t{2}, std::size_t{100}, jpg.size() / 2, jpg.size() - 2}) {
    const fs::path cut = dir / ("cut" + std::to_string(length) + ".jpg");
    write_bytes(cut, jpg.substr(0, length));
    check_read_error(cut, "cannot decode");
  }
  write_bytes(dir / "half.jpg", jpg.substr(0, jpg.size() / 2));
  check_read_error(dir / "half.jpg", "the file is corrupt or truncated (libjpeg: \"Premature end of JPEG file\")");
  // A progressive JPEG is decoded into coefficients whole at the start: cut, it fails there.
  libjpeg_write(dir / "progressive.jpg", 48, 40, 3, true, random_bytes(48 * 40 * 3, rng));
  const std::string progressive = read_bytes(dir / "progressive.jpg");
  write_bytes(dir / "progressive_cut.jpg", progressive.substr(0, progressive.size() / 2));
  check_read_error(dir / "progressive_cut.jpg",
                   "cannot decode the 48x40 JPEG image: the file is corrupt or truncated (libjpeg: \"Premature end of "
                   "JPEG file\")");

  // A failed row stays failed: the next read says so again instead of decoding garbage.
  ImageRowReader reader(dir / "half.jpg");
  std::vector<float> row(3 * 48);
  std::string first;
  for (int y = 0; y < 40 && first.empty(); ++y) try {
      reader.read_row(row.data());
    } catch (const FileError& e) {
      first = e.what();
    }
  REQUIRE_FALSE(first.empty());
  CHECK_THROWS_WITH_AS(reader.read_row(row.data()), first.c_str(), FileError);
}

TEST_CASE("an image whose header claims more pixels than the limit is refused before decoding") {
  TempDir dir;
  std::mt19937_64 rng(29);
  REQUIRE(stbi_write_png((dir / "x.png").c_str(), 30, 40, 3, random_bytes(30 * 40 * 3, rng).data(), 30 * 3));
  write_image(read_image<float>(dir / "x.png"), dir / "x.jpg");
  REQUIRE(stbi_write_bmp((dir / "x.bmp").c_str(), 30, 40, 3, random_bytes(30 * 40 * 3, rng).data()));
  for (const char* name : {"x.png", "x.jpg", "x.bmp"}) {
    const fs::path path = dir / name;
    CHECK(ImageRowReader(path, {.max_pixels = 1200}).height() == 40);
    CHECK_THROWS_WITH_AS(ImageRowReader(path, {.max_pixels = 1199}),
                         doctest::Contains(("ImageRowReader " + path.string() +
                                            ": the header claims 30x40 = 1200 pixels, more than the limit of 1199")
                                               .c_str()),
                         FileError);
    CHECK_THROWS_WITH_AS(ImageRowReader(path, {.max_pixels = 0}), doctest::Contains("max_pixels 0 must be at least 1"),
                         ArgumentError);
  }
}

TEST_CASE("ImageRowWriter's PNG decodes exactly as write_image's, and reads back by rows") {
  TempDir dir;
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  const int w = 17, h = 9;
  std::vector<float> v(3 * w * h);
  for (auto& e : v) e = static_cast<float>(static_cast<int>(rng() % 3000) - 1000) / 7.0f;  // past 0..255, fractions
  v[0] = NAN;
  v[1] = 254.5f;
  v[2] = -0.4f;
  const auto image = Tensor<float, Cpu>::from_host({1, 3, h, w}, v);
  write_image(image, dir / "whole.png");
  {
    ImageRowWriter writer(dir / "rows.png", w, h);
    std::vector<float> row(3 * w);
    for (int y = 0; y < h; ++y) {
      for (int c = 0; c < 3; ++c) std::copy_n(v.data() + (c * h + y) * w, w, row.data() + c * w);
      writer.write_row(row.data());
    }
    CHECK(writer.rows_written() == h);
    writer.finish();
  }
  const auto expected = read_image<float>(dir / "whole.png").to_host();
  CHECK(read_image<float>(dir / "rows.png").to_host() == expected);
  ImageRowReader reader(dir / "rows.png");
  CHECK(read_rows(reader) == expected);
}

TEST_CASE("ImageRowWriter's JPEG is close to write_image's") {
  TempDir dir;
  std::mt19937_64 rng(31);
  const int w = 50, h = 37;
  const auto pixels = photo(w, h, 3, rng);
  std::vector<float> v(3 * static_cast<std::size_t>(w) * h);
  for (std::size_t i = 0; i < static_cast<std::size_t>(w) * h; ++i)
    for (std::size_t c = 0; c < 3; ++c) v[c * w * h + i] = pixels[3 * i + c];
  for (const int quality : {95, 60}) {
    INFO("quality " << quality);
    write_image(Tensor<float, Cpu>::from_host({1, 3, h, w}, v), dir / "whole.jpg", quality);
    ImageRowWriter writer(dir / "rows.jpg", w, h, quality);
    std::vector<float> row(3 * w);
    for (int y = 0; y < h; ++y) {
      for (int c = 0; c < 3; ++c)
        std::copy_n(v.data() + (static_cast<std::size_t>(c) * h + y) * w, w, row.data() + c * w);
      writer.write_row(row.data());
    }
    writer.finish();
    // libjpeg-turbo's and stb_image_write's encoders differ (their DCTs, colour conversion and
    // rounding): each file is as far from the pixels as the other, and the two differ by little.
    const auto rows = read_image<float>(dir / "rows.jpg").to_host();
    const auto whole = read_image<float>(dir / "whole.jpg").to_host();
    const auto [mean, most] = difference(rows, whole);
    INFO("mean " << mean << ", most " << most);
    CHECK(mean < 1.0);  // measured: 0.81 at quality 95, 0.26 at 60
    CHECK(most <= 10);  // measured: 6 and 5 (9 on sharper content)
    CHECK(difference(rows, v).first <= difference(whole, v).first + 0.1);
  }
}

TEST_CASE("ImageRowWriter writes through a partial file: unfinished, the target is untouched") {
  TempDir dir;
  const fs::path path = dir / "out.png";
  write_bytes(path, "the previous file");
  const std::vector<float> row(3 * 4, 100.0f);
  {
    ImageRowWriter writer(path, 4, 3);
    writer.write_row(row.data());
    CHECK(fs::exists(partial_path(path)));
    CHECK_THROWS_WITH_AS(writer.finish(), doctest::Contains("finish() after 1 of 3 rows"), Error);
    writer.write_row(row.data());
  }  // abandoned after 2 rows
  CHECK_FALSE(fs::exists(partial_path(path)));
  CHECK(read_bytes(path) == "the previous file");

  ImageRowWriter writer(path, 4, 3);
  for (int y = 0; y < 3; ++y) writer.write_row(row.data());
  CHECK_THROWS_WITH_AS(writer.write_row(row.data()), doctest::Contains("all 3 rows were written"), ArgumentError);
  CHECK(read_bytes(path) == "the previous file");
  ImageRowWriter moved = std::move(writer);  // the partial file goes with it
  moved.finish();
  moved.finish();  // a second call does nothing
  CHECK_FALSE(fs::exists(partial_path(path)));
  CHECK(read_image<float>(path).to_host() == std::vector<float>(3 * 4 * 3, 100.0f));
}

TEST_CASE("ImageRowWriter rejects bad sizes, extensions, qualities and paths") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(ImageRowWriter(dir / "x.bmp", 4, 4), doctest::Contains("unknown extension \".bmp\""),
                       ArgumentError);
  CHECK_THROWS_AS(ImageRowWriter(dir / "noextension", 4, 4), ArgumentError);
  CHECK_THROWS_WITH_AS(ImageRowWriter(dir / "x.png", 0, 4), doctest::Contains("size 0x4"), ArgumentError);
  CHECK_THROWS_AS(ImageRowWriter(dir / "x.png", 4, -1), ArgumentError);
  CHECK_THROWS_WITH_AS(ImageRowWriter(dir / "x.jpg", 4, 4, 0), doctest::Contains("JPEG quality 0"), ArgumentError);
  CHECK_THROWS_AS(ImageRowWriter(dir / "x.jpeg", 4, 4, 101), ArgumentError);
  CHECK_THROWS_WITH_AS(ImageRowWriter(dir / "x.jpg", 70000, 4), doctest::Contains("at most 65500 pixels a side"),
                       ArgumentError);
  const fs::path nowhere = dir / "no_such_dir" / "x.png";
  CHECK_THROWS_WITH_AS(ImageRowWriter(nowhere, 4, 4),
                       doctest::Contains(("ImageRowWriter " + nowhere.string() + ": directory").c_str()), FileError);
  fs::create_directories(dir / "dir.png");
  CHECK_THROWS_AS(ImageRowWriter(dir / "dir.png", 4, 4), FileError);
  CHECK(fs::is_empty(dir / "dir.png"));
  CHECK_FALSE(fs::exists(dir / "x.png"));
  CHECK_FALSE(fs::exists(dir / "x.png.partial"));
}

TEST_CASE("a full disk is a FileError naming the file and the reason; the partial file goes, the target stays") {
  TempDir dir;
  std::mt19937_64 rng(37);
  for (const char* name : {"out.png", "out.jpg"}) {
    const fs::path path = dir / name;
    write_bytes(path, "the previous file");
    const int w = 256, h = 64;
    std::string message;
    {
      const testing::FileSizeLimit full(8 << 10);  // 8 KiB may be written, then EFBIG
      try {
        ImageRowWriter writer(path, w, h, 100);
        std::vector<float> row(3 * w);
        for (int y = 0; y < h; ++y) {
          for (auto& e : row) e = static_cast<float>(rng() % 256);  // noise: does not compress
          writer.write_row(row.data());
        }
        writer.finish();
      } catch (const FileError& e) {
        message = e.what();
      }
    }
    INFO(message);
    CHECK(message.find("ImageRowWriter " + path.string() + ": ") == 0);
    CHECK(message.find("write " + std::string(name) + ".partial: File too large") != std::string::npos);
    CHECK_FALSE(fs::exists(partial_path(path)));
    CHECK(read_bytes(path) == "the previous file");
  }
}

TEST_CASE("real photographs stream as read_image reads them: the PNG exactly, the JPEG within a few levels") {
  // On all 20 shared content and style JPEGs: mean differences 0.008 to 0.19, at most 4 levels.
  const fs::path jpeg = testing::shared_data("images/content/chicago.jpg", "to stream a real photograph");
  if (jpeg.empty()) return;
  ImageRowReader reader(jpeg);
  CHECK(reader.format() == "JPEG");
  const auto [mean, most] = difference(read_rows(reader), read_image<float>(jpeg).to_host());
  INFO("mean " << mean << ", most " << most);
  CHECK(mean < 0.5);                                                                              // measured: 0.06
  CHECK(most <= 5);                                                                               // measured: 3
  const fs::path png = testing::shared_data("images/content/amber.jpg", "to stream a real PNG");  // a PNG, named .jpg
  if (png.empty()) return;
  check_rows_equal_read_image(png, true);
}
