#pragma once
// lengstrom/fast-style-transfer's network for the tests: its checkpoint's tensors, random weights
// written as such a file, and a straightforward reference forward pass written from TensorFlow's
// definitions (independent of the library's layers), for nets/engstrom and the stylize program.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "perceptual/io/safetensors.hpp"

namespace perceptual::testing::engstrom {

// The checkpoint's tensors as ../shared/README.md lists them: name -> shape.
inline std::map<std::string, std::vector<std::int64_t>> engstrom_tensors() {
  std::map<std::string, std::vector<std::int64_t>> t;
  auto conv = [&](const std::string& name, std::vector<std::int64_t> weight, std::int64_t channels) {
    t[name + ".weight"] = std::move(weight);
    t[name + ".norm.scale"] = {channels};
    t[name + ".norm.shift"] = {channels};
  };
  conv("conv1", {32, 3, 9, 9}, 32);
  conv("conv2", {64, 32, 3, 3}, 64);
  conv("conv3", {128, 64, 3, 3}, 128);
  for (int b = 1; b <= 5; ++b)
    for (int c = 1; c <= 2; ++c) conv("res" + std::to_string(b) + ".conv" + std::to_string(c), {128, 128, 3, 3}, 128);
  conv("deconv1", {128, 64, 3, 3}, 64);  // (in, out, kh, kw)
  conv("deconv2", {64, 32, 3, 3}, 32);
  conv("conv_out", {3, 32, 9, 9}, 3);
  return t;
}

// Random weights, rounded to float (the file's dtype) so that the reference sees the loaded values.
using Weights = std::map<std::string, std::vector<double>>;

inline Weights random_weights(std::mt19937_64& rng) {
  Weights w;
  for (const auto& [name, shape] : engstrom_tensors()) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    const bool scale = name.ends_with(".scale"), shift = name.ends_with(".shift");
    std::uniform_real_distribution<double> dist(scale ? 0.5 : -0.5, scale ? 1.5 : 0.5);
    std::vector<double> v(static_cast<std::size_t>(n));
    for (auto& e : v) e = static_cast<float>(scale || shift ? dist(rng) : dist(rng) * 0.2);
    w[name] = std::move(v);
  }
  return w;
}

inline void write_file(const Weights& w, const std::filesystem::path& path, const std::set<std::string>& skip = {},
                       const std::map<std::string, std::vector<std::int64_t>>& reshape = {}) {
  io::SafetensorsWriter writer;
  const auto shapes = engstrom_tensors();
  for (const auto& [name, values] : w) {
    if (skip.contains(name)) continue;
    const auto it = reshape.find(name);
    writer.add(name, it != reshape.end() ? it->second : shapes.at(name), std::span<const double>(values));
  }
  writer.write(path);
}

// A straightforward reference, written from TensorFlow's definitions: one CxHxW image.
struct Image {
  int c, h, w;
  std::vector<double> v;
  Image(int c_, int h_, int w_) : c(c_), h(h_), w(w_), v(static_cast<std::size_t>(c_) * h_ * w_) {}
  double& at(int k, int y, int x) { return v[(static_cast<std::size_t>(k) * h + y) * w + x]; }
  double at(int k, int y, int x) const { return v[(static_cast<std::size_t>(k) * h + y) * w + x]; }
};

// tf.nn.conv2d(padding="SAME"): out = ceil(in / s), pad_total = max((out - 1) s + k - in, 0), the
// smaller half before. Weight OIHW.
inline Image conv_same(const Image& x, const std::vector<double>& wt, int out_c, int k, int s) {
  const int oh = (x.h + s - 1) / s, ow = (x.w + s - 1) / s;
  const int pt = std::max((oh - 1) * s + k - x.h, 0) / 2, pl = std::max((ow - 1) * s + k - x.w, 0) / 2;
  Image y(out_c, oh, ow);
  for (int o = 0; o < out_c; ++o)
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j) {
        double sum = 0;
        for (int c = 0; c < x.c; ++c)
          for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx) {
              const int yy = i * s - pt + ky, xx = j * s - pl + kx;
              if (yy >= 0 && yy < x.h && xx >= 0 && xx < x.w)
                sum += x.at(c, yy, xx) * wt[((static_cast<std::size_t>(o) * x.c + c) * k + ky) * k + kx];
            }
        y.at(o, i, j) = sum;
      }
  return y;
}

