#pragma once
// Image files to and from 1x3xHxW RGB tensors with values in [0, 255], through stb_image (JPEG,
// PNG and BMP; grey and alpha images become RGB) and stb_image_write (PNG or JPEG by extension).
// Reading checks the format from the file's first bytes and the size its header claims against
// ImageLimits before anything is decoded.
#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/host.hpp"
#include "perceptual/core/tensor.hpp"

namespace perceptual::io {

// What read_image accepts, checked from the file's header before stb_image allocates the pixels: a
// few bytes of a file can claim an image of gigabytes.
struct ImageLimits {
  // 2^28 pixels: room for 16384x16384 (768 MiB as 8-bit RGB, 3 GiB as a float tensor).
  static constexpr std::int64_t default_max_pixels = std::int64_t{1} << 28;
  std::int64_t max_pixels = default_max_pixels;  // width x height
};

namespace detail {

inline std::atomic<std::int64_t>& default_max_pixels() {
  static std::atomic<std::int64_t> value{ImageLimits::default_max_pixels};
  return value;
}

// stb_image's reason for its last failure (in this thread); some paths leave none, or an empty one,
// and some quote the file's bytes ("4\xe8\x01 PNG chunk not known"), shown by printable() as \xNN.
inline std::string printable(const std::string& text) {
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02x", c);
    out += c >= 0x20 && c < 0x7f ? std::string(1, ch) : std::string(hex);
  }
  return out;
}

inline std::string stb_reason() {
  const char* reason = stbi_failure_reason();
  return reason && *reason ? printable(reason) : "no reason given";
}

// "JPEG", "PNG" or "BMP" from a file's first bytes, else "". stb_image decodes more formats, but
// they are not this library's (the programs take .jpg, .png and .bmp) and Debian's stb_image 2.27
// has memory errors in some of their decoders (fuzz/image_fuzzer found one in 16-bit PNM at once;
// published reports cover GIF, TGA and PSD). stb's STBI_ONLY_JPEG/PNG/BMP would leave them out,
// but Debian's libstb is built with all, so they are refused here.
inline const char* image_format(const unsigned char* head, std::size_t n) {
  if (n >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff) return "JPEG";
  if (n >= 8 && std::memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0) return "PNG";
  if (n >= 2 && head[0] == 'B' && head[1] == 'M') return "BMP";
  return "";
}

// A file's bytes as stb_image reads them: 0 past the end.
class ByteReader {
 public:
  explicit ByteReader(std::FILE* file) : file_(file), buffer_(1 << 16) {}
  bool at_end() { return at_ == size_ && !fill(); }
  std::uint64_t position() const { return start_ + at_; }
  int get8() { return at_end() ? 0 : buffer_[at_++]; }
  int get16be() {
    const int high = get8();
    return (high << 8) | get8();
  }
  std::uint32_t get32be() {
    const auto high = static_cast<std::uint32_t>(get16be());
    return (high << 16) | static_cast<std::uint32_t>(get16be());
  }
  // Moves past the next `byte`; false when there is none.
  bool skip_past(unsigned char byte) {
    while (!at_end()) {
      const void* found = std::memchr(buffer_.data() + at_, byte, size_ - at_);
      if (found) {
        at_ = static_cast<std::size_t>(static_cast<const unsigned char*>(found) - buffer_.data()) + 1;
        return true;
      }
      at_ = size_;
    }
    return false;
  }
  void skip(std::int64_t n) {
    if (n <= 0) return;
    if (static_cast<std::uint64_t>(n) <= size_ - at_) {
      at_ += static_cast<std::size_t>(n);
      return;
    }
    const std::uint64_t target = position() + static_cast<std::uint64_t>(n);  // past the buffer: seek
    start_ = target;
    at_ = size_ = 0;
    if (target > static_cast<std::uint64_t>(std::numeric_limits<long>::max()) ||
        std::fseek(file_, static_cast<long>(target), SEEK_SET) != 0)
      std::fseek(file_, 0, SEEK_END);
  }

