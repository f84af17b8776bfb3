#pragma once
// Safetensors files: an 8-byte little-endian header length, a JSON header mapping each tensor name
// to {dtype, shape, data_offsets} (plus an optional "__metadata__" string map), then raw
// little-endian data. SafetensorsFile validates everything on open, so no input can crash it;
// SafetensorsWriter and save_safetensors write them (F32, F16, BF16 or F64).
#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/io/atomic_file.hpp"
#include "perceptual/io/dtype.hpp"

namespace perceptual::io {

// "64x3x3x3"; "scalar" for a 0-d shape.
inline std::string shape_string(const std::vector<std::int64_t>& shape) {
  if (shape.empty()) return "scalar";
  std::string s;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s;
}

class SafetensorsFile {
 public:
  struct Entry {
    Dtype dtype = Dtype::f32;
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0, end = 0;  // byte offsets into the data section
    std::uint64_t numel = 0;
  };
  // The reference implementation's limit; real headers are about 100 bytes per tensor.
  static constexpr std::uint64_t max_header_bytes = 100u << 20;

  // Opens and validates the file; throws FileError naming the path (and tensor) otherwise.
  explicit SafetensorsFile(std::filesystem::path path);

  const std::filesystem::path& path() const { return path_; }
  // Tensor names in the order of their data in the file.
  const std::vector<std::string>& names() const { return order_; }
  bool has(const std::string& name) const { return entries_.contains(name); }
  const Entry& entry(const std::string& name) const;
  const std::vector<std::int64_t>& shape(const std::string& name) const { return entry(name).shape; }
  Dtype dtype(const std::string& name) const { return entry(name).dtype; }
  std::uint64_t numel(const std::string& name) const { return entry(name).numel; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // The tensor's values in row-major order, converted from the file's dtype to T.
  template <std::floating_point T>
  std::vector<T> read(const std::string& name) const;

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw FileError("safetensors " + path_.string() + ": " + what);
  }
  void parse_header(const std::string& text, std::uint64_t data_bytes);
  void parse_entry(const std::string& name, const nlohmann::json& value, std::uint64_t data_bytes);

  std::filesystem::path path_;
  std::uint64_t data_start_ = 0;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> metadata_;
};

namespace detail {

// A safetensors header nests three deep at most (root, tensor, shape). Rejecting deeper nesting
// before parsing bounds the parser's memory on garbage such as a megabyte of '['.
inline bool json_depth_at_most(const std::string& text, int limit) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char ch : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (ch == '\\')
        escaped = true;
      else if (ch == '"')
        in_string = false;
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > limit) return false;
    } else if (ch == ']' || ch == '}') {
      --depth;
    }
  }
  return true;
}

// A non-negative JSON integer that fits in int64, or nothing.
inline std::optional<std::uint64_t> json_count(const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return u;
  } else if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(v.get<std::int64_t>());
  }
  return std::nullopt;
}

}  // namespace detail

