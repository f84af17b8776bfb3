// The flow method and the scene-cut rule, on generated clips whose motion is known.
#include <doctest/doctest.h>

#include <vector>

#include "perceptual/video/stability.hpp"
#include "support/clips.hpp"
#include "support/random.hpp"

using namespace perceptual;
using video::Frame;

TEST_CASE("scene_cut tells a new shot from motion within one") {
  const auto pan = testing::pan_clip(2, 48, 64, 2);
  CHECK_FALSE(video::scene_cut(pan[0], pan[1], 30));
  CHECK(video::scene_cut(pan[0], testing::noise_clip(1, 48, 64, 1)[0], 30));
  CHECK(video::scene_cut(Frame{}, pan[0], 30));  // no previous frame: a start
}

TEST_CASE("FlowBlend carries the previous output along the motion and steadies a flickering output") {
  // The "network" adds fresh noise to every frame of a pan: blending halves what changes from frame to frame.
  const auto pan = testing::pan_clip(6, 64, 64, 2);
  const std::uint64_t seed = testing::test_seed();
  INFO("seed " << seed);
  const auto noise = testing::noise_clip(6, 64, 64, seed);
  std::vector<Frame> flickering;
  for (std::size_t t = 0; t < pan.size(); ++t) {
    Frame y = pan[t];
    for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] += 0.1f * (noise[t].data()[i] - 127.5f);
    flickering.push_back(y);
  }
  video::FlowBlend blend(0.7);
  video::WarpingError before, after;
  for (std::size_t t = 0; t < pan.size(); ++t) {
    const Frame out = blend(pan[t], flickering[t]);
    if (t == 0) CHECK(out.to_host() == flickering[0].to_host());  // nothing to carry yet
    before.add(pan[t], flickering[t]);
    after.add(pan[t], out);
  }
  INFO("warping error " << before.mean() << " per frame, " << after.mean() << " blended");
  CHECK(after.mean() < 0.5 * before.mean());
}

TEST_CASE("FlowBlend with alpha 0 is the per-frame output, and after reset starts afresh") {
  const auto pan = testing::pan_clip(3, 32, 32, 2);
  video::FlowBlend none(0);
  for (const auto& f : pan) CHECK(none(f, f).to_host() == f.to_host());
  video::FlowBlend blend(0.5);
  blend(pan[0], pan[0]);
  blend.reset();
  CHECK(blend(pan[1], pan[2]).to_host() == pan[2].to_host());
  CHECK_THROWS_AS(video::FlowBlend(1.0), ArgumentError);
}