 private:
  bool fill() {
    start_ += size_;
    size_ = std::fread(buffer_.data(), 1, buffer_.size(), file_);
    at_ = 0;
    return size_ > 0;
  }
  std::FILE* file_;
  std::vector<unsigned char> buffer_;
  std::uint64_t start_ = 0;  // the file offset of buffer_[0]
  std::size_t at_ = 0, size_ = 0;
};

// The first PNG chunk whose claimed length runs past the end of the file, as "the IDAT chunk claims
// 1355808781 bytes, but 12 remain in the file", or "": stb_image 2.27 allocates an IDAT chunk's
// claimed length (up to 2 GiB) before reading it (fuzz/image_fuzzer found it), and no valid file
// makes such a claim. Walks the chunks from after the signature to IEND.
inline std::string png_chunk_past_end(std::FILE* file, std::uint64_t file_size) {
  ByteReader in(file);
  in.skip(8);
  while (!in.at_end()) {
    const std::uint32_t length = in.get32be();
    std::string type;
    for (int i = 0; i < 4; ++i) type += static_cast<char>(in.get8());
    const std::uint64_t left = file_size > in.position() ? file_size - in.position() : 0;
    if (length > left)
      return "the " + printable(type) + " chunk claims " + std::to_string(length) + " bytes, but " +
             std::to_string(left) + " remain in the file";
    if (type == "IEND") return "";
    in.skip(static_cast<std::int64_t>(length) + 4);  // and its CRC
  }
  return "";
}

// What in a JPEG would make Debian's stb_image 2.27 write past a table or decode with memory it
// never set (fuzz/image_fuzzer found both; later stb releases check the first), or "" if none. A DHT
// segment whose 16 code counts sum past 256 is copied past its table, over the decoder's state; a
// scan that uses a Huffman or quantization table no DHT or DQT defined before it decodes with
// uninitialized memory (stb mallocs its decoder state), whose garbage can index out of its tables.
// Walks the markers as stb does (stbi__decode_jpeg_header and _image: segments, then each scan's
// entropy-coded data up to the next marker) from just after SOI, and stops where stb stops with an
// error.
inline std::string jpeg_stb_hazard(std::FILE* file) {
  ByteReader in(file);
  const auto next_marker = [&] {  // stbi__get_marker; 0xff: none
    int x = in.get8();
    if (x != 0xff) return 0xff;
    while (x == 0xff) x = in.get8();
    return x;
  };
  bool huffman[2][4] = {}, quantization[4] = {};  // [DC, AC][table], [table]: defined so far
  int component_id[4] = {}, component_table[4] = {}, components = 0;
  bool frame = false, progressive = false;  // past SOF: scans may follow
  in.skip(2);
  int m = next_marker();
  for (;;) {
    if (m == 0xc4) {  // DHT: tables while the segment's length lasts, as stb reads them
      int left = in.get16be() - 2;
      while (left > 0) {
        const int q = in.get8(), kind = q >> 4, table = q & 15;
        if (kind > 1 || table > 3) return "";
        int n = 0;
        for (int i = 0; i < 16; ++i) n += in.get8();
        if (n > 256)
          return "a Huffman table (DHT) with " + std::to_string(n) +
                 " codes, more than 256 (stb_image 2.27 would write past its table)";
        huffman[kind][table] = true;
        in.skip(n);
        left -= 17 + n;
      }
      if (left != 0) return "";
    } else if (m == 0xdb) {  // DQT
      int left = in.get16be() - 2;
      while (left > 0) {
        const int q = in.get8();
        if ((q >> 4) > 1 || (q & 15) > 3) return "";
        quantization[q & 15] = true;
        in.skip((q >> 4) ? 128 : 64);
        left -= (q >> 4) ? 129 : 65;
      }
      if (left != 0) return "";
    } else if (m == 0xdd || (frame && m == 0xdc)) {  // DRI, DNL: 4 bytes
      if (in.get16be() != 4) return "";
      in.skip(2);
    } else if ((m >= 0xe0 && m <= 0xef) || m == 0xfe) {  // APPn, COM
      const int length = in.get16be();
      if (length < 2) return "";
      in.skip(length - 2);
    } else if (!frame && (m == 0xc0 || m == 0xc1 || m == 0xc2)) {  // SOF: the components' ids and tables
      const int length = in.get16be();
      in.skip(5);  // precision, height, width
      components = in.get8();
      if ((components != 1 && components != 3 && components != 4) || length != 8 + 3 * components) return "";
      for (int i = 0; i < components; ++i) {
        component_id[i] = in.get8();
        in.get8();  // sampling factors
        component_table[i] = in.get8();
        if (component_table[i] > 3) return "";
      }
      frame = true;
      progressive = m == 0xc2;
    } else if (frame && m == 0xda) {  // SOS: the tables its decoding uses must exist
      const int length = in.get16be(), n = in.get8();
      if (n < 1 || n > 4 || n > components || length != 6 + 2 * n) return "";
      int which[4] = {}, tables[4] = {};
      for (int i = 0; i < n; ++i) {
        const int id = in.get8();
        tables[i] = in.get8();
        which[i] = static_cast<int>(std::find(component_id, component_id + components, id) - component_id);
        if (which[i] == components || (tables[i] >> 4) > 3 || (tables[i] & 15) > 3) return "";
      }
      const int start = in.get8();
      in.get8();  // end of the spectral selection
      const int approximation = in.get8();
      const bool dc = !progressive || (start == 0 && (approximation >> 4) == 0), ac = !progressive || start > 0;
      const auto missing = [](const std::string& table, int number, const char* segment) {
        return "a scan uses the " + table + " table " + std::to_string(number) + ", which no " + segment +
               " defined before it (stb_image 2.27 would decode with memory it never set)";
      };
      for (int i = 0; i < n; ++i) {
        const int q = component_table[which[i]], dc_table = tables[i] >> 4, ac_table = tables[i] & 15;
        if (!quantization[q]) return missing("quantization", q, "DQT");
        if (dc && !huffman[0][dc_table]) return missing("DC Huffman", dc_table, "DHT");
        if (ac && !huffman[1][ac_table]) return missing("AC Huffman", ac_table, "DHT");
      }
      for (m = 0; m == 0;) {  // the entropy-coded data, to the next marker but RSTn
        if (!in.skip_past(0xff)) return "";
        int c = in.get8();
        while (c == 0xff) c = in.get8();
        if (c != 0 && (c < 0xd0 || c > 0xd7)) m = c;
      }
      continue;
    } else {  // EOI, no marker, or one stb does not know: stb stops here
      return "";
    }
    m = next_marker();
    while (!frame && m == 0xff) {  // stb skips padding between segments before SOF
      if (in.at_end()) return "";
      m = next_marker();
    }
  }
}

// Why a file whose first bytes image_format() does not know is refused, e.g. "cannot decode: not a
// JPEG, PNG or BMP file (it starts with bytes 3c 21 44 4f)" (an HTML page saved as .jpg).
inline std::string not_an_image(const unsigned char* head, std::size_t n) {
  std::string first;
  for (std::size_t i = 0; i < n && i < 4; ++i) {
    char hex[4];
    std::snprintf(hex, sizeof hex, "%02x", head[i]);
    if (i) first += ' ';
    first += hex;
  }
  return "cannot decode: not a JPEG, PNG or BMP file (" +
         (n == 0 ? std::string("it is empty") : "it starts with bytes " + first) + ")";
}

// FileError "<what> WxH: no pixels" or "<what> WxH = N pixels, more than the limit of M (...)",
// what being e.g. "read_image x.png: the header claims".
inline void check_image_size(const std::string& what, std::int64_t w, std::int64_t h, const ImageLimits& limits) {
  const std::string size = std::to_string(w) + "x" + std::to_string(h);
  if (w <= 0 || h <= 0) throw FileError(what + " " + size + ": no pixels");
  const std::int64_t pixels = w * h;  // the formats' sizes fit in 32 bits: no overflow
  if (pixels > limits.max_pixels)
    throw FileError(what + " " + size + " = " + std::to_string(pixels) + " pixels, more than the limit of " +
                    std::to_string(limits.max_pixels) + " (io::ImageLimits::max_pixels; the programs' --max-pixels)");
}

inline std::string lower_extension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

}  // namespace detail

