#pragma once
// Optical flow between video frames (OpenCV's DIS), bilinear warping (cv::remap), occlusions by
// forward-backward consistency, and the warping error of Lai et al. (ECCV 2018): how much an output
// video flickers where the input moved coherently. Needs OpenCV's core, imgproc and video modules
// (CMake's perceptual::video): only programs and tests that link it include this header.
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/host.hpp"

namespace perceptual::video {

// A video frame as the networks see it: 1x3xHxW, RGB on the 0..255 scale.
using Frame = Tensor<float, Cpu>;

inline void require_frame(const Frame& f, const std::string& where) {
  if (f.n() != 1 || f.c() != 3 || f.h() < 1 || f.w() < 1)
    throw ShapeError(where + ": frame " + to_string(f.shape()) + ", expected 1x3xHxW");
}

// The frame as an H x W CV_32FC3 image (interleaved RGB, 0..255).
inline cv::Mat to_mat(const Frame& f) {
  require_frame(f, "video::to_mat");
  cv::Mat m(f.h(), f.w(), CV_32FC3);
  const std::size_t plane = f.shape().plane();
  const float* src = f.data();
  for (int i = 0; i < f.h(); ++i) {
    auto* row = m.ptr<float>(i);
    for (int j = 0; j < f.w(); ++j)
      for (int c = 0; c < 3; ++c) row[3 * j + c] = src[c * plane + static_cast<std::size_t>(i) * f.w() + j];
  }
  return m;
}

// A CV_32FC3 image (interleaved RGB) as a frame.
inline Frame from_mat(const cv::Mat& m) {
  if (m.type() != CV_32FC3) throw ArgumentError("video::from_mat: expected a CV_32FC3 image");
  Frame f({1, 3, m.rows, m.cols}, uninitialized);
  const std::size_t plane = f.shape().plane();
  float* dst = f.data();
  for (int i = 0; i < m.rows; ++i) {
    const auto* row = m.ptr<float>(i);
    for (int j = 0; j < m.cols; ++j)
      for (int c = 0; c < 3; ++c) dst[c * plane + static_cast<std::size_t>(i) * m.cols + j] = row[3 * j + c];
  }
  return f;
}

// 8-bit luminance (BT.601), what DIS flow takes.
inline cv::Mat luminance(const Frame& f) {
  require_frame(f, "video::luminance");
  cv::Mat y(f.h(), f.w(), CV_8UC1);
  const std::size_t plane = f.shape().plane();
  const float* p = f.data();
  for (int i = 0; i < f.h(); ++i)
    for (int j = 0; j < f.w(); ++j) {
      const std::size_t k = static_cast<std::size_t>(i) * f.w() + j;
      y.at<unsigned char>(i, j) =
          cv::saturate_cast<unsigned char>(0.299f * p[k] + 0.587f * p[plane + k] + 0.114f * p[2 * plane + k]);
    }
  return y;
}

// Dense optical flow by DIS (Kroeger et al. 2016; OpenCV's maintained implementation, fast and
// accurate on real video): flow(from, to) is the CV_32FC2 field f with from(x) ~ to(x + f(x)).
class OpticalFlow {
 public:
  explicit OpticalFlow(int preset = cv::DISOpticalFlow::PRESET_MEDIUM) : dis_(cv::DISOpticalFlow::create(preset)) {}
  cv::Mat operator()(const Frame& from, const Frame& to) {
    if (from.shape() != to.shape())
      throw ShapeError("video::OpticalFlow: frames " + to_string(from.shape()) + " and " + to_string(to.shape()) +
                       " differ in size");
    cv::Mat flow;
    dis_->calc(luminance(from), luminance(to), flow);
    return flow;
  }