inline SafetensorsFile::SafetensorsFile(std::filesystem::path path) : path_(std::move(path)) {
  std::error_code ec;
  const auto status = std::filesystem::status(path_, ec);
  if (!std::filesystem::exists(status)) fail("no such file");
  if (!std::filesystem::is_regular_file(status)) fail("not a regular file");
  const std::uint64_t file_size = std::filesystem::file_size(path_, ec);
  if (ec) fail("cannot read its size: " + ec.message());
  std::ifstream in(path_, std::ios::binary);
  if (!in) fail("cannot open for reading");
  if (file_size < 8) fail("truncated: " + std::to_string(file_size) + " bytes, less than the 8-byte header length");

  std::byte prefix[8];
  if (!in.read(reinterpret_cast<char*>(prefix), 8)) fail("cannot read the header length");
  const auto header_bytes = detail::load_le<std::uint64_t>(prefix);
  if (header_bytes > max_header_bytes)
    fail("header length " + std::to_string(header_bytes) + " exceeds the " + std::to_string(max_header_bytes) +
         "-byte limit (not a safetensors file, or corrupt)");
  if (header_bytes > file_size - 8)
    fail("header length " + std::to_string(header_bytes) + " runs past the end of the file (" +
         std::to_string(file_size) + " bytes): truncated or corrupt");
  std::string text(static_cast<std::size_t>(header_bytes), '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(header_bytes))) fail("cannot read the header (truncated?)");
  data_start_ = 8 + header_bytes;
  parse_header(text, file_size - data_start_);
}

inline void SafetensorsFile::parse_header(const std::string& text, std::uint64_t data_bytes) {
  if (!detail::json_depth_at_most(text, 3)) fail("header is not a safetensors header (JSON nested too deeply)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail("header is not a JSON object");

  for (const auto& [name, value] : header.items()) {
    if (name != "__metadata__") {
      parse_entry(name, value, data_bytes);
      continue;
    }
    if (!value.is_object()) fail("__metadata__ is not a JSON object");
    for (const auto& [key, text_value] : value.items()) {
      if (!text_value.is_string()) fail("__metadata__ value for \"" + key + "\" is not a string");
      metadata_[key] = text_value.get<std::string>();
    }
  }

  // Tensors may not share bytes; zero-size tensors take none.
  std::vector<std::pair<const std::string*, const Entry*>> by_offset;
  for (const auto& [name, e] : entries_) by_offset.emplace_back(&name, &e);
  std::sort(by_offset.begin(), by_offset.end(), [](const auto& a, const auto& b) {
    return std::pair(a.second->begin, a.second->end) < std::pair(b.second->begin, b.second->end);
  });
  for (std::size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i - 1].second->end > by_offset[i].second->begin)
      fail("tensors \"" + *by_offset[i - 1].first + "\" and \"" + *by_offset[i].first + "\" overlap");
  for (const auto& [name, e] : by_offset) order_.push_back(*name);
}

inline void SafetensorsFile::parse_entry(const std::string& name, const nlohmann::json& value,
                                         std::uint64_t data_bytes) {
  const std::string tensor = "tensor \"" + name + "\": ";
  if (!value.is_object()) fail(tensor + "entry is not a JSON object");
  const auto dtype_it = value.find("dtype");
  const auto shape_it = value.find("shape");
  const auto offsets_it = value.find("data_offsets");
  if (dtype_it == value.end() || !dtype_it->is_string()) fail(tensor + "missing or non-string \"dtype\"");
  if (shape_it == value.end() || !shape_it->is_array()) fail(tensor + "missing or non-array \"shape\"");
  if (offsets_it == value.end() || !offsets_it->is_array() || offsets_it->size() != 2)
    fail(tensor + "missing \"data_offsets\" (an array [begin, end])");

  Entry e;
  const auto dtype = parse_dtype(dtype_it->get<std::string>());
  if (!dtype) fail(tensor + "unknown dtype \"" + dtype_it->get<std::string>() + "\"");
  e.dtype = *dtype;

  // Element count with overflow checks; any zero dimension makes the tensor empty.
  bool empty = false, overflow = false;
  std::uint64_t numel = 1;
  for (const auto& d : *shape_it) {
    const auto dim = detail::json_count(d);
    if (!dim) fail(tensor + "shape " + shape_it->dump() + " has an entry that is not a non-negative integer");
    e.shape.push_back(static_cast<std::int64_t>(*dim));
    if (*dim == 0)
      empty = true;
    else if (numel > std::numeric_limits<std::uint64_t>::max() / *dim)
      overflow = true;
    else
      numel *= *dim;
  }
  constexpr std::uint64_t max_u64 = std::numeric_limits<std::uint64_t>::max();
  if (overflow && !empty)
    fail(tensor + "shape " + shape_it->dump() + " has too many elements: their count passes " +
         std::to_string(max_u64) + ", the 64-bit limit");
  numel = empty ? 0 : numel;
  e.numel = numel;

  const auto begin = detail::json_count((*offsets_it)[0]);
  const auto end = detail::json_count((*offsets_it)[1]);
  if (!begin || !end) fail(tensor + "data_offsets " + offsets_it->dump() + " are not non-negative integers");
  e.begin = *begin;
  e.end = *end;
  const std::string offsets = "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
  if (e.begin > e.end) fail(tensor + offsets + " end before they begin");
  if (e.end > data_bytes)
    fail(tensor + offsets + " run past the end of the data (" + std::to_string(data_bytes) +
         " bytes): truncated or corrupt");
  // The shape's byte size must be the range's: so no tensor's size exceeds the file's.
  const std::size_t elem = dtype_size(e.dtype);
  const std::string needs = std::string(dtype_name(e.dtype)) + " " + shape_string(e.shape) + " needs " +
                            std::to_string(numel) + " x " + std::to_string(elem) + " bytes";
  if (numel > max_u64 / elem) fail(tensor + needs + ", more than " + std::to_string(max_u64) + ", the 64-bit limit");
  if (numel * elem != e.end - e.begin)
    fail(tensor + offsets + " hold " + std::to_string(e.end - e.begin) + " bytes, but " + needs + " = " +
         std::to_string(numel * elem));
  entries_.emplace(name, std::move(e));
}

inline const SafetensorsFile::Entry& SafetensorsFile::entry(const std::string& name) const {
  const auto it = entries_.find(name);
  if (it == entries_.end()) fail("no tensor named \"" + name + "\"");
  return it->second;
}

template <std::floating_point T>
std::vector<T> SafetensorsFile::read(const std::string& name) const {
  const Entry& e = entry(name);
  if (!readable(e.dtype))
    fail("tensor \"" + name + "\": dtype " + std::string(dtype_name(e.dtype)) + " cannot be converted");
  const std::uint64_t bytes = e.end - e.begin;  // <= the file's size, checked on open
  std::vector<std::byte> raw(static_cast<std::size_t>(bytes));
  if (bytes != 0) {
    std::ifstream in(path_, std::ios::binary);
    if (!in.seekg(static_cast<std::streamoff>(data_start_ + e.begin)) ||
        !in.read(reinterpret_cast<char*>(raw.data()), static_cast<std::streamsize>(bytes)))
      fail("tensor \"" + name + "\": cannot read its " + std::to_string(bytes) +
           " bytes (was the file truncated after opening?)");
  }
  std::vector<T> out(static_cast<std::size_t>(e.numel));
  decode(e.dtype, raw.data(), out.size(), out.data());
  return out;
}

// Collects tensors (converted to their file dtype when added) and metadata, then writes a file.
class SafetensorsWriter {
 public:
  template <std::floating_point T>
  SafetensorsWriter& add(const std::string& name, std::vector<std::int64_t> shape, std::span<const T> values,
                         Dtype dtype = Dtype::f32);
  SafetensorsWriter& set_metadata(const std::string& key, std::string value) {
    metadata_[key] = std::move(value);
    return *this;
  }
  // Writes atomically and durably (io::write_file_atomically: a kill or a full disk leaves the
  // previous file as it was; the error is a FileError naming the file and the system's reason).
  // The data is 8-byte aligned (the header is padded with spaces).
  void write(const std::filesystem::path& path) const;

 private:
  struct Pending {
    std::string name;
    Dtype dtype;
    std::vector<std::int64_t> shape;
    std::vector<std::byte> bytes;
  };
  std::vector<Pending> tensors_;
  std::map<std::string, std::string> metadata_;
};

template <std::floating_point T>
SafetensorsWriter& SafetensorsWriter::add(const std::string& name, std::vector<std::int64_t> shape,
                                          std::span<const T> values, Dtype dtype) {
  const std::string where = "SafetensorsWriter::add(\"" + name + "\"): ";
  if (name == "__metadata__") throw ArgumentError(where + "the name is reserved for metadata");
  if (!writable(dtype)) throw ArgumentError(where + "cannot write dtype " + std::string(dtype_name(dtype)));
  for (const auto& t : tensors_)
    if (t.name == name) throw ArgumentError(where + "a tensor of that name was already added");
  std::uint64_t numel = 1;
  for (auto d : shape) {
    if (d < 0) throw ArgumentError(where + "negative dimension in shape " + shape_string(shape));
    numel *= static_cast<std::uint64_t>(d);
  }
  if (numel != values.size())
    throw ShapeError(where + std::to_string(values.size()) + " values for shape " + shape_string(shape) + " (" +
                     std::to_string(numel) + " expected)");
  std::vector<std::byte> bytes(values.size() * dtype_size(dtype));
  encode(dtype, values.data(), values.size(), bytes.data());
  tensors_.push_back({name, dtype, std::move(shape), std::move(bytes)});
  return *this;
}

inline void SafetensorsWriter::write(const std::filesystem::path& path) const {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::uint64_t offset = 0;
  for (const auto& t : tensors_) {
    header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {  // names or metadata that are not UTF-8
    throw ArgumentError("write safetensors " + path.string() + ": " + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  std::byte prefix[8];
  detail::store_le(static_cast<std::uint64_t>(text.size()), prefix);
  std::vector<std::span<const std::byte>> parts{std::span<const std::byte>(prefix),
                                                std::as_bytes(std::span<const char>(text))};
  for (const auto& t : tensors_) parts.emplace_back(t.bytes);
  write_file_atomically(path, parts);
}

// Host values and their shape, for save_safetensors.
template <std::floating_point T>
struct HostTensor {
  std::vector<std::int64_t> shape;
  std::vector<T> values;
};

// Writes `tensors` (name -> shape and values) as `dtype`, with string metadata.
template <std::floating_point T>
void save_safetensors(const std::filesystem::path& path, const std::map<std::string, HostTensor<T>>& tensors,
                      const std::map<std::string, std::string>& metadata = {}, Dtype dtype = Dtype::f32) {
  SafetensorsWriter writer;
  for (const auto& [name, t] : tensors) writer.add(name, t.shape, std::span<const T>(t.values), dtype);
  for (const auto& [key, value] : metadata) writer.set_metadata(key, value);
  writer.write(path);
}

}  // namespace perceptual::io
