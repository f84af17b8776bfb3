#include "perceptual/io/safetensors.hpp"

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

using testing::read_bytes;
using testing::write_bytes;

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A file made of a given header text and `data_bytes` zero bytes of data.
void write_raw(const fs::path& p, const std::string& header, std::size_t data_bytes) {
  write_bytes(p, le64(header.size()) + header + std::string(data_bytes, '\0'));
}

// Opening (and reading every tensor of) the file throws FileError naming the path and `what`.
void check_file_error(const fs::path& p, const std::string& what) {
  INFO("file " << p.string() << ", expecting \"" << what << "\"");
  try {
    SafetensorsFile f(p);
    for (const auto& name : f.names()) (void)f.read<float>(name);
    FAIL("no error");
  } catch (const FileError& e) {
    const std::string message = e.what();
    INFO("message: " << message);
    CHECK(message.find(p.string()) != std::string::npos);
    CHECK(message.find(what) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("F32 and F64 tensors round-trip exactly, F16 and BF16 within their precision") {
  TempDir dir;
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(-10, 10);
  std::vector<double> values(2 * 3 * 4);
  for (auto& v : values) v = dist(rng);
  std::vector<float> floats(values.begin(), values.end());

  for (const Dtype dtype : {Dtype::f32, Dtype::f64, Dtype::f16, Dtype::bf16}) {
    INFO("dtype " << dtype_name(dtype));
    SafetensorsWriter writer;
    writer.add<double>("a.weight", {2, 3, 4}, values, dtype);
    writer.add<float>("b", {24}, floats, dtype);
    writer.write(dir / "t.safetensors");

    SafetensorsFile f(dir / "t.safetensors");
    CHECK(f.names() == std::vector<std::string>{"a.weight", "b"});
    CHECK(f.has("b"));
    CHECK_FALSE(f.has("c"));
    CHECK(f.shape("a.weight") == std::vector<std::int64_t>{2, 3, 4});
    CHECK(f.dtype("b") == dtype);
    CHECK(f.numel("a.weight") == 24);
    const auto a = f.read<double>("a.weight");
    const auto b = f.read<float>("b");
    REQUIRE(a.size() == 24);
    REQUIRE(b.size() == 24);
    const double tolerance = dtype == Dtype::f16 ? 0x1p-11 : dtype == Dtype::bf16 ? 0x1p-8 : 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (dtype == Dtype::f64) CHECK(a[i] == values[i]);
      if (dtype == Dtype::f32) CHECK(a[i] == static_cast<float>(values[i]));
      CHECK(std::abs(a[i] - values[i]) <= std::abs(values[i]) * tolerance + (dtype == Dtype::f64 ? 0 : 1e-6));
      CHECK(b[i] == static_cast<float>(a[i]));
    }
  }
}

TEST_CASE("the written file has the documented layout and hand-computed F16 and BF16 bytes") {
  TempDir dir;
  const std::vector<float> values{1.0f, -2.0f, 0.5f};
  SafetensorsWriter writer;
  writer.add<float>("h", {3}, values, Dtype::f16);
  writer.add<float>("b", {1, 3}, values, Dtype::bf16);
  writer.write(dir / "t.safetensors");
  const std::string bytes = read_bytes(dir / "t.safetensors");
  REQUIRE(bytes.size() >= 8);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  CHECK(n % 8 == 0);  // the data starts 8-byte aligned
  REQUIRE(bytes.size() == 8 + n + 12);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  CHECK(header["h"]["dtype"] == "F16");
  CHECK(header["h"]["data_offsets"] == nlohmann::json::array({0, 6}));
  CHECK(header["b"]["shape"] == nlohmann::json::array({1, 3}));
  const std::string data = bytes.substr(8 + n);
  CHECK(data == std::string("\x00\x3c\x00\xc0\x00\x38"
                            "\x80\x3f\x00\xc0\x00\x3f",
                            12));
  CHECK(SafetensorsFile(dir / "t.safetensors").read<float>("b") == values);
}

TEST_CASE("metadata round-trips, and a file without it has none") {
  TempDir dir;
  const std::vector<float> one{1};
  SafetensorsWriter writer;
  writer.add<float>("x", {1}, one).set_metadata("input_mean", "123.675,116.28,103.53").set_metadata("arch", "vgg16");
  writer.write(dir / "m.safetensors");
  const SafetensorsFile f(dir / "m.safetensors");
  CHECK(f.metadata().size() == 2);
  CHECK(f.metadata().at("input_mean") == "123.675,116.28,103.53");
  CHECK(f.metadata().at("arch") == "vgg16");

  save_safetensors<double>(dir / "plain.safetensors", {{"x", {{2}, {3.0, 4.0}}}});
  const SafetensorsFile plain(dir / "plain.safetensors");
  CHECK(plain.metadata().empty());
  CHECK(plain.read<double>("x") == std::vector<double>{3.0, 4.0});
}

TEST_CASE("scalars, empty tensors and integer dtypes are read") {
  TempDir dir;
  write_raw(dir / "s.safetensors",
            R"({"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
            R"("e":{"dtype":"F32","shape":[0,5],"data_offsets":[4,4]},)"
            R"("i":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}})",
            8);
  const SafetensorsFile f(dir / "s.safetensors");
  CHECK(f.read<float>("s") == std::vector<float>{0.0f});
  CHECK(f.read<float>("e").empty());
  CHECK(f.shape("e") == std::vector<std::int64_t>{0, 5});
  CHECK(f.read<double>("i") == std::vector<double>{0.0});
  CHECK(shape_string(f.shape("s")) == "scalar");
}

TEST_CASE("the writer refuses bad input") {
  SafetensorsWriter writer;
  const std::vector<float> v{1, 2, 3};
  CHECK_THROWS_AS(writer.add<float>("x", {2, 2}, v), ShapeError);
  CHECK_THROWS_AS(writer.add<float>("x", {-3}, v), ArgumentError);
  CHECK_THROWS_AS(writer.add<float>("__metadata__", {3}, v), ArgumentError);
  CHECK_THROWS_AS(writer.add<float>("x", {3}, v, Dtype::i32), ArgumentError);
  writer.add<float>("x", {3}, v);
  CHECK_THROWS_AS(writer.add<float>("x", {3}, v), ArgumentError);
  TempDir dir;
  CHECK_THROWS_AS(writer.write(dir / "no_such_dir" / "x.safetensors"), FileError);
}

TEST_CASE("each malformed file gives a FileError naming the path and the problem") {
  TempDir dir;
  const std::string valid = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  check_file_error(dir / "missing.safetensors", "no such file");
  check_file_error(dir.path, "not a regular file");
  write_bytes(dir / "empty.safetensors", "");
  check_file_error(dir / "empty.safetensors", "truncated");
  write_bytes(dir / "seven.safetensors", std::string("\x10\0\0\0\0\0\0", 7));
  check_file_error(dir / "seven.safetensors", "truncated");
  write_bytes(dir / "beyond.safetensors", le64(1000) + valid);
  check_file_error(dir / "beyond.safetensors", "runs past the end");
  write_bytes(dir / "huge.safetensors", le64(~0ull) + valid);
  check_file_error(dir / "huge.safetensors", "exceeds");
  write_raw(dir / "text.safetensors", "this is not json", 0);
  check_file_error(dir / "text.safetensors", "not valid JSON");
  write_raw(dir / "array.safetensors", "[1, 2]", 0);
  check_file_error(dir / "array.safetensors", "not a JSON object");
  write_raw(dir / "deep.safetensors", std::string(5000, '[') + std::string(5000, ']'), 0);
  check_file_error(dir / "deep.safetensors", "nested");
  write_raw(dir / "nodtype.safetensors", R"({"w":{"shape":[2],"data_offsets":[0,8]}})", 8);
  check_file_error(dir / "nodtype.safetensors", "\"w\": missing or non-string \"dtype\"");
  write_raw(dir / "noshape.safetensors", R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", 8);
  check_file_error(dir / "noshape.safetensors", "\"shape\"");
  write_raw(dir / "nooffsets.safetensors", R"({"w":{"dtype":"F32","shape":[2]}})", 8);
  check_file_error(dir / "nooffsets.safetensors", "data_offsets");
  write_raw(dir / "dtype.safetensors", R"({"w":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}})", 8);
  check_file_error(dir / "dtype.safetensors", "unknown dtype \"F17\"");
  write_raw(dir / "shape.safetensors", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8);
  check_file_error(dir / "shape.safetensors",
                   "tensor \"w\": data_offsets [0, 8] hold 8 bytes, but F32 3 needs 3 x 4 bytes = 12");
  write_raw(dir / "negative.safetensors", R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8);
  check_file_error(dir / "negative.safetensors", "non-negative");
  write_raw(dir / "float.safetensors", R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", 8);
  check_file_error(dir / "float.safetensors", "non-negative integer");
  write_raw(dir / "range.safetensors", valid, 4);
  check_file_error(dir / "range.safetensors",
                   "tensor \"w\": data_offsets [0, 8] run past the end of the data (4 bytes)");
  write_raw(dir / "far.safetensors",
            R"({"w":{"dtype":"U8","shape":[9223372036854775807],)"
            R"("data_offsets":[0,9223372036854775807]}})",
            8);
  check_file_error(dir / "far.safetensors",
                   "tensor \"w\": data_offsets [0, 9223372036854775807] run past the end of the data (8 bytes)");
  write_raw(dir / "reversed.safetensors", R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8);
  check_file_error(dir / "reversed.safetensors", "end before they begin");
  write_raw(dir / "overlap.safetensors",
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
            R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            12);
  check_file_error(dir / "overlap.safetensors", "overlap");
  write_raw(dir / "overflow.safetensors",
            R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0);
  check_file_error(dir / "overflow.safetensors",
                   "tensor \"w\": shape [4294967296,4294967296] has too many elements: their count passes "
                   "18446744073709551615, the 64-bit limit");
  write_raw(dir / "big.safetensors", R"({"w":{"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,0]}})", 0);
  check_file_error(dir / "big.safetensors", "non-negative integer");
  write_raw(dir / "bytes.safetensors", R"({"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}})",
            0);
  check_file_error(dir / "bytes.safetensors",
                   "tensor \"w\": F64 4611686018427387904 needs 4611686018427387904 x 8 bytes, more than "
                   "18446744073709551615, the 64-bit limit");
  write_raw(dir / "meta.safetensors", R"({"__metadata__":{"a":1}})", 0);
  check_file_error(dir / "meta.safetensors", "__metadata__ value for \"a\"");
  write_raw(dir / "bf8.safetensors", R"({"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", 2);
  check_file_error(dir / "bf8.safetensors", "cannot be converted");
}