 private:
  cv::Ptr<cv::DISOpticalFlow> dis_;
};

// warp(image, f)(x) = image(x + f(x)), bilinear; samples past the border take the nearest edge
// pixel (such pixels are masked out by consistency_mask anyway).
inline cv::Mat warp(const cv::Mat& image, const cv::Mat& flow) {
  if (flow.type() != CV_32FC2 || flow.size() != image.size())
    throw ArgumentError("video::warp: the flow must be CV_32FC2 of the image's size");
  cv::Mat map(flow.size(), CV_32FC2);
  for (int i = 0; i < flow.rows; ++i) {
    const auto* f = flow.ptr<cv::Vec2f>(i);
    auto* m = map.ptr<cv::Vec2f>(i);
    for (int j = 0; j < flow.cols; ++j)
      m[j] = cv::Vec2f(static_cast<float>(j) + f[j][0], static_cast<float>(i) + f[j][1]);
  }
  cv::Mat out;
  cv::remap(image, out, map, cv::noArray(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  return out;
}

// Pixels x of frame t whose flow to frame t-1, a = back(x), is reliable (CV_8UC1, 1 or 0): x + a
// lies in the frame and the forward flow there, b = fwd(x + a), brings it back (Sundaram et al.
// 2010, as Ruder et al. 2016 and Lai et al. 2018 use it): |a + b|^2 < 0.01 (|a|^2 + |b|^2) + 0.5.
// Occluded and disoccluded pixels fail it, so neither the metric nor the flow method trusts them.
inline cv::Mat consistency_mask(const cv::Mat& back, const cv::Mat& fwd) {
  if (back.type() != CV_32FC2 || fwd.type() != CV_32FC2 || back.size() != fwd.size())
    throw ArgumentError("video::consistency_mask: two CV_32FC2 flows of one size expected");
  const cv::Mat fwd_at = warp(fwd, back);
  cv::Mat mask(back.size(), CV_8UC1);
  for (int i = 0; i < back.rows; ++i) {
    const auto* a = back.ptr<cv::Vec2f>(i);
    const auto* b = fwd_at.ptr<cv::Vec2f>(i);
    auto* m = mask.ptr<unsigned char>(i);
    for (int j = 0; j < back.cols; ++j) {
      const float x = static_cast<float>(j) + a[j][0], y = static_cast<float>(i) + a[j][1];
      const bool inside =
          x >= 0 && y >= 0 && x <= static_cast<float>(back.cols - 1) && y <= static_cast<float>(back.rows - 1);
      const cv::Vec2f s = a[j] + b[j];
      m[j] = inside && s.dot(s) < 0.01f * (a[j].dot(a[j]) + b[j].dot(b[j])) + 0.5f;
    }
  }
  return mask;
}

// The motion from input frame t-1 to frame t, as both the metric and the flow method use it:
// `back` (t -> t-1, at frame t's pixels: warp(frame t-1, back) ~ frame t) and where it is reliable.
struct Motion {
  cv::Mat back;  // CV_32FC2
  cv::Mat mask;  // CV_8UC1, 1 where reliable
  double reliable_fraction() const { return back.empty() ? 0 : cv::countNonZero(mask) / double(mask.total()); }
};

inline Motion motion(OpticalFlow& flow, const Frame& previous, const Frame& current) {
  Motion m;
  m.back = flow(current, previous);
  m.mask = consistency_mask(m.back, flow(previous, current));
  return m;
}

// Lai et al. 2018, eq. 7 for one pair: the mean over reliable pixels of the squared RGB distance
// between output frame t and output frame t-1 warped by the input's motion, colours on the 0..1
// scale (theirs); 0 when no pixel is reliable (reliable_fraction says so).
inline double pair_warping_error(const Frame& output, const Frame& previous_output, const Motion& m) {
  if (output.shape() != previous_output.shape() || output.h() != m.back.rows || output.w() != m.back.cols)
    throw ShapeError("video::pair_warping_error: outputs " + to_string(output.shape()) + " and " +
                     to_string(previous_output.shape()) + " against a flow of " + std::to_string(m.back.rows) + "x" +
                     std::to_string(m.back.cols));
  const cv::Mat warped = warp(to_mat(previous_output), m.back), current = to_mat(output);
  double sum = 0;
  std::size_t count = 0;
  for (int i = 0; i < current.rows; ++i) {
    const auto* a = current.ptr<cv::Vec3f>(i);
    const auto* b = warped.ptr<cv::Vec3f>(i);
    const auto* r = m.mask.ptr<unsigned char>(i);
    for (int j = 0; j < current.cols; ++j) {
      if (!r[j]) continue;
      const cv::Vec3f d = (a[j] - b[j]) / 255.0f;
      sum += d.dot(d);
      ++count;
    }
  }
  return count ? sum / static_cast<double>(count) : 0;
}

// The warping error (Lai et al. 2018, eq. 8) of one or more output videos of one input, frame by
// frame: add(input t, outputs t) for t = 0, 1, ...; the input's motion is computed once a frame for
// all of them. mean(k) is output k's mean over the pairs (t-1, t) that had a reliable pixel.
class WarpingError {
 public:
  explicit WarpingError(std::size_t outputs = 1) : sums_(outputs) {}

  void add(const Frame& input, std::span<const Frame> outputs) {
    require_frame(input, "video::WarpingError");
    if (outputs.size() != sums_.size())
      throw ArgumentError("video::WarpingError: " + std::to_string(outputs.size()) + " outputs, made for " +
                          std::to_string(sums_.size()));
    for (const Frame& output : outputs)
      if (input.h() != output.h() || input.w() != output.w())
        throw ShapeError("video::WarpingError: input frame " + to_string(input.shape()) + " and output frame " +
                         to_string(output.shape()) + " differ in size");
    if (!previous_input_.empty()) {
      const Motion m = motion(flow_, previous_input_, input);
      const double fraction = m.reliable_fraction();
      reliable_sum_ += fraction;
      ++pairs_;
      if (fraction > 0) {
        for (std::size_t k = 0; k < outputs.size(); ++k)
          sums_[k] += pair_warping_error(outputs[k], previous_outputs_[k], m);
        ++counted_;
      }
    }
    previous_input_ = input;
    previous_outputs_.assign(outputs.begin(), outputs.end());
  }
  void add(const Frame& input, const Frame& output) { add(input, std::span<const Frame>(&output, 1)); }

  double mean(std::size_t k = 0) const { return counted_ ? sums_.at(k) / counted_ : 0; }
  // The mean over the pairs so far of the fraction of reliable pixels.
  double reliable() const { return pairs_ ? reliable_sum_ / pairs_ : 0; }

 private:
  OpticalFlow flow_;
  Frame previous_input_;
  std::vector<Frame> previous_outputs_;
  std::vector<double> sums_;
  double reliable_sum_ = 0;
  long pairs_ = 0, counted_ = 0;
};

}  // namespace perceptual::video
