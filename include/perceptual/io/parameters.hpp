#pragma once
// A model's parameters to and from safetensors files, matched by name ("conv1_1.weight"). Shapes
// must agree up to size-1 dimensions at either end, which keep the data's order: a file's bias
// of shape [64] loads into our 1x64x1x1, never into a tensor of another element count. Loading
// refuses NaN and Inf; saving is atomic and durable (io::write_file_atomically).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/tensor.hpp"
#include "perceptual/io/safetensors.hpp"

namespace perceptual::io {

struct LoadOptions {
  std::string prefix{};        // the file's name for parameter p is prefix + p ("features.")
  std::string context{};       // added to errors, e.g. "needed for tap relu3_3"
  bool allow_missing = false;  // parameters the file lacks keep their values (listed in the report)
};

struct LoadReport {
  std::vector<std::string> loaded;   // parameter names
  std::vector<std::string> missing;  // parameter names (only with allow_missing)
  std::vector<std::string> unused;   // file tensor names no parameter took
};

namespace detail {

// The shape without leading and trailing size-1 dimensions; two shapes that agree on this hold
// the same elements in the same order.
inline std::vector<std::int64_t> strip_unit_ends(std::vector<std::int64_t> s) {
  while (!s.empty() && s.back() == 1) s.pop_back();
  const auto first = std::find_if(s.begin(), s.end(), [](std::int64_t d) { return d != 1; });
  s.erase(s.begin(), first);
  return s;
}

inline std::vector<std::int64_t> dims_of(Shape4 s) {
  return {s.n, s.c, s.h, s.w};
}

// " holds nan at index 17 (of 864; 3 values are not finite)", or "" when every value is finite.
template <class T>
std::string non_finite_report(const std::vector<T>& values) {
  const auto bad = [](T v) { return !std::isfinite(v); };
  const auto first = std::find_if(values.begin(), values.end(), bad);
  if (first == values.end()) return "";
  const auto count = std::count_if(first, values.end(), bad);
  const std::string value = std::isnan(*first) ? "nan" : *first > 0 ? "inf" : "-inf";
  return " holds " + value + " at index " + std::to_string(first - values.begin()) + " (of " +
         std::to_string(values.size()) + "; " + std::to_string(count) + (count == 1 ? " value is" : " values are") +
         " not finite)";
}

}  // namespace detail

// Whether a file tensor of `file_shape` can fill a parameter of `shape`.
inline bool shapes_compatible(const std::vector<std::int64_t>& file_shape, Shape4 shape) {
  return detail::strip_unit_ends(file_shape) == detail::strip_unit_ends(detail::dims_of(shape));
}

// Fills each parameter from the tensor of the same name (after options.prefix), converting the
// file's dtype to T. Every name, shape and value is checked before any parameter changes. Throws
// FileError naming the tensor, the file and options.context for a missing tensor (unless
// allow_missing) or for a NaN or Inf (naming the first bad index: no weights, statistics or Adam
// moments of a network that trains are ever non-finite, and one would poison every output),
// ShapeError naming the tensor, the file and both shapes for a shape mismatch.
template <class T, class B>
LoadReport load_parameters(const Parameters<T, B>& params, const SafetensorsFile& file,
                           const LoadOptions& options = {}) {
  const std::string in_file = " in " + file.path().string();
  const std::string context = options.context.empty() ? "" : " (" + options.context + ")";
  LoadReport report;
  std::vector<std::string> absent;
  std::set<std::string> taken;
  for (const auto& p : params) {
    const std::string name = options.prefix + p.name;
    if (!file.has(name)) {
      (options.allow_missing ? report.missing : absent).push_back(p.name);
      continue;
    }
    const auto& file_shape = file.shape(name);
    if (!shapes_compatible(file_shape, p.value->shape()))
      throw ShapeError("load_parameters: tensor \"" + name + "\"" + in_file + " has shape " + shape_string(file_shape) +
                       ", but the parameter's shape is " + to_string(p.value->shape()) + context);
    if (!readable(file.dtype(name)))
      throw FileError("load_parameters: tensor \"" + name + "\"" + in_file + " has dtype " +
                      std::string(dtype_name(file.dtype(name))) + ", which cannot be converted" + context);
    taken.insert(name);
  }
  if (!absent.empty()) {
    std::string message =
        "load_parameters: tensor \"" + options.prefix + absent.front() + "\" not found" + in_file + context;
    if (absent.size() > 1) {
      message += "; " + std::to_string(absent.size() - 1) + " more missing:";
      for (std::size_t i = 1; i < absent.size() && i < 6; ++i) message += " \"" + options.prefix + absent[i] + "\"";
      if (absent.size() > 6) message += " ...";
    }
    throw FileError(message);
  }
  std::vector<std::vector<T>> values;  // all read and checked before the first copy
  for (const auto& p : params) {
    const std::string name = options.prefix + p.name;
    if (!taken.contains(name)) continue;
    values.push_back(file.read<T>(name));
    if (const std::string bad = detail::non_finite_report(values.back()); !bad.empty())
      throw FileError("load_parameters: tensor \"" + name + "\"" + in_file + bad + context);
  }
  auto next = values.begin();
  for (const auto& p : params) {
    if (!taken.contains(options.prefix + p.name)) continue;
    if (!next->empty()) p.value->buffer().copy_from_host(next->data());
    ++next;
    report.loaded.push_back(p.name);
  }
  for (const auto& name : file.names())
    if (!taken.contains(name)) report.unused.push_back(name);
  return report;
}

template <class T, class B>
LoadReport load_parameters(const Parameters<T, B>& params, const std::filesystem::path& path,
                           const LoadOptions& options = {}) {
  return load_parameters(params, SafetensorsFile(path), options);
}

// For a Model (or any module): its parameters().
template <class M>
requires requires(M& m) {
  m.parameters();
}
LoadReport load_parameters(M& model, const std::filesystem::path& path, const LoadOptions& options = {}) {
  return load_parameters(model.parameters(), path, options);
}

template <class M>
requires requires(M& m) {
  m.parameters();
}
LoadReport load_parameters(M& model, const SafetensorsFile& file, const LoadOptions& options = {}) {
  return load_parameters(model.parameters(), file, options);
}

// The name STYLE.md's example uses.
template <class M>
LoadReport load_safetensors(M& model, const std::filesystem::path& path, const LoadOptions& options = {}) {
  return load_parameters(model, path, options);
}

// Writes every parameter (state tensors too) under its name, with its full 4-D shape (a bias is
// 1xCx1x1; load_parameters and PyTorch-side code that squeezes read it either way). Atomic and
// durable (io::write_file_atomically): a kill or a full disk leaves the previous file as it was,
// and the error is a FileError naming the file and the system's reason.
template <class T, class B>
void save_parameters(const Parameters<T, B>& params, const std::filesystem::path& path,
                     const std::map<std::string, std::string>& metadata = {}, Dtype dtype = Dtype::f32) {
  SafetensorsWriter writer;
  for (const auto& p : params) {
    const auto values = p.value->to_host();
    writer.add(p.name, detail::dims_of(p.value->shape()), std::span<const T>(values), dtype);
  }
  for (const auto& [key, value] : metadata) writer.set_metadata(key, value);
  writer.write(path);
}

template <class M>
requires requires(M& m) {
  m.parameters();
}
void save_parameters(M& model, const std::filesystem::path& path,
                     const std::map<std::string, std::string>& metadata = {}, Dtype dtype = Dtype::f32) {
  save_parameters(model.parameters(), path, metadata, dtype);
}

}  // namespace perceptual::io
