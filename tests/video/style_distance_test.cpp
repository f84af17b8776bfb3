// The style distance (Gram distance to a style image) that flicker reports beside the warping error.
#include <doctest/doctest.h>

#include "perceptual/video/style_distance.hpp"
#include "support/clips.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_vgg.hpp"

using namespace perceptual;

TEST_CASE("StyleDistance is 0 for the style image itself and grows as an image fades to grey") {
  testing::TempDir dir;
  testing::write_tiny_vgg(dir / "vgg.safetensors");  // VGG-16's first two blocks: VGG-19's too
  const Tensor<float, Cpu> style = testing::texture_window(32, 32, 0);
  video::StyleDistance<> distance(dir / "vgg.safetensors", style, {"relu1_2", "relu2_2"});
  CHECK(distance(style) <= 1e-6);
  // Blending towards flat grey weakens the texture, and with it the Gram matrices' match.
  double previous = 0;
  for (double fade : {0.25, 0.5, 1.0}) {
    Tensor<float, Cpu> y = style;
    for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = static_cast<float>((1 - fade) * y.data()[i] + fade * 128);
    const double d = distance(y);
    INFO("fade " << fade << ": " << d);
    CHECK(d > previous);
    previous = d;
  }
}

TEST_CASE("StyleDistance names the layer it does not know") {
  testing::TempDir dir;
  testing::write_tiny_vgg(dir / "vgg.safetensors");
  CHECK_THROWS_WITH_AS(video::StyleDistance<>(dir / "vgg.safetensors", testing::texture_window(8, 8, 0), {"relu9_9"}),
                       doctest::Contains("relu9_9"), ArgumentError);
}
