// The warping error (Lai et al. 2018) and its parts: warping, the consistency mask, DIS flow on
// clips whose motion is known.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "perceptual/video/flow.hpp"
#include "support/clips.hpp"
#include "support/random.hpp"

using namespace perceptual;
using video::Frame;

namespace {

cv::Mat constant_flow(int h, int w, float dx, float dy) {
  return cv::Mat(h, w, CV_32FC2, cv::Scalar(dx, dy));
}

double clip_warping_error(const std::vector<Frame>& input, const std::vector<Frame>& output) {
  video::WarpingError e;
  for (std::size_t t = 0; t < input.size(); ++t) e.add(input[t], output[t]);
  return e.mean();
}

}  // namespace

TEST_CASE("to_mat and from_mat give back the frame") {
  const Frame f = testing::texture_window(5, 7, 0);
  const Frame g = video::from_mat(video::to_mat(f));
  CHECK(g.shape() == f.shape());
  CHECK(g.to_host() == f.to_host());
}

TEST_CASE("warp by a whole-pixel flow samples the image that many pixels on") {
  const cv::Mat image = video::to_mat(testing::texture_window(8, 10, 0));
  const cv::Mat moved = video::warp(image, constant_flow(8, 10, 2, 1));
  for (int i = 0; i + 1 < 8; ++i)
    for (int j = 0; j + 2 < 10; ++j)
      for (int c = 0; c < 3; ++c)
        CHECK(moved.at<cv::Vec3f>(i, j)[c] == doctest::Approx(image.at<cv::Vec3f>(i + 1, j + 2)[c]));
}

TEST_CASE("The consistency mask keeps flows that the reverse flow undoes, and drops pixels that leave the frame") {
  const cv::Mat back = constant_flow(6, 10, 2, 0);
  const cv::Mat mask = video::consistency_mask(back, constant_flow(6, 10, -2, 0));
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 10; ++j) {
      INFO("pixel " << i << "," << j);
      CHECK(mask.at<unsigned char>(i, j) == (j + 2 <= 9 ? 1 : 0));
    }
  // A reverse flow that does not undo the motion: 4 px apart, far past the 0.5 px^2 slack.
  CHECK(cv::countNonZero(video::consistency_mask(back, constant_flow(6, 10, 2, 0))) == 0);
}

TEST_CASE("DIS flow finds a pan's known motion") {
  const auto clip = testing::pan_clip(2, 64, 64, 2);
  video::OpticalFlow flow;
  const video::Motion m = video::motion(flow, clip[0], clip[1]);
  // Frame 1 at x is frame 0 at x + 2: the flow to the previous frame is (+2, 0) inside.
  const cv::Vec2f f = m.back.at<cv::Vec2f>(32, 32);
  CHECK(f[0] == doctest::Approx(2).epsilon(0.1));
  CHECK(std::abs(f[1]) < 0.2);
  CHECK(m.reliable_fraction() > 0.8);
}

TEST_CASE("A still clip has no warping error") {
  const std::vector<Frame> clip(4, testing::texture_window(48, 64, 0));
  CHECK(clip_warping_error(clip, clip) < 1e-6);
}

TEST_CASE("A pan has a small warping error, independent noise a large one") {
  const auto pan = testing::pan_clip(4, 64, 64, 2);
  const std::uint64_t seed = testing::test_seed();
  INFO("seed " << seed);
  const auto noise = testing::noise_clip(4, 64, 64, seed);
  const double pan_error = clip_warping_error(pan, pan);
  // Output noise over the pan's input: the pan's motion, reliable, explains none of it. Two
  // independent uniform colours on 0..1 differ by 3 * 1/6 = 0.5 in squared RGB distance on average.
  const double noise_error = clip_warping_error(pan, noise);
  const double noise_noise_error = clip_warping_error(noise, noise);
  INFO("pan " << pan_error << ", noise over a pan " << noise_error << ", noise " << noise_noise_error);
  CHECK(pan_error < 1e-3);
  CHECK(noise_error == doctest::Approx(0.5).epsilon(0.1));
  CHECK(noise_noise_error > 0.1);
}

TEST_CASE("WarpingError refuses an output of another size than its input") {
  video::WarpingError e;
  CHECK_THROWS_AS(e.add(testing::texture_window(8, 8, 0), testing::texture_window(8, 12, 0)), ShapeError);
}

TEST_CASE("WarpingError of several outputs: each one's error as measured alone, the input's flow once") {
  const auto pan = testing::pan_clip(4, 48, 48, 2);
  const auto noise = testing::noise_clip(4, 48, 48, 7);
  video::WarpingError both(2);
  for (std::size_t t = 0; t < pan.size(); ++t) both.add(pan[t], std::vector<Frame>{pan[t], noise[t]});
  CHECK(both.mean(0) == doctest::Approx(clip_warping_error(pan, pan)).epsilon(1e-12));
  CHECK(both.mean(1) == doctest::Approx(clip_warping_error(pan, noise)).epsilon(1e-12));
  CHECK(both.reliable() > 0.8);
  CHECK_THROWS_AS(both.add(pan[0], pan[0]), ArgumentError);  // made for two outputs
}
