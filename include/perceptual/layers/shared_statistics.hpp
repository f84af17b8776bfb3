#pragma once
// Instance-norm statistics shared across the frames of a video: inside a SharedInstanceNorm scope,
// each InstanceNorm layer normalises with an exponential moving average of its per-channel mean
// and variance over the frames so far, not with this frame's alone. A style network's instance
// norms re-estimate the contrast of every feature map per frame, and small input changes move those
// estimates and with them the whole texture (flicker); averaging them over time steadies it.
//
//   layers::InstanceNormHistory history(0.9);              // once per video
//   for (frame : video) {
//     if (cut) history.reset();
//     NoGrad no_grad;
//     layers::SharedInstanceNorm shared(history);          // per frame
//     y = net.forward(frame);
//   }
//
// A scope, as NoGrad and dist::SyncBatchNorm, rather than a setting on each layer: the norms sit
// anywhere in a net's composition. Layers are told apart by the order of their calls in one
// forward pass, the same for every frame of one network.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "perceptual/core/error.hpp"

namespace perceptual::layers {

// The moving averages of one network's instance norms, one (mean, variance) per channel of each.
class InstanceNormHistory {
 public:
  // shared = momentum * shared + (1 - momentum) * this frame's; momentum 0 is per-frame statistics.
  explicit InstanceNormHistory(double momentum) : momentum_(momentum) {
    if (!(momentum >= 0 && momentum < 1)) throw ArgumentError("InstanceNormHistory: momentum must be in [0, 1)");
  }

  // Forgets every average (a scene cut): the next frame starts from its own statistics.
  void reset() { layers_.clear(); }
  double momentum() const { return momentum_; }
  std::size_t layers() const { return layers_.size(); }

  // For InstanceNorm: blends the next layer's statistics for this frame into its average and
  // returns the average in place. The first frame after a reset takes its own.
  void blend_next(const std::string& layer, std::vector<double>& mean, std::vector<double>& var) {
    if (next_ == layers_.size()) {
      layers_.push_back({mean, var});
    } else {
      auto& [m, v] = layers_[next_];
      if (m.size() != mean.size())
        throw ShapeError(layer + ": shared instance-norm statistics: call " + std::to_string(next_) +
                         " of the pass has " + std::to_string(mean.size()) + " channels, the history's " +
                         std::to_string(m.size()) + " (one history serves one network)");
      for (std::size_t c = 0; c < m.size(); ++c) {
        m[c] = momentum_ * m[c] + (1 - momentum_) * mean[c];
        v[c] = momentum_ * v[c] + (1 - momentum_) * var[c];
      }
      mean = m;
      var = v;
    }
    ++next_;
  }

 private:
  friend class SharedInstanceNorm;
  double momentum_;
  std::vector<std::pair<std::vector<double>, std::vector<double>>> layers_;
  std::size_t next_ = 0;  // the next layer's index in this forward pass
};

namespace detail {
inline thread_local InstanceNormHistory* instance_norm_history = nullptr;
}  // namespace detail

// The history of the innermost SharedInstanceNorm scope open on this thread; nullptr outside one.
inline InstanceNormHistory* shared_instance_norm() noexcept {
  return detail::instance_norm_history;
}

// One forward pass whose InstanceNorm layers use `history` (see above). Inference only: the layers
// refuse it while gradients are enabled (open NoGrad too) and for batches of more than one image.
class SharedInstanceNorm {
 public:
  explicit SharedInstanceNorm(InstanceNormHistory& history) noexcept
      : previous_(std::exchange(detail::instance_norm_history, &history)) {
    history.next_ = 0;
  }
  SharedInstanceNorm(const SharedInstanceNorm&) = delete;
  SharedInstanceNorm& operator=(const SharedInstanceNorm&) = delete;
  ~SharedInstanceNorm() { detail::instance_norm_history = previous_; }

 private:
  InstanceNormHistory* previous_;
};

}  // namespace perceptual::layers
