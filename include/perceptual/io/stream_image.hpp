#pragma once
// Images read and written a row at a time, for images too large to hold whole (tiled inference on
// 16384x16384 images in bounded memory). Streamed, a few rows held: PNG that is not interlaced
// (libpng) and JPEG (libjpeg-turbo; a progressive JPEG keeps its DCT coefficients, 2 bytes a sample,
// inside libjpeg). Decoded whole with read_image (stb) and handed out by rows: BMP, interlaced PNG
// and CMYK JPEG, which libjpeg cannot make RGB. Rows equal read_image's exactly, but a JPEG read
// whole (read_image: stb_image) and streamed (libjpeg-turbo) can differ by a few levels: their
// inverse DCTs and chroma upsampling differ (on the shared photographs: at most 4, 0.2 on average).
// Writes PNG or JPEG.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/host.hpp"
#include "perceptual/io/atomic_file.hpp"
#include "perceptual/io/image.hpp"
#include "perceptual/io/row_codecs.hpp"

namespace perceptual::io {

// Reads an image's rows top to bottom (see the top of this file for which formats are streamed).
class ImageRowReader {
 public:
  explicit ImageRowReader(const std::filesystem::path& path, const ImageLimits& limits = default_image_limits());
  int width() const { return width_; }
  int height() const { return height_; }
  const std::string& format() const { return format_; }  // "PNG", "JPEG", "BMP"
  // true: rows decoded as read (PNG that is not interlaced, JPEG but CMYK); false: decoded whole
  // first (BMP, interlaced PNG, CMYK JPEG).
  bool streamed() const { return streamed_; }
  // The next row, as 3 * width floats, planar: R[0..w), G[0..w), B[0..w), values in [0, 255] as
  // read_image converts them (16-bit PNGs scaled by 255/65535 keeping their precision, grey made
  // RGB, alpha dropped without compositing, palettes expanded). Throws FileError naming the path
  // for a corrupt or truncated file (found at the header, a row, or the end, after the last row),
  // and again for each later call; ArgumentError when all rows were read.
  void read_row(float* rgb);
  int rows_read() const { return rows_; }

 private:
  void open_png(const ImageLimits& limits);
  void open_jpeg(const ImageLimits& limits);
  void read_whole(const ImageLimits& limits);
  [[noreturn]] void fail(const std::string& why);

  std::filesystem::path path_;
  std::string where_, format_, failed_;
  int width_ = 0, height_ = 0, rows_ = 0;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_{nullptr, std::fclose};  // before the codecs that read it
  std::unique_ptr<detail::PngCodec> png_;
  std::unique_ptr<detail::JpegReadCodec> jpeg_;
  int png_channels_ = 0;  // per pixel, as libpng hands rows out: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
  bool png_sixteen_ = false, streamed_ = true;
  std::vector<unsigned char> row_;
  std::optional<Tensor<float, Cpu>> whole_;  // formats decoded whole
};

inline ImageRowReader::ImageRowReader(const std::filesystem::path& path, const ImageLimits& limits)
    : path_(path), where_("ImageRowReader " + path.string() + ": ") {
  if (limits.max_pixels < 1)
    throw ArgumentError(where_ + "max_pixels " + std::to_string(limits.max_pixels) + " must be at least 1");
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) throw FileError(where_ + "no such file");
  if (!std::filesystem::is_regular_file(status)) throw FileError(where_ + "not a regular file");
  file_.reset(std::fopen(path.c_str(), "rb"));
  if (!file_) throw FileError(where_ + "cannot open for reading: " + std::strerror(errno));
  unsigned char head[8] = {};
  const std::size_t head_bytes = std::fread(head, 1, sizeof head, file_.get());
  format_ = detail::image_format(head, head_bytes);
  if (format_.empty()) throw FileError(where_ + detail::not_an_image(head, head_bytes));
  std::rewind(file_.get());
  if (format_ == "PNG")
    open_png(limits);
  else if (format_ == "JPEG")
    open_jpeg(limits);
  else
    read_whole(limits);
}

