// The style networks that ship with the project (models/candy.safetensors, the README's main
// job, and models/mosaic.safetensors, models/la_muse.safetensors): each loads completely and turns
// the bundled photo into something that is still the photo but no longer looks like it.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/io/image.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/io/resample.hpp"
#include "perceptual/nets/transform.hpp"

using namespace perceptual;
namespace fs = std::filesystem;

namespace {

// Pearson correlation of the BT.601 luma of two 1x3xHxW images, and their mean absolute difference.
struct Comparison {
  double correlation = 0, mean_abs_diff = 0;
};

Comparison compare(const Tensor<float, Cpu>& a, const Tensor<float, Cpu>& b) {
  const std::size_t plane = a.shape().plane();
  const float* pa = a.data();
  const float* pb = b.data();
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, diff = 0;
  for (std::size_t i = 0; i < plane; ++i) {
    const double ya = 0.299 * pa[i] + 0.587 * pa[plane + i] + 0.114 * pa[2 * plane + i];
    const double yb = 0.299 * pb[i] + 0.587 * pb[plane + i] + 0.114 * pb[2 * plane + i];
    sa += ya, sb += yb, saa += ya * ya, sbb += yb * yb, sab += ya * yb;
  }
  for (std::size_t i = 0; i < 3 * plane; ++i) diff += std::abs(pa[i] - pb[i]);
  const double n = static_cast<double>(plane);
  const double cov = sab / n - sa / n * sb / n;
  return {cov / std::sqrt((saa / n - sa / n * sa / n) * (sbb / n - sb / n * sb / n)), diff / (3 * n)};
}

}  // namespace

TEST_CASE("Each shipped style network stylises the bundled photo") {
  const char* source = std::getenv("PERCEPTUAL_SOURCE_DIR");
  REQUIRE_MESSAGE(source != nullptr, "PERCEPTUAL_SOURCE_DIR must name the source tree");
  const fs::path root(source);
  const char* name = nullptr;
  SUBCASE("candy") {
    name = "candy";
  }
  SUBCASE("mosaic") {
    name = "mosaic";
  }
  SUBCASE("la_muse") {
    name = "la_muse";
  }
  CAPTURE(name);

  Model<nets::StyleTransformNet<>, Cpu, float> net;
  const auto report = io::load_parameters(net, root / "models" / (std::string(name) + ".safetensors"));
  CHECK(report.unused.empty());  // every tensor in the file is a parameter of the net, and none is missing

  const auto photo = io::read_image<float>(root / "assets" / "chelsea.png");
  const auto small = io::resize_bicubic(photo, 76, 112);  // the net's size multiple is 4
  net.eval();
  const auto out = net.forward(small);
  REQUIRE(out.shape() == small.shape());
  for (std::size_t i = 0; i < out.size(); ++i) REQUIRE((out.data()[i] >= 0.0f && out.data()[i] <= 255.0f));

  const Comparison c = compare(small, out);
  INFO("luma correlation " << c.correlation << ", mean |difference| " << c.mean_abs_diff);
  CHECK(c.correlation > 0.5);     // the cat is still there
  CHECK(c.mean_abs_diff > 15.0);  // but restyled
}