TEST_CASE("a name the file lacks, and a file truncated after opening, give FileError") {
  TempDir dir;
  const std::vector<float> v(100, 1.0f);
  SafetensorsWriter().add<float>("w", {100}, v).write(dir / "t.safetensors");
  const SafetensorsFile f(dir / "t.safetensors");
  CHECK_THROWS_WITH_AS(f.read<float>("v"), doctest::Contains("no tensor named \"v\""), FileError);
  CHECK_THROWS_AS(f.shape("v"), FileError);
  fs::resize_file(dir / "t.safetensors", fs::file_size(dir / "t.safetensors") - 10);
  CHECK_THROWS_WITH_AS(f.read<float>("w"), doctest::Contains("\"w\""), FileError);
}

TEST_CASE("randomly corrupted files either load or throw perceptual::Error, never anything else") {
  TempDir dir;
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  auto below = [&](std::size_t n) { return n == 0 ? std::size_t{0} : static_cast<std::size_t>(rng() % n); };

  std::vector<float> w(2 * 3 * 3 * 3), b(2);
  for (auto& e : w) e = static_cast<float>(below(1000)) / 100;
  SafetensorsWriter()
      .add<float>("conv.weight", {2, 3, 3, 3}, w)
      .add<float>("conv.bias", {2}, b, Dtype::f16)
      .add<float>("norm.scale", {1, 2, 1, 1}, b, Dtype::bf16)
      .set_metadata("input_mean", "1,2,3")
      .write(dir / "valid.safetensors");
  const std::string valid = read_bytes(dir / "valid.safetensors");
  std::size_t header_end = 8;
  for (int k = 0; k < 8; ++k) header_end += static_cast<std::size_t>(static_cast<unsigned char>(valid[k])) << (8 * k);
  REQUIRE(header_end < valid.size());
  const std::vector<std::string> nasty{
      "{",
      "{}",
      "null",
      "\"str\"",
      R"({"x":{"dtype":"F32","shape":[18446744073709551615,2],"data_offsets":[0,8]}})",
      R"({"x":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}})",
      R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})",
      R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0]}})",
      R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})",
      R"({"x":{"dtype":"F32","shape":{},"data_offsets":[0,4]}})",
      R"({"x":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})",
      R"({"x":[1,2,3]})",
      R"({"__metadata__":[1]})",
      R"({"__metadata__":{"k":{"n":1}}})",
      R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551615,3]}})",
      R"({"x":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}})",
      R"({"\ud800":1})",
      "{\"\xff\xfe\":1}",
      std::string(200, '{'),
      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
      "\"\\\"[[[[[[",
  };

  int loaded = 0, rejected = 0;
  for (int i = 0; i < 600; ++i) {
    std::string m = valid;
    const int kind = i % 7;
    if (kind == 0) {  // truncate anywhere
      m.resize(below(m.size()));
    } else if (kind == 1) {  // flip bytes in the header text
      for (std::size_t k = 1 + below(4); k > 0; --k) m[8 + below(header_end - 8)] ^= static_cast<char>(1 + below(255));
    } else if (kind == 2) {  // flip bytes in the data: the file stays valid
      for (std::size_t k = 1 + below(4); k > 0; --k)
        m[header_end + below(m.size() - header_end)] ^= static_cast<char>(1 + below(255));
    } else if (kind == 3) {  // a random, huge or slightly wrong length prefix
      const std::uint64_t choices[] = {
          rng(), ~0ull, 1ull << 63, header_end - 8 + 1, header_end - 9, 0, static_cast<std::uint64_t>(m.size())};
      m.replace(0, 8, le64(choices[below(std::size(choices))]));
    } else if (kind == 4) {  // splice garbage JSON into the header, keeping the prefix consistent
      const std::string& junk = nasty[below(nasty.size())];
      const std::string header = m.substr(8, header_end - 8);
      const std::size_t at = below(header.size());
      const std::string spliced = below(2) ? junk : header.substr(0, at) + junk + header.substr(at);
      m = le64(spliced.size()) + spliced + m.substr(header_end);
    } else if (kind == 5) {  // insert or delete bytes inside the header
      const std::size_t at = 8 + below(header_end - 8);
      if (below(2))
        m.erase(at, 1 + below(8));
      else
        m.insert(at, std::string(1 + below(8), static_cast<char>(below(256))));
    } else {  // random bytes
      m.resize(below(400));
      for (auto& c : m) c = static_cast<char>(below(256));
    }
    write_bytes(dir / "m.safetensors", m);
    INFO("mutant " << i << " of kind " << kind << ", " << m.size() << " bytes");
    try {
      const SafetensorsFile f(dir / "m.safetensors");
      for (const auto& name : f.names()) {
        const auto values = f.read<float>(name);
        CHECK(values.size() == f.numel(name));
      }
      (void)f.metadata();
      ++loaded;
      if (kind == 2) CHECK(f.names().size() == 3);
    } catch (const Error& e) {
      ++rejected;
      CHECK(std::string(e.what()).find("m.safetensors") != std::string::npos);
      if (kind == 2) FAIL("a data-only corruption was rejected: " << e.what());
    }
  }
  MESSAGE(loaded << " mutants loaded, " << rejected << " rejected");
  CHECK(loaded >= 600 / 7);  // at least the data-only mutants
  CHECK(rejected >= 600 / 7);
}

