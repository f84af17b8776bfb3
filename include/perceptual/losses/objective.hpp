#pragma once
// The style-transfer objective (Johnson et al. 2016, eq. 5) through a frozen VGG loss network:
//   content_weight * feature loss + style_weight * style loss + tv_weight * TV
// with the layers chosen by name at run time. What the Gatys baseline minimises over the pixels,
// what a feed-forward network is trained on, and what figure 5 compares the two by.
#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/tensor.hpp"
#include "perceptual/losses/feature.hpp"
#include "perceptual/losses/objective_options.hpp"
#include "perceptual/losses/style.hpp"
#include "perceptual/losses/tv.hpp"
#include "perceptual/nets/vgg.hpp"
#include "perceptual/nets/vgg_weights.hpp"

namespace perceptual::losses {

// The weighted terms; total = content + style + tv. For a batch, each is the mean over images.
struct ObjectiveTerms {
  double total = 0, content = 0, style = 0, tv = 0;
};

template <class T, class B>
struct ObjectiveResult {
  ObjectiveTerms terms;
  Tensor<T, B> grad;  // d terms.total / dy, y's shape
};

// Eq. 5 for one loss network VggNet (e.g. nets::AllReluVgg16, whose taps are every ReLU): only
// the taps the options name are computed, and the network stops at the deepest.
//
//   StyleObjective<nets::AllReluVgg19, Cpu> objective(options, "vgg19.safetensors");
//   objective.set_style(style);      // its Gram matrices, once (any size)
//   objective.set_content(content);  // its features at the content layers
//   auto r = objective.evaluate(y);  // r.terms, r.grad = d total / dy
//
// requires: a weight > 0 names at least one layer (else ArgumentError); layer names are taps of
//           VggNet (else ArgumentError listing the valid ones); set_style before evaluating with
//           style_weight > 0, set_content (of y's shape) with content_weight > 0 (else Error).
template <class VggNet, class B, class T = float>
class StyleObjective {
 public:
  using TensorT = Tensor<T, B>;
  using Vgg = nets::LossNetwork<VggNet, B, T>;

  // The loss network keeps its default (zero) weights: fill them through loss_network().
  explicit StyleObjective(const StyleObjectiveOptions& options)
      : options_(options),
        content_taps_(nets::tap_indices<VggNet>(options.content_layers, "content layers")),
        style_taps_(nets::tap_indices<VggNet>(options.style_layers, "style layers")) {
    if (!(options_.content_weight >= 0 && options_.style_weight >= 0 && options_.tv_weight >= 0))
      throw ArgumentError("StyleObjective: the weights must be >= 0");
    if (options_.content_weight > 0 && content_taps_.empty())
      throw ArgumentError("StyleObjective: content weight > 0 needs at least one content layer");
    if (options_.style_weight > 0 && style_taps_.empty())
      throw ArgumentError("StyleObjective: style weight > 0 needs at least one style layer");
    if (!(options_.content_weight > 0) && !(options_.style_weight > 0))
      throw ArgumentError("StyleObjective: the content and style weights are both 0: no loss network term");
    for (int t : content_taps_) active_all_[t] = active_content_[t] = options_.content_weight > 0;
    for (int t : style_taps_) {
      active_style_[t] = options_.style_weight > 0;
      active_all_[t] = active_all_[t] || active_style_[t];
    }
    vgg_.set_active_taps(active_all_);
  }

  // Also loads the taps' VGG weights and input normalisation (nets::load_vgg_weights).
  StyleObjective(const StyleObjectiveOptions& options, const std::filesystem::path& vgg_weights)
      : StyleObjective(options) {
    nets::load_vgg_weights(vgg_, vgg_weights);
  }

  // The style image's Gram matrices at the style layers (style: 1x3xHxW in [0, 255], any size).
  void set_style(const TensorT& style) {
    if (!(options_.style_weight > 0)) return;
    if (style.n() != 1)
      throw ShapeError("StyleObjective: style image " + to_string(style.shape()) + ", expected 1x3xHxW");
    const auto features = forward_with(active_style_, style);
    std::vector<TensorT> list;
    for (int t : style_taps_) list.push_back(features[t].share());
    style_target_ = make_style_target(list);
  }

