// Writes the fuzzers' seed corpora: fuzz_make_corpus DIR writes DIR/<target>/<seed>. Tiny valid
// files of each kind the target reads, plus a few edge cases; fuzz/corpus/ holds its output.
#include <stb_image_write.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "checkpoint_net.hpp"
#include "perceptual/io/safetensors.hpp"

using namespace perceptual;
namespace fs = std::filesystem;

namespace {

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// A safetensors file from its header text and data bytes.
void write_safetensors(const fs::path& p, const std::string& header, const std::string& data) {
  write_bytes(p, le64(header.size()) + header + data);
}

std::uint32_t crc32(const std::string& bytes) {
  std::uint32_t c = 0xffffffffu;
  for (unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

std::string png_chunk(const std::string& type, const std::string& body) {
  return be32(static_cast<std::uint32_t>(body.size())) + type + body + be32(crc32(type + body));
}

// zlib data holding `raw` in one stored (uncompressed) deflate block.
std::string zlib_stored(const std::string& raw) {
  std::uint32_t a = 1, b = 0;
  for (unsigned char c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  const auto n = static_cast<std::uint16_t>(raw.size());
  std::string z = "\x78\x01\x01";
  z += {static_cast<char>(n & 0xff), static_cast<char>(n >> 8), static_cast<char>(~n & 0xff),
        static_cast<char>((~n >> 8) & 0xff)};
  return z + raw + be32((b << 16) | a);
}

// A PNG from its header fields and the filtered scanlines (with their filter bytes).
std::string png(std::uint32_t w, std::uint32_t h, int depth, int colour, int interlace, const std::string& raw,
                const std::string& extra_chunks = "") {
  const std::string ihdr = be32(w) + be32(h) + static_cast<char>(depth) + static_cast<char>(colour) + '\0' + '\0' +
                           static_cast<char>(interlace);
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + extra_chunks +
         png_chunk("IDAT", zlib_stored(raw)) + png_chunk("IEND", "");
}

void safetensors_seeds(const fs::path& dir) {
  const std::vector<float> six{0.5f, -1.0f, 2.0f, 3.25f, -0.0f, 1e-3f};
  io::SafetensorsWriter()
      .add<float>("w", {2, 3}, six)
      .add<float>("b", {3}, std::span<const float>(six).first(3), io::Dtype::f16)
      .add<float>("s", {1, 2, 1, 1}, std::span<const float>(six).first(2), io::Dtype::bf16)
      .add<float>("d", {1}, std::span<const float>(six).first(1), io::Dtype::f64)
      .set_metadata("input_mean", "123.68,116.779,103.939")
      .write(dir / "floats.safetensors");
  // Integer, boolean and 8-bit float dtypes, a scalar and an empty tensor.
  write_safetensors(
      dir / "dtypes.safetensors",
      R"({"i64":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
      R"("i32":{"dtype":"I32","shape":[1],"data_offsets":[8,12]},)"
      R"("u16":{"dtype":"U16","shape":[2],"data_offsets":[12,16]},)"
      R"("i8":{"dtype":"I8","shape":[2],"data_offsets":[16,18]},)"
      R"("bool":{"dtype":"BOOL","shape":[2],"data_offsets":[18,20]},)"
      R"("f8":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[20,21]},)"
      R"("scalar":{"dtype":"U8","shape":[],"data_offsets":[21,22]},)"
      R"("empty":{"dtype":"F32","shape":[0,3],"data_offsets":[22,22]}})",
      std::string("\xff\xff\xff\xff\xff\xff\xff\x7f\x01\x00\x00\x80\x01\x00\xff\xff\x80\x7f\x00\x01\x38\x07", 22));
  write_safetensors(dir / "empty_header.safetensors", "{}      ", "");
  write_safetensors(dir / "metadata_only.safetensors", R"({"__metadata__":{"format":"pt","k":""}})", "");
  // Header and data at their limits: a tensor that ends exactly at the end of the file.
  write_safetensors(dir / "exact_end.safetensors", R"({"x":{"dtype":"F16","shape":[1,1],"data_offsets":[0,2]}})",
                    std::string("\x00\x3c", 2));
}

void image_seeds(const fs::path& dir) {
  const auto f = [&](const char* name) { return (dir / name).string(); };
  std::array<std::uint8_t, 48> rgb{};
  for (std::size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<std::uint8_t>(i * 37 + 11);
  stbi_write_png(f("rgb.png").c_str(), 4, 3, 3, rgb.data(), 12);
  stbi_write_png(f("grey_alpha.png").c_str(), 2, 2, 2, rgb.data(), 4);
  stbi_write_png(f("rgba.png").c_str(), 2, 2, 4, rgb.data(), 8);
  stbi_write_jpg(f("rgb.jpg").c_str(), 4, 4, 3, rgb.data(), 90);
  stbi_write_jpg(f("grey.jpg").c_str(), 4, 4, 1, rgb.data(), 50);
  stbi_write_bmp(f("rgb.bmp").c_str(), 3, 2, 3, rgb.data());
  stbi_write_bmp(f("rgba.bmp").c_str(), 2, 2, 4, rgb.data());
  stbi_write_png(f("grey.png").c_str(), 3, 2, 1, rgb.data(), 3);
  // Variants stb_image_write does not write.
  write_bytes(dir / "rgb16.png",
              png(2, 1, 16, 2, 0, std::string("\0\x12\x34\0\0\xff\xff\x80\x00\x00\x01\xfe\xdc", 13)));
  write_bytes(dir / "palette.png",
              png(2, 2, 8, 3, 0, std::string("\0\x00\x01\0\x01\x00", 6),
                  png_chunk("PLTE", std::string("\xff\x00\x00\x00\x80\xff", 6)) + png_chunk("tRNS", "\x80")));
  write_bytes(dir / "interlaced.png",
              png(3, 3, 8, 0, 1, std::string("\0\x10\0\x20\0\x30\x40\0\x50\0\x60\0\x70\x80\x90", 15)));
  write_bytes(dir / "grey16.png", png(2, 2, 16, 0, 0, std::string("\0\x12\x34\xfe\xdc\2\0\x01\x80\0", 10)));
  // Another format, refused before decoding.
  write_bytes(dir / "pixel.gif",
              std::string("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00\x21\xf9\x04\x01\x00\x00\x00\x00"
                          "\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b",
                          43));
  // A header that claims more pixels than the fuzzer's limit (2048x2048 > 2^16), and one with no data.
  write_bytes(dir / "claims_large.png", png(2048, 2048, 8, 2, 0, std::string("\0\0\0\0", 4)));
  std::string no_data = png(1, 1, 8, 0, 0, std::string("\0\0", 2));
  write_bytes(dir / "header_only.png", no_data.substr(0, 8 + 25));
}

void checkpoint_seeds(const fs::path& dir) {
  const std::map<std::string, std::string> run{{"data", "images"}, {"batch_size", "2"}, {"seed", "0"}};
  train::TrainingState<fuzz::CheckpointNet> style(fuzz::style_kind, 1, 1e-3);
  style.save_checkpoint(dir / "style.ckpt.safetensors", run);
  train::TrainingState<fuzz::CheckpointNet> sr(fuzz::sr_kind, 2, 1e-3);
  auto settings = run;
  settings.insert(fuzz::sr_required.begin(), fuzz::sr_required.end());
  settings["value_range"] = "0,255";
  sr.save_checkpoint(dir / "sr.ckpt.safetensors", settings);
  sr.save_model(dir / "sr_model.safetensors", settings);  // a model, not a checkpoint
}

void model_metadata_seeds(const fs::path& dir) {
  const std::string one = R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  const std::string value("\x00\x00\x80\x3f", 4);
  write_safetensors(dir / "sr_x4_batch.safetensors",
                    R"({"__metadata__":{"architecture":"johnson-sr","factor":"4","norm":"batch",)"
                    R"("value_range":"0,255"},"conv1.norm.running_mean":)" +
                        one + "}",
                    value);
  write_safetensors(dir / "sr_x8_instance.safetensors",
                    R"({"__metadata__":{"architecture":"johnson-sr","factor":"8","norm":"instance"},)"
                    R"("deconv3.weight":)" +
                        one + "}",
                    value);
  write_safetensors(dir / "style.safetensors",
                    R"({"__metadata__":{"architecture":"johnson-style"},"conv1.norm.weight":)" + one + "}", value);
  write_safetensors(dir / "engstrom.safetensors",
                    R"({"__metadata__":{"arch":"engstrom-tf","format":"perceptual-transform-net"},)"
                    R"("conv1.norm.scale":)" +
                        one + "}",
                    value);
  write_safetensors(dir / "vgg19.safetensors",
                    R"({"__metadata__":{"architecture":"vgg19","input_mean":"123.68,116.779,103.939",)"
                    R"("input_std":"1,1,1"},"conv3_4.weight":)" +
                        one + "}",
                    value);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_corpus DIR (writes DIR/<target>/<seed files>)\n");
    return 2;
  }
  const fs::path root = argv[1];
  const std::map<std::string, void (*)(const fs::path&)> targets{{"safetensors", safetensors_seeds},
                                                                 {"image", image_seeds},
                                                                 {"checkpoint", checkpoint_seeds},
                                                                 {"model_metadata", model_metadata_seeds}};
  for (const auto& [name, write] : targets) {
    fs::create_directories(root / name);
    write(root / name);
  }
  return 0;
}