// tf.nn.conv2d_transpose(padding="SAME", output = s * in): the adjoint of the SAME convolution
// from the output back to the input, i.e. each input pixel scatters its kernel. Weight (in, out, kh, kw).
inline Image deconv_same(const Image& x, const std::vector<double>& wt, int out_c, int k, int s) {
  const int oh = x.h * s, ow = x.w * s;
  const int pt = std::max((x.h - 1) * s + k - oh, 0) / 2, pl = std::max((x.w - 1) * s + k - ow, 0) / 2;
  Image y(out_c, oh, ow);
  for (int c = 0; c < x.c; ++c)
    for (int i = 0; i < x.h; ++i)
      for (int j = 0; j < x.w; ++j)
        for (int o = 0; o < out_c; ++o)
          for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx) {
              const int yy = i * s - pt + ky, xx = j * s - pl + kx;
              if (yy >= 0 && yy < oh && xx >= 0 && xx < ow)
                y.at(o, yy, xx) += x.at(c, i, j) * wt[((static_cast<std::size_t>(c) * out_c + o) * k + ky) * k + kx];
            }
  return y;
}

inline Image instance_norm(Image x, const std::vector<double>& scale, const std::vector<double>& shift, bool relu) {
  const double n = static_cast<double>(x.h) * x.w;
  for (int c = 0; c < x.c; ++c) {
    double mean = 0, var = 0;
    for (int i = 0; i < x.h; ++i)
      for (int j = 0; j < x.w; ++j) mean += x.at(c, i, j) / n;
    for (int i = 0; i < x.h; ++i)
      for (int j = 0; j < x.w; ++j) var += (x.at(c, i, j) - mean) * (x.at(c, i, j) - mean) / n;
    for (int i = 0; i < x.h; ++i)
      for (int j = 0; j < x.w; ++j) {
        const double y = (x.at(c, i, j) - mean) / std::sqrt(var + 1e-3) * scale[c] + shift[c];
        x.at(c, i, j) = relu ? std::max(y, 0.0) : y;
      }
  }
  return x;
}

inline Image reference_forward(const Weights& w, Image x) {
  auto layer = [&](const Image& in, const std::string& name, int out_c, int k, int s, bool relu, bool transpose) {
    const Image y = transpose ? deconv_same(in, w.at(name + ".weight"), out_c, k, s)
                              : conv_same(in, w.at(name + ".weight"), out_c, k, s);
    return instance_norm(y, w.at(name + ".norm.scale"), w.at(name + ".norm.shift"), relu);
  };
  x = layer(x, "conv1", 32, 9, 1, true, false);
  x = layer(x, "conv2", 64, 3, 2, true, false);
  x = layer(x, "conv3", 128, 3, 2, true, false);
  for (int b = 1; b <= 5; ++b) {
    const std::string res = "res" + std::to_string(b);
    Image y = layer(layer(x, res + ".conv1", 128, 3, 1, true, false), res + ".conv2", 128, 3, 1, false, false);
    for (std::size_t i = 0; i < y.v.size(); ++i) y.v[i] += x.v[i];
    x = y;
  }
  x = layer(x, "deconv1", 64, 3, 2, true, true);
  x = layer(x, "deconv2", 32, 3, 2, true, true);
  x = layer(x, "conv_out", 3, 9, 1, false, false);
  for (auto& e : x.v) e = std::clamp(150 * std::tanh(e) + 127.5, 0.0, 255.0);
  return x;
}

}  // namespace perceptual::testing::engstrom
