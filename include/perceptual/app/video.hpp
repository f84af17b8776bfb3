#pragma once
// What stylize_video does, once for its programs (CPU and CUDA): a video read
// by FFmpeg, each frame through a style network (ours or lengstrom's) with a stability method, the
// result written at the input's frame rate with its audio. Needs OpenCV (perceptual::video).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "perceptual/app/images.hpp"
#include "perceptual/app/progress.hpp"
#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/layers/shared_statistics.hpp"
#include "perceptual/nets/engstrom.hpp"
#include "perceptual/nets/transform.hpp"
#include "perceptual/video/ffmpeg.hpp"
#include "perceptual/video/stability.hpp"
#include "perceptual/video/style_distance.hpp"

namespace perceptual::app {

struct VideoOptions {
  std::string stability = "per-frame";  // per-frame, ema or flow
  double alpha = 0.3;                   // flow: the weight of the carried previous output (docs/RESULTS.md)
  double momentum = 0.9;                // ema: the weight of the past statistics
  double scene_cut = 30;                // mean absolute difference (0..255) that starts a new shot
  int crf = 18;                         // x264's quality (0 lossless .. 51)
  long max_frames = 0;                  // 0: all
};

inline void add_video_flags(CLI::App& cli, VideoOptions& o) {
  cli.add_option("--stability", o.stability,
                 "per-frame: each frame alone (flickers); ema: instance-norm statistics as a moving average over "
                 "frames (--momentum); flow: the previous output carried along the input's optical flow and blended "
                 "in where the flow is reliable (--alpha)")
      ->capture_default_str()
      ->check(CLI::IsMember({"per-frame", "ema", "flow"}));
  cli.add_option("--alpha", o.alpha, "flow: weight of the carried previous output, in [0, 1)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.999));
  cli.add_option("--momentum", o.momentum, "ema: weight of the past statistics, in [0, 1)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.999));
  cli.add_option("--scene-cut", o.scene_cut,
                 "a frame whose mean absolute difference from the last (0..255) exceeds this starts afresh (ema, "
                 "flow)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cli.add_option("--crf", o.crf, "H.264 quality of the output (0 lossless .. 51; 18 looks lossless)")
      ->capture_default_str()
      ->check(CLI::Range(0, 51));
  cli.add_option("--max-frames", o.max_frames, "stylise only the first N frames (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
}

// One frame (on the host) through a style network on backend B, at the frame's size: ours
// reflection-padded to a multiple of 4, lengstrom's with TensorFlow's SAME arithmetic; both cropped
// to the frame (values unrounded), back on the host.
template <class Net, class B>
Tensor<float, Cpu> stylize_frame(Model<Net, B, float>& net, const Tensor<float, Cpu>& frame) {
  const auto run = [&](const Tensor<float, Cpu>& x) {
    return crop_top_left(to_backend<Cpu>(net.forward(to_backend<B>(x))), frame.h(), frame.w());
  };
  if constexpr (std::is_same_v<Net, nets::EngstromNet>)
    return run(frame);
  else
    return run(pad_to_multiple(frame, nets::style_transform_multiple));
}

struct VideoRun {
  long frames = 0;
  long scene_cuts = 0;
  double seconds = 0;  // decoding, stylising and encoding, the whole loop
};

// Stylises `input` into `output` frame by frame with `net` (eval mode, on backend B), as
// options.stability asks. Decoding, the flow method and encoding run on the CPU.
template <class Net, class B>
VideoRun stylize_video(Model<Net, B, float>& net, const std::filesystem::path& input,
                       const std::filesystem::path& output, const VideoOptions& o) {
  std::error_code ec;
  if (std::filesystem::equivalent(input, output, ec))
    throw ArgumentError("the output " + output.string() + " would replace the input");
  video::VideoReader reader(input);
  const video::VideoInfo& info = reader.info();
  video::VideoWriter writer(output, info.width, info.height, info.frame_rate, input, o.crf);
  long total = info.frames > 0 ? info.frames : 0;
  if (o.max_frames > 0) total = total > 0 ? std::min(total, o.max_frames) : o.max_frames;
  Progress progress("stylize_video", std::max(total, 1L));

  layers::InstanceNormHistory history(o.stability == "ema" ? o.momentum : 0);
  video::FlowBlend blend(o.stability == "flow" ? o.alpha : 0);
  VideoRun run;
  Tensor<float, Cpu> frame, previous;
  while ((o.max_frames == 0 || run.frames < o.max_frames) && reader.read(frame)) {
    if (!previous.empty() && video::scene_cut(previous, frame, o.scene_cut)) {
      history.reset();
      blend.reset();
      ++run.scene_cuts;
    }
    Tensor<float, Cpu> y;
    {
      NoGrad no_grad;  // inference: the layers keep nothing for backward
      if (o.stability == "ema") {
        layers::SharedInstanceNorm shared(history);
        y = stylize_frame(net, frame);
      } else {
        y = stylize_frame(net, frame);
      }
    }
    if (o.stability == "flow") y = blend(frame, y);
    writer.write(y);
    previous = std::move(frame);
    ++run.frames;
    progress.update(std::min(run.frames, std::max(total, 1L)));
  }
  writer.finish();
  run.seconds = progress.seconds();
  if (run.frames == 0) throw FileError("video " + input.string() + ": no frames");
  return run;
}

// The flicker table: for each stylised version of one input video, Lai et al.'s warping error
// (video/flow.hpp; the input's flow, computed once for all) and, when a style distance is given,
// its mean over the frames (video/style_distance.hpp).
struct FlickerRow {
  std::string video;
  long frames = 0;
  double warping_error = 0;    // mean over pairs of frames with a reliable pixel
  double reliable = 0;         // mean fraction of reliable pixels
  double style_distance = -1;  // mean over the frames measured; -1 when not measured
};

// Reads `input` and every one of `stylised` in step, up to `max_frames` (0: all) or the shortest;
// `distance` (may be null) measures frames 0, distance_every, 2 * distance_every, ... of each
// stylised video (a VGG pass per frame costs more than the flow: one in 10 frames estimates the mean).
inline std::vector<FlickerRow> measure_flicker(const std::filesystem::path& input,
                                               const std::vector<std::filesystem::path>& stylised,
                                               video::StyleDistance<>* distance, long max_frames,
                                               long distance_every = 1) {
  if (distance_every < 1) throw ArgumentError("measure_flicker: distance_every must be at least 1");
  video::VideoReader in(input);
  std::vector<std::unique_ptr<video::VideoReader>> outs;
  for (const auto& path : stylised) {
    outs.push_back(std::make_unique<video::VideoReader>(path));
    const auto& i = outs.back()->info();
    if (i.width != in.info().width || i.height != in.info().height)
      throw ShapeError("video " + path.string() + " is " + std::to_string(i.width) + "x" + std::to_string(i.height) +
                       ", the input " + input.string() + " " + std::to_string(in.info().width) + "x" +
                       std::to_string(in.info().height));
  }
  std::vector<FlickerRow> rows(stylised.size());
  video::WarpingError warping(stylised.size());
  std::vector<double> distance_sums(stylised.size());
  long distance_frames = 0;
  Tensor<float, Cpu> frame;
  std::vector<Tensor<float, Cpu>> out(stylised.size());
  long total = in.info().frames;
  if (max_frames > 0) total = total > 0 ? std::min(total, max_frames) : max_frames;
  Progress progress("flicker", std::max(total, 1L));
  long t = 0;
  for (; max_frames == 0 || t < max_frames; ++t) {
    if (!in.read(frame)) break;
    bool all = true;
    for (std::size_t k = 0; k < outs.size(); ++k) all = outs[k]->read(out[k]) && all;
    if (!all) break;
    warping.add(frame, out);
    if (distance && t % distance_every == 0) {
      for (std::size_t k = 0; k < outs.size(); ++k) distance_sums[k] += (*distance)(out[k]);
      ++distance_frames;
    }
    progress.update(std::min(t + 1, std::max(total, 1L)));
  }
  if (t < 2) throw FileError("flicker: fewer than 2 frames to compare");
  for (std::size_t k = 0; k < rows.size(); ++k) {
    rows[k].video = stylised[k].string();
    rows[k].frames = t;
    rows[k].warping_error = warping.mean(k);
    rows[k].reliable = warping.reliable();
    if (distance) rows[k].style_distance = distance_sums[k] / static_cast<double>(distance_frames);
  }
  return rows;
}

}  // namespace perceptual::app
