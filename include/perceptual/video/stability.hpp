#pragma once
// Temporal stability for a feed-forward style network run frame by frame, whose outputs flicker:
// small changes of the input (noise, compression, light) move the stylised texture. The flow
// method blends the previous output, carried along the input's motion, into each new one where the
// motion is reliable; scene cuts start afresh. (The ema method, instance-norm statistics shared
// across frames, is layers/shared_statistics.hpp; it needs no flow.)
#include <cmath>
#include <cstddef>

#include "perceptual/video/flow.hpp"

namespace perceptual::video {

// Whether `current` starts a new shot after `previous`: their mean absolute difference on the
// 0..255 scale exceeds `threshold`. Within a shot, even fast motion rarely moves the mean by more
// than a few tens of levels; at a cut most pixels change by much more.
inline bool scene_cut(const Frame& previous, const Frame& current, double threshold) {
  if (previous.empty() || previous.shape() != current.shape()) return true;
  double sum = 0;
  for (std::size_t i = 0; i < current.size(); ++i) sum += std::abs(current.data()[i] - previous.data()[i]);
  return sum / static_cast<double>(current.size()) > threshold;
}

// out_t = m * alpha * warp(out_{t-1}) + (1 - m * alpha) * stylised_t, m the consistency mask of the
// input's motion from t-1 to t (Ruder et al. 2016's occlusion rule, here applied to a feed-forward
// network's outputs at run time instead of in its loss). alpha near 1 keeps more of the past: less
// flicker, and some blur, since each warp interpolates; alpha 0 is the per-frame output.
class FlowBlend {
 public:
  explicit FlowBlend(double alpha) : alpha_(alpha) {
    if (!(alpha >= 0 && alpha < 1)) throw ArgumentError("FlowBlend: alpha must be in [0, 1)");
  }

  // The blended frame t from input frame t and the network's output for it (input's size).
  Frame operator()(const Frame& input, const Frame& stylised) {
    if (stylised.shape() != input.shape())
      throw ShapeError("FlowBlend: output " + to_string(stylised.shape()) + " for input " + to_string(input.shape()));
    Frame out = stylised;
    if (!previous_input_.empty()) {
      const Motion m = motion(flow_, previous_input_, input);
      const cv::Mat carried = warp(to_mat(previous_output_), m.back);
      const cv::Mat now = to_mat(stylised);
      cv::Mat blended = now.clone();
      for (int i = 0; i < now.rows; ++i) {
        const auto* c = carried.ptr<cv::Vec3f>(i);
        const auto* s = now.ptr<cv::Vec3f>(i);
        const auto* r = m.mask.ptr<unsigned char>(i);
        auto* b = blended.ptr<cv::Vec3f>(i);
        for (int j = 0; j < now.cols; ++j)
          if (r[j]) b[j] = static_cast<float>(alpha_) * c[j] + static_cast<float>(1 - alpha_) * s[j];
      }
      out = from_mat(blended);
    }
    previous_input_ = input;
    previous_output_ = out;
    return out;
  }

  // Forgets the past (at a scene cut): the next frame is the network's output as it is.
  void reset() {
    previous_input_ = Frame{};
    previous_output_ = Frame{};
  }

 private:
  double alpha_;
  OpticalFlow flow_;
  Frame previous_input_, previous_output_;
};

}  // namespace perceptual::video
