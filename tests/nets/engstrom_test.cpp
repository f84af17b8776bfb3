#include "perceptual/nets/engstrom.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/io/image.hpp"
#include "perceptual/io/resample.hpp"
#include "support/random.hpp"
#include "support/temp_dir.hpp"

using namespace perceptual;
using namespace perceptual::nets;
namespace fs = std::filesystem;

namespace {

using testing::TempDir;

// The checkpoint's tensors as /work/shared/README.md lists them: name -> shape.
std::map<std::string, std::vector<std::int64_t>> engstrom_tensors() {
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

Weights random_weights(std::mt19937_64& rng) {
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

void write_file(const Weights& w, const fs::path& path, const std::set<std::string>& skip = {},
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
Image conv_same(const Image& x, const std::vector<double>& wt, int out_c, int k, int s) {
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
Image deconv_same(const Image& x, const std::vector<double>& wt, int out_c, int k, int s) {
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

Image instance_norm(Image x, const std::vector<double>& scale, const std::vector<double>& shift, bool relu) {
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

Image reference_forward(const Weights& w, Image x) {
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

}  // namespace

TEST_CASE("EngstromNet's parameters map one to one onto the checkpoint's tensor names and shapes") {
  Model<EngstromNet, Cpu, float> net;
  const auto expected = engstrom_tensors();
  std::set<std::string> seen;
  for (auto& p : net.parameters()) {
    const std::string file_name = engstrom_tensor_name(p.name);
    INFO(p.name << " -> " << file_name);
    REQUIRE(expected.contains(file_name));
    CHECK(io::shapes_compatible(expected.at(file_name), p.value->shape()));
    CHECK(seen.insert(file_name).second);
  }
  CHECK(seen.size() == expected.size());
  CHECK(engstrom_tensor_name("res2.conv1.norm.weight") == "res2.conv1.norm.scale");
  CHECK(engstrom_tensor_name("conv_out.norm.bias") == "conv_out.norm.shift");
  CHECK(engstrom_tensor_name("deconv1.weight") == "deconv1.weight");
}

TEST_CASE("The engstrom preset reproduces a reference forward pass of a hand-made checkpoint") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  TempDir dir;
  const Weights w = random_weights(rng);
  write_file(w, dir / "net.safetensors");

  Model<EngstromNet, Cpu, double> net;
  const auto report = load_engstrom(net, dir / "net.safetensors");
  CHECK(report.loaded.size() == 48);

  for (Size2 s : {Size2{8, 12}, Size2{7, 10}}) {  // even, and odd (SAME's padding after)
    INFO("input " << to_string(s));
    const auto x = testing::random_tensor<double>({2, 3, s.h, s.w}, rng, 0, 255);
    const auto y = net.eval().forward(x);
    const Size2 out{4 * ((s.h + 3) / 4), 4 * ((s.w + 3) / 4)};
    REQUIRE(y.shape() == Shape4{2, 3, out.h, out.w});
    const auto xv = x.to_host();
    const auto yv = y.to_host();
    for (int n = 0; n < 2; ++n) {
      Image in(3, s.h, s.w);
      std::copy_n(xv.begin() + n * static_cast<std::ptrdiff_t>(in.v.size()), in.v.size(), in.v.begin());
      const Image ref = reference_forward(w, in);
      REQUIRE(ref.h == out.h);
      REQUIRE(ref.w == out.w);
      double worst = 0;
      for (std::size_t i = 0; i < ref.v.size(); ++i)
        worst = std::max(worst, std::abs(ref.v[i] - yv[n * ref.v.size() + i]));
      INFO("sample " << n << ": largest difference " << worst);
      CHECK(worst < 1e-7);
      const auto [lo, hi] = std::minmax_element(ref.v.begin(), ref.v.end());
      CHECK(*hi - *lo > 10);  // a real test: the output is not saturated to one value
    }
  }
}

TEST_CASE("load_engstrom names the tensor and the file when the checkpoint does not fit") {
  std::mt19937_64 rng(11);
  TempDir dir;
  const Weights w = random_weights(rng);
  Model<EngstromNet, Cpu, float> net;

  SUBCASE("a missing tensor") {
    const auto path = dir / "missing.safetensors";
    write_file(w, path, {"res3.conv2.norm.shift"});
    try {
      load_engstrom(net, path);
      FAIL("no error");
    } catch (const FileError& e) {
      const std::string m = e.what();
      INFO(m);
      CHECK(m.find("\"res3.conv2.norm.shift\"") != std::string::npos);
      CHECK(m.find(path.string()) != std::string::npos);
    }
  }
  SUBCASE("a tensor of the wrong shape") {
    const auto path = dir / "shape.safetensors";
    write_file(w, path, {}, {{"deconv1.weight", {64, 128, 3, 3}}});
    try {
      load_engstrom(net, path);
      FAIL("no error");
    } catch (const ShapeError& e) {
      const std::string m = e.what();
      INFO(m);
      CHECK(m.find("\"deconv1.weight\"") != std::string::npos);
      CHECK(m.find(path.string()) != std::string::npos);
      CHECK(m.find("64x128x3x3") != std::string::npos);
    }
  }
  SUBCASE("a tensor the network has no place for") {
    const auto path = dir / "extra.safetensors";
    io::SafetensorsWriter writer;
    const auto shapes = engstrom_tensors();
    for (const auto& [name, values] : w) writer.add(name, shapes.at(name), std::span<const double>(values));
    const std::vector<double> extra(4, 0.0);
    writer.add("res6.conv1.weight", {4}, std::span<const double>(extra));
    writer.write(path);
    CHECK_THROWS_WITH_AS(load_engstrom(net, path), doctest::Contains("res6.conv1.weight"), FileError);
  }
  SUBCASE("no file") {
    CHECK_THROWS_WITH_AS(load_engstrom(net, dir / "absent.safetensors"), doctest::Contains("absent.safetensors"),
                         FileError);
  }
}

TEST_CASE("save_engstrom writes what load_engstrom reads") {
  TempDir dir;
  Model<EngstromNet, Cpu, float> a, b;
  a.initialize(21);
  save_engstrom(a, dir / "a.safetensors");
  const io::SafetensorsFile file(dir / "a.safetensors");
  CHECK(file.has("conv_out.norm.scale"));
  CHECK(file.metadata().at("arch") == "engstrom-tf");
  load_engstrom(b, file);
  auto pa = a.parameters(), pb = b.parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) CHECK(pa[i].value->to_host() == pb[i].value->to_host());
}

TEST_CASE("The pretrained udnie network stylises an image into [0, 255]") {
  const char* data = std::getenv("PERCEPTUAL_DATA");
  if (!data) {
    MESSAGE("skipped: set PERCEPTUAL_DATA (e.g. /work/shared/data) to run the pretrained engstrom networks");
    return;
  }
  const fs::path root(data);
  Model<EngstromNet, Cpu, float> net;
  load_engstrom(net, root / "models/engstrom/udnie.safetensors");
  const auto image = io::resize_bicubic(io::read_image<float>(root / "images/content/chicago.jpg"), 64, 96);
  const auto y = net.eval().forward(image);
  REQUIRE(y.shape() == Shape4{1, 3, 64, 96});
  const auto v = y.to_host();
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  CHECK(*lo >= 0.0f);
  CHECK(*hi <= 255.0f);
  double mean = 0, var = 0;
  for (float e : v) mean += e / static_cast<double>(v.size());
  for (float e : v) var += (e - mean) * (e - mean) / static_cast<double>(v.size());
  INFO("mean " << mean << ", std " << std::sqrt(var));
  CHECK(std::sqrt(var) > 10);
  // Stylised, not copied: far from the input.
  const auto x = image.to_host();
  double diff = 0;
  for (std::size_t i = 0; i < v.size(); ++i) diff += std::abs(v[i] - x[i]) / static_cast<double>(v.size());
  CHECK(diff > 5);
}