  // The content targets: the features of `content` (N images) at the content layers.
  void set_content(const TensorT& content) {
    if (!(options_.content_weight > 0)) return;
    content_shape_ = content.shape();
    content_features_ = forward_with(active_content_, content);
  }

  // The terms at y (Nx3xHxW in [0, 255]) and d total / dy (one VGG forward and backward).
  ObjectiveResult<T, B> evaluate(const TensorT& y) { return run(y, true); }

  // The terms only: no VGG backward, no gradient.
  ObjectiveTerms value(const TensorT& y) {
    NoGrad no_grad;
    return run(y, false).terms;
  }

  Vgg& loss_network() { return vgg_; }
  const StyleObjectiveOptions& options() const { return options_; }
  const StyleTarget<T, B>& style_target() const { return style_target_; }

 private:
  using Active = std::array<bool, VggNet::num_taps>;

  // Targets: no gradient flows into them, so the pass keeps nothing.
  typename Vgg::Features forward_with(const Active& active, const TensorT& x) {
    NoGrad no_grad;
    vgg_.set_active_taps(active);
    auto features = vgg_.forward(x);
    vgg_.set_active_taps(active_all_);
    return features;
  }

  ObjectiveResult<T, B> run(const TensorT& y, bool with_grad) {
    const bool content = options_.content_weight > 0, style = options_.style_weight > 0;
    if (style && style_target_.size() == 0) throw Error("StyleObjective: set_style before evaluating");
    if (content && content_features_[content_taps_.front()].empty())
      throw Error("StyleObjective: set_content before evaluating");
    if (content && y.shape() != content_shape_)
      throw ShapeError("StyleObjective: image " + to_string(y.shape()) + " against content " +
                       to_string(content_shape_) + "; they must have the same shape");

    ObjectiveResult<T, B> r;
    const auto features = vgg_.forward(y);
    typename Vgg::Features g;  // d total / d features at each tap; empty counts as zero
    const auto add = [&](int t, TensorT&& d) {
      if (g[t].empty())
        g[t] = std::move(d);
      else
        axpy(g[t], T(1), d);
    };
    if (content)
      for (int t : content_taps_) {
        auto c = feature_loss(features[t], content_features_[t], options_.content_weight);
        r.terms.content += c.value;
        if (with_grad) add(t, std::move(c.grad));
      }
    if (style) {
      std::vector<TensorT> f;
      for (int t : style_taps_) f.push_back(features[t].share());
      auto s = style_loss(f, style_target_, std::vector<double>(style_taps_.size(), options_.style_weight));
      r.terms.style = s.value;
      if (with_grad)
        for (std::size_t i = 0; i < style_taps_.size(); ++i) add(style_taps_[i], std::move(s.grads[i]));
    }
    if (with_grad) r.grad = vgg_.backward(std::move(g));  // each tap's gradient freed once used
    if (options_.tv_weight > 0) {
      auto tv = total_variation_loss(y, options_.tv_weight, options_.tv_norm);
      r.terms.tv = tv.value;
      if (with_grad) axpy(r.grad, T(1), tv.grad);
    }
    r.terms.total = r.terms.content + r.terms.style + r.terms.tv;
    return r;
  }

  StyleObjectiveOptions options_;
  std::vector<int> content_taps_, style_taps_;
  Active active_all_{}, active_content_{}, active_style_{};
  Vgg vgg_;
  StyleTarget<T, B> style_target_;
  typename Vgg::Features content_features_;
  Shape4 content_shape_{};
};

// The Gatys baseline's starting point (Johnson et al. sec. 4.1: "y is initialized with white
// noise"): N(127.5, 32^2) per pixel, clipped to [0, 255], from `seed` (the same image every run).
template <class T, class B>
Tensor<T, B> white_noise_image(Shape4 shape, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(127.5f, 32.0f);
  std::vector<T> v(shape.size());
  for (auto& e : v) e = static_cast<T>(std::clamp(noise(rng), 0.0f, 255.0f));
  return Tensor<T, B>::from_host(shape, v);
}

}  // namespace perceptual::losses