// The limits read_image applies when given none: ImageLimits{} until this process sets others (the
// programs' --max-pixels does).
inline ImageLimits default_image_limits() {
  return {.max_pixels = detail::default_max_pixels().load()};
}

// ArgumentError for a limit below 1 pixel.
inline void set_default_image_limits(const ImageLimits& limits) {
  if (limits.max_pixels < 1)
    throw ArgumentError("set_default_image_limits: max_pixels " + std::to_string(limits.max_pixels) +
                        " must be at least 1");
  detail::default_max_pixels().store(limits.max_pixels);
}

// Reads a JPEG, PNG or BMP file as a 1x3xHxW tensor, RGB, values in [0, 255] (16-bit PNGs keep
// their precision, scaled by 255/65535). Throws FileError naming the path: for a missing or
// unreadable file, a file of another format, an image whose header claims more than
// limits.max_pixels (before decoding it), and a corrupt or truncated one (with stb_image's reason).
template <std::floating_point T = float, class Backend = Cpu>
Tensor<T, Backend> read_image(const std::filesystem::path& path, const ImageLimits& limits = default_image_limits()) {
  const std::string where = "read_image " + path.string() + ": ";
  if (limits.max_pixels < 1)
    throw ArgumentError(where + "max_pixels " + std::to_string(limits.max_pixels) + " must be at least 1");
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) throw FileError(where + "no such file");
  if (!std::filesystem::is_regular_file(status)) throw FileError(where + "not a regular file");

  // One open file for the header check and the decoding, so both see the same bytes.
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!file) throw FileError(where + "cannot open for reading: " + std::strerror(errno));
  unsigned char head[8] = {};
  const std::size_t head_bytes = std::fread(head, 1, sizeof head, file.get());
  const std::string format = detail::image_format(head, head_bytes);
  if (format.empty()) throw FileError(where + detail::not_an_image(head, head_bytes));
  std::rewind(file.get());
  if (format == "JPEG") {
    if (const std::string hazard = detail::jpeg_stb_hazard(file.get()); !hazard.empty())
      throw FileError(where + "cannot decode: corrupt JPEG: " + hazard);
  } else if (format == "PNG") {
    const std::uint64_t size = std::filesystem::file_size(path, ec);
    if (const std::string past = ec ? "" : detail::png_chunk_past_end(file.get(), size); !past.empty())
      throw FileError(where + "cannot decode: truncated or corrupt PNG: " + past);
  }
  std::rewind(file.get());
  int w = 0, h = 0, channels_in_file = 0;
  if (!stbi_info_from_file(file.get(), &w, &h, &channels_in_file))
    throw FileError(where + "cannot decode: the " + format + " header is corrupt or truncated (stb_image: \"" +
                    detail::stb_reason() + "\")");
  const auto check_size = [&](const char* what) { detail::check_image_size(where + what, w, h, limits); };
  check_size("the header claims");
  const std::string claimed = std::to_string(w) + "x" + std::to_string(h);

  // Grey images are decoded as grey and made RGB here, relying on no stb conversion of 16-bit grey
  // (stb_image 2.27 converts 16-bit grey PNM with its 8-bit converter: a buffer half the size it reports).
  const bool sixteen = stbi_is_16_bit_from_file(file.get()) != 0;
  const int decoded = channels_in_file == 1 ? 1 : 3;
  void* pixels = sixteen ? static_cast<void*>(stbi_load_from_file_16(file.get(), &w, &h, &channels_in_file, decoded))
                         : static_cast<void*>(stbi_load_from_file(file.get(), &w, &h, &channels_in_file, decoded));
  if (!pixels)
    throw FileError(where + "cannot decode the " + claimed + " " + format +
                    " image: the file is corrupt or truncated (stb_image: \"" + detail::stb_reason() + "\")");
  const std::unique_ptr<void, void (*)(void*)> owner(pixels, stbi_image_free);
  check_size("decoded to");  // the decoder's own size, in case a format's header and data disagree

  const std::size_t plane = static_cast<std::size_t>(w) * static_cast<std::size_t>(h);
  const auto n = static_cast<std::size_t>(decoded);
  std::vector<T> chw(3 * plane);
  for (std::size_t i = 0; i < plane; ++i)
    for (std::size_t c = 0; c < 3; ++c) {
      const std::size_t at = n * i + (n == 1 ? 0 : c);
      chw[c * plane + i] = sixteen ? static_cast<T>(static_cast<const std::uint16_t*>(pixels)[at] * (255.0 / 65535.0))
                                   : static_cast<T>(static_cast<const std::uint8_t*>(pixels)[at]);
    }
  return Tensor<T, Backend>::from_host({1, 3, h, w}, chw);
}

