#include "perceptual/core/conv_geometry.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace perceptual;

namespace {

// Johnson's second layer on a 256x256 image: 3x3, stride 2, 32 -> 64 channels, zero padding 1.
constexpr ConvGeometry::Sizes strided{.batch = 4,
                                      .in_channels = 32,
                                      .out_channels = 64,
                                      .kernel = 3,
                                      .input = {256, 256},
                                      .output = {128, 128},
                                      .stride = 2,
                                      .pad_top = 1,
                                      .pad_left = 1};

template <class Change>
ConvGeometry::Sizes changed(Change change) {
  ConvGeometry::Sizes s = strided;
  change(s);
  return s;
}

}  // namespace

// Usable in constant expressions, as layers' output sizes are.
static_assert(ConvGeometry(strided).output_shape() == Shape4{4, 64, 128, 128},
              "ConvGeometry: the output shape is batch x out_channels x output in a constant expression.");

TEST_CASE("a ConvGeometry keeps its sizes and gives the shapes of its operands") {
  const ConvGeometry g(strided);
  CHECK(g.n() == 4);
  CHECK(g.c() == 32);
  CHECK(g.o() == 64);
  CHECK(g.k() == 3);
  CHECK(g.stride() == 2);
  CHECK(g.pad_top() == 1);
  CHECK(g.pad_left() == 1);
  CHECK(g.input_size() == Size2{256, 256});
  CHECK(g.output_size() == Size2{128, 128});
  CHECK(g.input_shape() == Shape4{4, 32, 256, 256});
  CHECK(g.filter_shape() == Shape4{64, 32, 3, 3});
  CHECK(g.output_shape() == Shape4{4, 64, 128, 128});
  // (128 - 1) * 2 + 3 = 257 rows read from 1 + 256: no zeros after the last row.
  CHECK(g.pad_bottom() == 0);
  CHECK(g.pad_right() == 0);
  CHECK(ConvGeometry(g.sizes()) == g);
  CHECK(to_string(g) == "input 4x32x256x256, weight 64x32x3x3, stride 2, pad 1,1, output 4x64x128x128");
}

TEST_CASE("the padding after the last row and column follows from the output size") {
  // TensorFlow's SAME, stride 2, an even size: nothing before, one row and column after.
  const ConvGeometry same({.batch = 1,
                           .in_channels = 3,
                           .out_channels = 4,
                           .kernel = 3,
                           .input = {8, 6},
                           .output = {4, 3},
                           .stride = 2,
                           .pad_top = 0,
                           .pad_left = 0});
  CHECK(same.pad_bottom() == 1);
  CHECK(same.pad_right() == 1);
  // An output that stops short of the input leaves rows unread: negative padding after.
  const ConvGeometry cropped({.batch = 1,
                              .in_channels = 1,
                              .out_channels = 1,
                              .kernel = 3,
                              .input = {11, 11},
                              .output = {2, 2},
                              .stride = 4,
                              .pad_top = 0,
                              .pad_left = 0});
  CHECK(cropped.pad_bottom() == -4);
}

TEST_CASE("a ConvGeometry is validated when made, with messages naming what is wrong and the shapes") {
  CHECK_THROWS_WITH_AS(ConvGeometry(changed([](auto& s) { s.stride = 0; })),
                       "ConvGeometry (input 4x32x256x256, weight 64x32x3x3): stride 0 (must be at least 1)",
                       ArgumentError);
  CHECK_THROWS_WITH_AS(ConvGeometry(changed([](auto& s) { s.pad_left = -1; })),
                       doctest::Contains("padding 1,-1 (must not be negative)"), ArgumentError);
  CHECK_THROWS_WITH_AS(ConvGeometry(changed([](auto& s) { s.kernel = 0; })), doctest::Contains("kernel size 0"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(ConvGeometry(changed([](auto& s) { s.in_channels = 0; })),
                       doctest::Contains("channels 0 -> 64 (channels must be at least 1)"), ShapeError);
  CHECK_THROWS_AS(ConvGeometry(changed([](auto& s) { s.out_channels = 0; })), ShapeError);
  CHECK_THROWS_AS(ConvGeometry(changed([](auto& s) { s.batch = -1; })), ShapeError);
  CHECK_THROWS_WITH_AS(ConvGeometry(changed([](auto& s) {
                         s.output = {0, 128};
                       })),
                       doctest::Contains("input 256x256, output 0x128 (both must be non-empty)"), ShapeError);
  CHECK_THROWS_AS(ConvGeometry(changed([](auto& s) { s.input = {256, 0}; })), ShapeError);
  // An empty batch is a geometry whose convolution has nothing to do.
  CHECK_NOTHROW(ConvGeometry(changed([](auto& s) { s.batch = 0; })));
}

TEST_CASE("ConvGeometries are equal when every size is, and ordered, so that plan caches can key on them") {
  const ConvGeometry g(strided);
  CHECK(g == ConvGeometry(strided));
  CHECK(g != ConvGeometry(changed([](auto& s) { s.batch = 5; })));
  CHECK(g != ConvGeometry(changed([](auto& s) { s.pad_left = 0; })));
  CHECK(g != ConvGeometry(changed([](auto& s) { s.output = {128, 127}; })));
  const std::set<ConvGeometry> keys{g, ConvGeometry(strided), ConvGeometry(changed([](auto& s) { s.stride = 3; }))};
  CHECK(keys.size() == 2);
}