TEST_CASE("the shared VGG-19 weights file opens with the expected tensors") {
  const fs::path path =
      testing::shared_data("weights/vgg19_conv1_1-conv3_4.safetensors", "to check the real VGG-19 weights");
  if (path.empty()) return;
  const SafetensorsFile f(path);
  CHECK(f.names().size() == 16);
  CHECK(f.names().front() == "conv1_1.weight");
  CHECK(f.shape("conv1_1.weight") == std::vector<std::int64_t>{64, 3, 3, 3});
  CHECK(f.shape("conv1_1.bias") == std::vector<std::int64_t>{64});
  CHECK(f.shape("conv2_1.weight") == std::vector<std::int64_t>{128, 64, 3, 3});
  CHECK(f.shape("conv3_4.weight") == std::vector<std::int64_t>{256, 256, 3, 3});
  CHECK(f.dtype("conv3_4.bias") == Dtype::f32);
  CHECK(f.metadata().at("input_mean") == "123.68,116.779,103.939");
  CHECK(f.metadata().at("input_std") == "1,1,1");
  const auto w = f.read<float>("conv1_1.weight");
  REQUIRE(w.size() == 64 * 3 * 3 * 3);
  double sum_abs = 0;
  for (float v : w) {
    REQUIRE(std::isfinite(v));
    sum_abs += std::abs(v);
  }
  CHECK(sum_abs > 1);  // real weights, not zeros
}