// Writes a 1xCxHxW tensor (C = 3 RGB, or 1 grey) with values in [0, 255] (clamped, rounded to
// the nearest integer, NaN written as 0) as PNG (.png) or JPEG (.jpg, .jpeg, at jpeg_quality).
// Throws ShapeError for other shapes, ArgumentError for another extension or quality, FileError
// when the file cannot be written.
template <class T, class B>
void write_image(const Tensor<T, B>& image, const std::filesystem::path& path, int jpeg_quality = 95) {
  const std::string where = "write_image " + path.string() + ": ";
  if (image.n() != 1 || (image.c() != 1 && image.c() != 3) || image.h() <= 0 || image.w() <= 0)
    throw ShapeError(where + "image is " + to_string(image.shape()) + ", expected 1x3xHxW (RGB) or 1x1xHxW (grey)");
  const std::string ext = detail::lower_extension(path);
  const bool png = ext == ".png";
  if (!png && ext != ".jpg" && ext != ".jpeg")
    throw ArgumentError(where + "unknown extension \"" + ext + "\" (expected .png, .jpg or .jpeg)");
  if (!png && (jpeg_quality < 1 || jpeg_quality > 100))
    throw ArgumentError(where + "JPEG quality " + std::to_string(jpeg_quality) + " is outside 1..100");
  const auto parent = path.parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec))
    throw FileError(where + "directory " + parent.string() + " does not exist");

  const std::vector<T> chw = image.to_host();
  const int c = image.c(), h = image.h(), w = image.w();
  const std::size_t plane = image.shape().plane();
  std::vector<std::uint8_t> hwc(chw.size());
  for (std::size_t i = 0; i < plane; ++i)
    for (std::size_t k = 0; k < static_cast<std::size_t>(c); ++k) {
      const double v = static_cast<double>(chw[k * plane + i]);
      hwc[i * c + k] = std::isnan(v) ? 0 : static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
    }
  const std::string name = path.string();
  const int ok = png ? stbi_write_png(name.c_str(), w, h, c, hwc.data(), w * c)
                     : stbi_write_jpg(name.c_str(), w, h, c, hwc.data(), jpeg_quality);
  if (!ok) throw FileError(where + "cannot write the file (permissions, disk space?)");
}

}  // namespace perceptual::io
