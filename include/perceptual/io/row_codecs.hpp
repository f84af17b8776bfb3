#pragma once
// libpng's and libjpeg-turbo's state for one file, and calls into them that return their errors
// instead of jumping out: what io/stream_image.hpp reads and writes image rows with.
#include <png.h>

#include <cstdio>  // before jpeglib.h, which uses FILE without including it

#include <jerror.h>
#include <jpeglib.h>
#include <unistd.h>

#include <cerrno>
#include <csetjmp>
#include <cstddef>
#include <string>
#include <type_traits>

#include "perceptual/core/error.hpp"
#include "perceptual/io/image.hpp"

namespace perceptual::io {

namespace detail {

// libpng's and libjpeg's errors never cross a C++ frame with a destructor, and no C++ exception
// crosses theirs: each call that can fail runs inside png_call or jpeg_call, whose setjmp the
// libraries' error handlers longjmp back to (with only the library's and the callable's frames
// between, neither holding objects with destructors). The C++ caller then throws.

// libpng's state for one file, and the message of its last error.
struct PngCodec {
  png_structp png = nullptr;
  png_infop info = nullptr;
  bool writing = false;
  int fd = -1, write_errno = 0;  // writing: the partial file, and why a write(2) failed
  char message[256] = "";
  PngCodec(const PngCodec&) = delete;
  PngCodec& operator=(const PngCodec&) = delete;
  explicit PngCodec(bool write);
  ~PngCodec() { release(); }
  void release() {
    if (writing)
      png_destroy_write_struct(&png, &info);
    else
      png_destroy_read_struct(&png, &info, nullptr);
  }
};

inline void png_on_error(png_structp png, png_const_charp message) {
  auto* codec = static_cast<PngCodec*>(png_get_error_ptr(png));
  std::snprintf(codec->message, sizeof codec->message, "%s", message);
  png_longjmp(png, 1);
}
inline void png_on_warning(png_structp, png_const_charp) {}  // libpng would print them on stderr

inline PngCodec::PngCodec(bool write) : writing(write) {
  png = write ? png_create_write_struct(PNG_LIBPNG_VER_STRING, this, png_on_error, png_on_warning)
              : png_create_read_struct(PNG_LIBPNG_VER_STRING, this, png_on_error, png_on_warning);
  if (png) info = png_create_info_struct(png);
  if (!png || !info) {
    release();
    throw Error("libpng: cannot create its state (out of memory?)");
  }
  // The caller's ImageLimits bound the pixels; libpng's default would refuse rows over 10^6 pixels.
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
}

template <class F>
bool png_call(PngCodec& codec, F f) {
  static_assert(std::is_trivially_destructible_v<F>, "png_call: a longjmp must skip no destructor.");
  if (setjmp(png_jmpbuf(codec.png))) return false;
  f();
  return true;
}

inline void png_write_bytes(png_structp png, png_bytep data, png_size_t n) {
  auto* codec = static_cast<PngCodec*>(png_get_io_ptr(png));
  while (n > 0) {
    const ::ssize_t written = ::write(codec->fd, data, n);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      codec->write_errno = written < 0 ? errno : ENOSPC;  // 0 bytes to a regular file: no room
      png_error(png, "write failed");
    }
    data += written;
    n -= static_cast<png_size_t>(written);
  }
}
inline void png_flush_nothing(png_structp) {}

// libjpeg's error manager, the message of its last error and the first warning that data is
// damaged or missing, which libjpeg passes over (decoding grey in its place) and we refuse: a
// truncated file, entropy-coded data cut short or undecodable. Other warnings (stray bytes
// between segments, an unknown JFIF version) leave the pixels whole and pass, as in stb_image.
struct JpegErrors {
  jpeg_error_mgr mgr;  // first: libjpeg hands back &mgr, which is this struct
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = "";
  char damage[JMSG_LENGTH_MAX] = "";
};

inline void jpeg_on_error(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}
inline void jpeg_on_message(j_common_ptr cinfo, int level) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  const int code = cinfo->err->msg_code;
  const bool damaged =
      code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_MUST_RESYNC || code == JWRN_HUFF_BAD_CODE;
  if (level < 0 && damaged && !errors->damage[0]) (*cinfo->err->format_message)(cinfo, errors->damage);
}
inline void jpeg_quiet(j_common_ptr) {}  // libjpeg would print warnings on stderr

inline void jpeg_init_errors(JpegErrors& errors) {
  jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = jpeg_on_error;
  errors.mgr.emit_message = jpeg_on_message;
  errors.mgr.output_message = jpeg_quiet;
}

template <class F>
bool jpeg_call(JpegErrors& errors, F f) {
  static_assert(std::is_trivially_destructible_v<F>, "jpeg_call: a longjmp must skip no destructor.");
  if (setjmp(errors.jump)) return false;
  f();
  return true;
}

struct JpegReadCodec {
  JpegErrors errors;
  jpeg_decompress_struct cinfo{};
  bool created = false;
  JpegReadCodec() {
    jpeg_init_errors(errors);
    cinfo.err = &errors.mgr;
  }
  JpegReadCodec(const JpegReadCodec&) = delete;
  JpegReadCodec& operator=(const JpegReadCodec&) = delete;
  ~JpegReadCodec() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

// libjpeg's compressor, writing to the partial file through a buffer of its own.
struct JpegWriteCodec {
  JpegErrors errors;
  jpeg_compress_struct cinfo{};
  jpeg_destination_mgr destination{};
  bool created = false;
  int fd = -1, write_errno = 0;  // the partial file, and why a write(2) failed
  JOCTET buffer[1 << 16];
  JpegWriteCodec() {
    jpeg_init_errors(errors);
    cinfo.err = &errors.mgr;
    cinfo.client_data = this;
    destination.init_destination = start;
    destination.empty_output_buffer = empty;
    destination.term_destination = end;
  }
  JpegWriteCodec(const JpegWriteCodec&) = delete;
  JpegWriteCodec& operator=(const JpegWriteCodec&) = delete;
  ~JpegWriteCodec() {
    if (created) jpeg_destroy_compress(&cinfo);
  }
  static JpegWriteCodec* of(j_compress_ptr c) { return static_cast<JpegWriteCodec*>(c->client_data); }
  static bool write_all(j_compress_ptr c, std::size_t n) {  // false with write_errno set
    JpegWriteCodec* self = of(c);
    const JOCTET* data = self->buffer;
    while (n > 0) {
      const ::ssize_t written = ::write(self->fd, data, n);
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) {
        self->write_errno = written < 0 ? errno : ENOSPC;
        return false;
      }
      data += written;
      n -= static_cast<std::size_t>(written);
    }
    return true;
  }
  static void start(j_compress_ptr c) {
    c->dest->next_output_byte = of(c)->buffer;
    c->dest->free_in_buffer = sizeof buffer;
  }
  static boolean empty(j_compress_ptr c) {  // the whole buffer, whatever free_in_buffer says (libjpeg's rule)
    if (!write_all(c, sizeof buffer)) ERREXIT(c, JERR_FILE_WRITE);
    start(c);
    return TRUE;
  }
  static void end(j_compress_ptr c) {
    if (!write_all(c, sizeof buffer - c->dest->free_in_buffer)) ERREXIT(c, JERR_FILE_WRITE);
  }
};

// A library's message for an error text: "(libpng: \"Read Error\")".
inline std::string library_says(const char* library, const char* message) {
  return std::string("(") + library + ": \"" + printable(message[0] ? message : "no reason given") + "\")";
}

}  // namespace detail

}  // namespace perceptual::io