inline void ImageRowReader::open_png(const ImageLimits& limits) {
  png_ = std::make_unique<detail::PngCodec>(false);
  png_structp png = png_->png;
  png_infop info = png_->info;
  std::FILE* file = file_.get();
  if (!detail::png_call(*png_, [png, info, file] {
        png_init_io(png, file);
        png_read_info(png, info);
      }))
    throw FileError(where_ + "cannot decode: the PNG header is corrupt or truncated " +
                    detail::library_says("libpng", png_->message));
  const png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  detail::check_image_size(where_ + "the header claims", w, h, limits);
  if (png_get_interlace_type(png, info) != PNG_INTERLACE_NONE) return read_whole(limits);  // rows come in 7 passes
  width_ = static_cast<int>(w);
  height_ = static_cast<int>(h);
  // stb_image's conversions: palettes and grey under 8 bits to 8 bits, 16 bits kept, no gamma,
  // tRNS ignored (libpng may add alpha from it for a palette: dropped below, as stb drops it).
  const int colour = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
  if (!detail::png_call(*png_, [png, info, colour, depth] {
        if (colour == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
        if (colour == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        png_read_update_info(png, info);
      }))
    throw FileError(where_ + "cannot decode the " + std::to_string(w) + "x" + std::to_string(h) + " PNG image " +
                    detail::library_says("libpng", png_->message));
  png_channels_ = png_get_channels(png, info);
  png_sixteen_ = png_get_bit_depth(png, info) == 16;
  row_.resize(png_get_rowbytes(png, info));
  if (png_channels_ < 1 || png_channels_ > 4 ||
      row_.size() != static_cast<std::size_t>(width_) * png_channels_ * (png_sixteen_ ? 2 : 1))
    throw FileError(where_ + "cannot decode: libpng hands out rows of " + std::to_string(row_.size()) + " bytes for " +
                    std::to_string(png_channels_) + " channels");
}

inline void ImageRowReader::open_jpeg(const ImageLimits& limits) {
  jpeg_ = std::make_unique<detail::JpegReadCodec>();
  jpeg_decompress_struct* cinfo = &jpeg_->cinfo;
  std::FILE* file = file_.get();
  bool* created = &jpeg_->created;
  if (!detail::jpeg_call(jpeg_->errors, [cinfo, file, created] {
        jpeg_create_decompress(cinfo);
        *created = true;
        jpeg_stdio_src(cinfo, file);
        jpeg_read_header(cinfo, TRUE);
      }))
    throw FileError(where_ + "cannot decode: the JPEG header is corrupt or truncated " +
                    detail::library_says("libjpeg", jpeg_->errors.message));
  detail::check_image_size(where_ + "the header claims", cinfo->image_width, cinfo->image_height, limits);
  if (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK) {
    jpeg_.reset();
    return read_whole(limits);
  }
  width_ = static_cast<int>(cinfo->image_width);
  height_ = static_cast<int>(cinfo->image_height);
  cinfo->out_color_space = JCS_RGB;  // grey too: libjpeg-turbo repeats it
  if (!detail::jpeg_call(jpeg_->errors, [cinfo] { jpeg_start_decompress(cinfo); }) || jpeg_->errors.damage[0])
    throw FileError(
        where_ + "cannot decode the " + std::to_string(width_) + "x" + std::to_string(height_) +
        " JPEG image: the file is corrupt or truncated " +
        detail::library_says("libjpeg", jpeg_->errors.damage[0] ? jpeg_->errors.damage : jpeg_->errors.message));
  if (cinfo->output_components != 3 || static_cast<int>(cinfo->output_width) != width_)
    throw FileError(where_ + "cannot decode: libjpeg decodes " + std::to_string(cinfo->output_components) +
                    " components, " + std::to_string(cinfo->output_width) + " wide");
  row_.resize(static_cast<std::size_t>(width_) * 3);
}

inline void ImageRowReader::read_whole(const ImageLimits& limits) {
  streamed_ = false;
  file_.reset();
  png_.reset();
  const std::string prefix = "read_image " + path_.string() + ": ";
  try {
    whole_.emplace(read_image<float, Cpu>(path_, limits));
  } catch (const FileError& e) {  // read_image's reason, under this reader's name
    const std::string why = e.what();
    throw FileError(where_ + (why.starts_with(prefix) ? why.substr(prefix.size()) : why));
  }
  width_ = whole_->w();
  height_ = whole_->h();
}

inline void ImageRowReader::fail(const std::string& why) {
  failed_ = where_ + why;
  png_.reset();  // no more library calls: the state of a failed decoder is undefined
  jpeg_.reset();
  file_.reset();
  throw FileError(failed_);
}

inline void ImageRowReader::read_row(float* rgb) {
  if (!failed_.empty()) throw FileError(failed_);
  if (rows_ >= height_)
    throw ArgumentError(where_ + "all " + std::to_string(height_) + " rows were read; read_row has no more");
  const auto w = static_cast<std::size_t>(width_);
  const std::string row = "row " + std::to_string(rows_) + " of the " + std::to_string(width_) + "x" +
                          std::to_string(height_) + " " + format_ + " image";
  if (whole_) {
    const std::size_t plane = w * static_cast<std::size_t>(height_);
    const float* at = whole_->data() + static_cast<std::size_t>(rows_) * w;
    for (std::size_t c = 0; c < 3; ++c) std::copy_n(at + c * plane, w, rgb + c * w);
  } else if (png_) {
    png_structp png = png_->png;
    png_infop info = png_->info;
    png_bytep bytes = row_.data();
    const bool last = rows_ + 1 == height_;  // then the rest of the file too: its checksums, IEND
    if (!detail::png_call(*png_, [png, info, bytes, last] {
          png_read_row(png, bytes, nullptr);
          if (last) png_read_end(png, nullptr);
        }))
      fail("cannot decode " + row + ": the file is corrupt or truncated " +
           detail::library_says("libpng", png_->message));
    const auto n = static_cast<std::size_t>(png_channels_);
    const std::size_t colours = n < 3 ? 1 : 3;
    for (std::size_t x = 0; x < w; ++x)
      for (std::size_t c = 0; c < 3; ++c) {
        const std::size_t at = n * x + (colours == 1 ? 0 : c);
        rgb[c * w + x] = png_sixteen_
                             ? static_cast<float>(((bytes[2 * at] << 8) | bytes[2 * at + 1]) * (255.0 / 65535.0))
                             : static_cast<float>(bytes[at]);
      }
  } else {
    jpeg_decompress_struct* cinfo = &jpeg_->cinfo;
    JSAMPROW bytes = row_.data();
    const bool last = rows_ + 1 == height_;
    if (!detail::jpeg_call(jpeg_->errors,
                           [cinfo, bytes, last] {
                             JSAMPROW rows[1] = {bytes};
                             if (jpeg_read_scanlines(cinfo, rows, 1) != 1) ERREXIT(cinfo, JERR_INPUT_EMPTY);
                             if (last) jpeg_finish_decompress(cinfo);
                           }) ||
        jpeg_->errors.damage[0])
      fail("cannot decode " + row + ": the file is corrupt or truncated " +
           detail::library_says("libjpeg", jpeg_->errors.damage[0] ? jpeg_->errors.damage : jpeg_->errors.message));
    for (std::size_t x = 0; x < w; ++x)
      for (std::size_t c = 0; c < 3; ++c) rgb[c * w + x] = static_cast<float>(bytes[3 * x + c]);
  }
  ++rows_;
  if (rows_ == height_) {  // done: the file and the decoder's memory go now
    png_.reset();
    jpeg_.reset();
    whole_.reset();
    file_.reset();
  }
}

// Writes an image's rows top to bottom, as PNG (8-bit RGB, .png) or JPEG (.jpg, .jpeg, at
// jpeg_quality, 4:4:4 above 90 and 4:2:0 up to it, as stb_image_write does), by the extension like
// write_image. The bytes go to "<path>.partial", which finish() makes durable and renames over the
// path (io/atomic_file.hpp's steps): a failed or abandoned write never leaves a half file there.
// Throws ArgumentError for a size under 1x1 (or a JPEG side over 65500), another extension or a
// quality outside 1..100, FileError when the folder is missing or the file cannot be written.
class ImageRowWriter {
 public:
  ImageRowWriter(const std::filesystem::path& path, int width, int height, int jpeg_quality = 95);
  ImageRowWriter(ImageRowWriter&& other) noexcept;
  ImageRowWriter& operator=(ImageRowWriter&& other) noexcept;
  // 3 * width floats, planar: R[0..w), G[0..w), B[0..w); clamped to [0, 255], rounded to the nearest
  // integer, NaN written as 0 (write_image's conversion). ArgumentError past the last row; FileError
  // when the write fails (the partial file is then removed: the writer is done).
  void write_row(const float* rgb);
  // After the last row: completes the file and renames it over the path (a second call does
  // nothing). Error when rows are missing (write them, then finish() again), FileError when the
  // file cannot be completed (the partial file is then removed, the path left as it was).
  void finish();
  // Without finish(): the partial file is removed, the path untouched.
  ~ImageRowWriter() { abandon(); }
  int rows_written() const { return rows_; }

 private:
  void abandon() noexcept;
  [[noreturn]] void fail(const std::string& why);

  std::filesystem::path path_;
  std::string where_;
  int width_ = 0, height_ = 0, rows_ = 0;
  bool open_ = false, finished_ = false;  // open_: a partial file exists that this writer owns
  std::unique_ptr<detail::FileDescriptor> out_;
  std::unique_ptr<detail::PngCodec> png_;
  std::unique_ptr<detail::JpegWriteCodec> jpeg_;
  std::vector<unsigned char> row_;
};

inline ImageRowWriter::ImageRowWriter(const std::filesystem::path& path, int width, int height, int jpeg_quality)
    : path_(path), where_("ImageRowWriter " + path.string() + ": "), width_(width), height_(height) {
  if (width < 1 || height < 1)
    throw ArgumentError(where_ + "size " + std::to_string(width) + "x" + std::to_string(height) +
                        ": width and height must be at least 1");
  const std::string ext = detail::lower_extension(path);
  const bool png = ext == ".png";
  if (!png && ext != ".jpg" && ext != ".jpeg")
    throw ArgumentError(where_ + "unknown extension \"" + ext + "\" (expected .png, .jpg or .jpeg)");
  if (!png && (jpeg_quality < 1 || jpeg_quality > 100))
    throw ArgumentError(where_ + "JPEG quality " + std::to_string(jpeg_quality) + " is outside 1..100");
  if (!png && (width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION))
    throw ArgumentError(where_ + "size " + std::to_string(width) + "x" + std::to_string(height) +
                        ": a JPEG is at most " + std::to_string(JPEG_MAX_DIMENSION) + " pixels a side");
  const auto parent = path.parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec))
    throw FileError(where_ + "directory " + parent.string() + " does not exist");
  if (std::filesystem::is_directory(path, ec)) throw FileError(where_ + "a directory is in the way");

  out_ = std::make_unique<detail::FileDescriptor>(detail::open_partial(path));
  if (out_->fd < 0)
    throw FileError(where_ + "create " + partial_path(path).filename().string() + ": " + std::strerror(errno));
  open_ = true;
  row_.resize(static_cast<std::size_t>(width) * 3);
  const int fd = out_->fd;
  bool started = false;
  try {
    if (png) {
      png_ = std::make_unique<detail::PngCodec>(true);
      png_->fd = fd;
      png_structp p = png_->png;
      png_infop info = png_->info;
      started = detail::png_call(*png_, [p, info, width, height] {
        png_set_write_fn(p, png_get_error_ptr(p), detail::png_write_bytes, detail::png_flush_nothing);
        png_set_IHDR(p, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8, PNG_COLOR_TYPE_RGB,
                     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(p, info);
      });
    } else {
      jpeg_ = std::make_unique<detail::JpegWriteCodec>();
      jpeg_->fd = fd;
      detail::JpegWriteCodec* codec = jpeg_.get();
      started = detail::jpeg_call(jpeg_->errors, [codec, width, height, jpeg_quality] {
        jpeg_compress_struct* c = &codec->cinfo;
        jpeg_create_compress(c);
        codec->created = true;
        c->dest = &codec->destination;
        c->image_width = static_cast<JDIMENSION>(width);
        c->image_height = static_cast<JDIMENSION>(height);
        c->input_components = 3;
        c->in_color_space = JCS_RGB;
        jpeg_set_defaults(c);
        jpeg_set_quality(c, jpeg_quality, TRUE);
        if (jpeg_quality > 90) c->comp_info[0].h_samp_factor = c->comp_info[0].v_samp_factor = 1;
        jpeg_start_compress(c, TRUE);
      });
    }
    if (!started) fail("cannot start the file");
  } catch (...) {
    abandon();
    throw;
  }
}

inline ImageRowWriter::ImageRowWriter(ImageRowWriter&& other) noexcept
    : path_(std::move(other.path_)),
      where_(std::move(other.where_)),
      width_(other.width_),
      height_(other.height_),
      rows_(other.rows_),
      open_(std::exchange(other.open_, false)),
      finished_(other.finished_),
      out_(std::move(other.out_)),
      png_(std::move(other.png_)),
      jpeg_(std::move(other.jpeg_)),
      row_(std::move(other.row_)) {}

inline ImageRowWriter& ImageRowWriter::operator=(ImageRowWriter&& other) noexcept {
  if (this == &other) return *this;
  abandon();
  path_ = std::move(other.path_);
  where_ = std::move(other.where_);
  width_ = other.width_;
  height_ = other.height_;
  rows_ = other.rows_;
  open_ = std::exchange(other.open_, false);
  finished_ = other.finished_;
  out_ = std::move(other.out_);
  png_ = std::move(other.png_);
  jpeg_ = std::move(other.jpeg_);
  row_ = std::move(other.row_);
  return *this;
}

inline void ImageRowWriter::abandon() noexcept {
  png_.reset();  // the codecs first: they write to the descriptor
  jpeg_.reset();
  out_.reset();
  if (open_) ::unlink(partial_path(path_).c_str());
  open_ = false;
}

inline void ImageRowWriter::fail(const std::string& why) {
  const int error = png_ ? png_->write_errno : jpeg_ ? jpeg_->write_errno : 0;
  const std::string reason = error  ? ": write " + partial_path(path_).filename().string() + ": " + std::strerror(error)
                             : png_ ? " " + detail::library_says("libpng", png_->message)
                                    : " " + detail::library_says("libjpeg", jpeg_ ? jpeg_->errors.message : "");
  abandon();
  throw FileError(where_ + why + reason);
}

inline void ImageRowWriter::write_row(const float* rgb) {
  if (rows_ >= height_)
    throw ArgumentError(where_ + "all " + std::to_string(height_) + " rows were written; write_row takes no more");
  if (!open_) throw Error(where_ + "an earlier write failed; the writer is done");
  const auto w = static_cast<std::size_t>(width_);
  for (std::size_t x = 0; x < w; ++x)
    for (std::size_t c = 0; c < 3; ++c) {
      const double v = static_cast<double>(rgb[c * w + x]);
      row_[3 * x + c] = std::isnan(v) ? 0 : static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
    }
  unsigned char* bytes = row_.data();
  bool written = false;
  if (png_) {
    png_structp p = png_->png;
    written = detail::png_call(*png_, [p, bytes] { png_write_row(p, bytes); });
  } else {
    jpeg_compress_struct* c = &jpeg_->cinfo;
    written = detail::jpeg_call(jpeg_->errors, [c, bytes] {
      JSAMPROW rows[1] = {bytes};
      if (jpeg_write_scanlines(c, rows, 1) != 1) ERREXIT(c, JERR_BUFFER_SIZE);
    });
  }
  if (!written) fail("cannot write row " + std::to_string(rows_));
  ++rows_;
}

inline void ImageRowWriter::finish() {
  if (finished_) return;
  if (!open_) throw Error(where_ + "an earlier write failed; the writer is done");
  if (rows_ < height_)
    throw Error(where_ + "finish() after " + std::to_string(rows_) + " of " + std::to_string(height_) +
                " rows: the image is incomplete");
  bool ended = false;
  if (png_) {
    png_structp p = png_->png;
    png_infop info = png_->info;
    ended = detail::png_call(*png_, [p, info] { png_write_end(p, info); });
  } else {
    jpeg_compress_struct* c = &jpeg_->cinfo;
    ended = detail::jpeg_call(jpeg_->errors, [c] { jpeg_finish_compress(c); });
  }
  if (!ended) fail("cannot complete the file");
  png_.reset();
  jpeg_.reset();
  detail::publish_partial(*out_, path_, [this](const std::string& step, int error, bool remove_temporary) {
    if (remove_temporary) ::unlink(partial_path(path_).c_str());
    open_ = false;  // renamed, or removed
    throw FileError(where_ + step + ": " + std::strerror(error));
  });
  out_.reset();
  open_ = false;
  finished_ = true;
}

}  // namespace perceptual::io
