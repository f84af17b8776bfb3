#pragma once
// StyleTrainer: Johnson et al.'s training of a style transformation network (section 3, eq. 5):
// per batch x, y = f_W(x), then minimise content_weight * feature loss(VGG(y), VGG(x)) + style
// weight * style loss(VGG(y), Grams of the style image) + tv_weight * TV(y) over W with Adam.
// Checkpoints hold everything a bit-identical continuation needs (parameters, Adam moments and
// step count, the iteration); the batches come from train::BatchLoader, which depends on (seed, k).
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/core/error.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/io/safetensors.hpp"
#include "perceptual/losses/losses.hpp"
#include "perceptual/nets/transform.hpp"
#include "perceptual/nets/vgg.hpp"
#include "perceptual/nets/vgg_weights.hpp"
#include "perceptual/optim/adam.hpp"

namespace perceptual::train {

// Every ReLU of each VGG as a tap, so that the loss layers can be chosen at run time; only the
// active ones are computed, and the network stops at the deepest.
using AllReluVgg16 = nets::Vgg16<"relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu3_3", "relu4_1",
                                 "relu4_2", "relu4_3", "relu5_1", "relu5_2", "relu5_3">;
using AllReluVgg19 =
    nets::Vgg19<"relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu3_3", "relu3_4", "relu4_1",
                "relu4_2", "relu4_3", "relu4_4", "relu5_1", "relu5_2", "relu5_3", "relu5_4">;

struct StyleTrainerOptions {
  std::vector<std::string> content_layers{"relu2_2"};
  std::vector<std::string> style_layers{"relu1_2", "relu2_2", "relu3_3", "relu4_3"};  // the paper's
  double content_weight = 1;                                                          // lambda_c, each content layer
  double style_weight = 1e-4;  // lambda_s, each style layer (Johnson's 5 / C^2 at C ~ 220; see train_style)
  double tv_weight = 1e-6;     // lambda_TV (plain squared TV, losses::TvNorm::sum), Johnson's
  double lr = 1e-3;            // Adam, as in the paper
  std::uint64_t seed = 0;      // the transformation network's initial weights
};

struct StyleTerms {
  double total = 0, content = 0, style = 0, tv = 0;
};

// "a,b,,c" -> {"a", "b", "c"}.
inline std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

inline std::string join_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ",") + s;
  return out;
}

// Indices of the named layers among the net's taps; ArgumentError listing the valid names otherwise.
template <class VggNet>
std::vector<int> tap_indices(const std::vector<std::string>& layers, const std::string& what) {
  const auto names = VggNet::tap_names();
  std::vector<int> out;
  for (const auto& layer : layers) {
    const auto it = std::find(names.begin(), names.end(), layer);
    if (it == names.end()) {
      std::string valid;
      for (const auto& n : names) valid += " " + n;
      throw ArgumentError(what + ": VGG-" + std::to_string(VggNet::depth) + " has no layer \"" + layer +
                          "\"; valid:" + valid);
    }
    out.push_back(static_cast<int>(it - names.begin()));
  }
  return out;
}

template <class VggNet, class TransformNet = nets::StyleTransformNet<>>
class StyleTrainer {
 public:
  using TensorF = Tensor<float, Cpu>;
  using Vgg = nets::LossNetwork<VggNet, Cpu, float>;
  using Net = Model<TransformNet, Cpu, float>;

  // Loads the VGG taps the layers need from `vgg_weights` (FileError naming a missing layer's
  // tensor), precomputes the style image's Gram matrices (style: 1x3xHxW in [0, 255]) and draws
  // the network's initial weights from options.seed.
  StyleTrainer(const StyleTrainerOptions& options, const std::filesystem::path& vgg_weights, const TensorF& style)
      : options_(options),
        content_taps_(tap_indices<VggNet>(options.content_layers, "content layers")),
        style_taps_(tap_indices<VggNet>(options.style_layers, "style layers")) {
    if (options_.content_weight > 0 && content_taps_.empty())
      throw ArgumentError("StyleTrainer: content weight > 0 needs at least one content layer");
    if (options_.style_weight > 0 && style_taps_.empty())
      throw ArgumentError("StyleTrainer: style weight > 0 needs at least one style layer");
    if (!(options_.content_weight > 0) && !(options_.style_weight > 0))
      throw ArgumentError("StyleTrainer: the content and style weights are both 0: nothing to learn");
    for (int t : content_taps_) active_all_[t] = active_content_[t] = options_.content_weight > 0;
    for (int t : style_taps_) active_all_[t] = active_all_[t] || options_.style_weight > 0;
    vgg_.set_active_taps(active_all_);
    nets::load_vgg_weights(vgg_, vgg_weights);

    if (options_.style_weight > 0) {
      if (style.n() != 1)
        throw ShapeError("StyleTrainer: style image " + to_string(style.shape()) + ", expected 1x3xHxW");
      const auto features = vgg_.forward(style);
      std::vector<TensorF> list;
      for (int t : style_taps_) list.push_back(features[t]);
      style_target_ = losses::make_style_target(list);
    }
    net_.initialize(options_.seed);
    adam_ = std::make_unique<optim::Adam<float, Cpu>>(net_.parameters(), optim::AdamOptions{.lr = options_.lr});
  }

  // One Adam update from a batch (Nx3xSxS in [0, 255]); returns the loss terms before the update.
  StyleTerms step(const TensorF& batch) {
    net_.train();
    net_.zero_grad();
    const TensorF y = net_.forward(batch);
    const StyleTerms terms = loss_and_grad(batch, y);
    net_.backward(dy_);
    adam_->step();
    ++iteration_;
    return terms;
  }

  // The loss terms of a batch without updating (network in eval mode).
  StyleTerms evaluate(const TensorF& batch) {
    net_.eval();
    return loss_and_grad(batch, net_.forward(batch));
  }

  // The network's output for an image of any size (>= 5 px): eval mode, cropped back to the
  // input's size (the net gives 4 * ceil(n / 4)).
  TensorF stylize(const TensorF& image) {
    net_.eval();
    const TensorF y = net_.forward(image);
    if (y.h() == image.h() && y.w() == image.w()) return y;
    TensorF out({y.n(), y.c(), image.h(), image.w()});
    for (int n = 0; n < y.n() * y.c(); ++n)
      for (int i = 0; i < image.h(); ++i)
        std::copy_n(y.data() + (static_cast<std::size_t>(n) * y.h() + i) * y.w(), image.w(),
                    out.data() + (static_cast<std::size_t>(n) * image.h() + i) * image.w());
    return out;
  }

  // Updates taken, the k of the next batch.
  std::int64_t iteration() const { return iteration_; }
  Net& model() { return net_; }
  optim::Adam<float, Cpu>& optimizer() { return *adam_; }
  const StyleTrainerOptions& options() const { return options_; }

  // The network alone, as stylize reads it: its parameters under their own names, with metadata
  // architecture=johnson-style plus the caller's.
  void save_model(const std::filesystem::path& path, std::map<std::string, std::string> metadata = {}) {
    metadata["architecture"] = "johnson-style";
    metadata["iterations"] = std::to_string(iteration_);
    io::save_parameters(net_.parameters(), path, metadata);
  }

  // The network's parameters under their own names (so a checkpoint also stylizes), Adam's
  // moments as "adam.<name>.exp_avg" / "adam.<name>.exp_avg_sq", and in the metadata the
  // iteration, Adam's step count and options, and the caller's entries.
  void save_checkpoint(const std::filesystem::path& path, std::map<std::string, std::string> metadata = {}) {
    auto params = net_.parameters();
    for (auto p : adam_->state_tensors()) {
      p.name = "adam." + p.name;
      params.push_back(p);
    }
    metadata["architecture"] = "johnson-style";
    metadata["checkpoint"] = "style_trainer";
    metadata["iteration"] = std::to_string(iteration_);
    metadata["adam_step"] = std::to_string(adam_->step_count());
    metadata["lr"] = exact(adam_->options().lr);
    metadata["content_layers"] = join_list(options_.content_layers);
    metadata["style_layers"] = join_list(options_.style_layers);
    metadata["content_weight"] = exact(options_.content_weight);
    metadata["style_weight"] = exact(options_.style_weight);
    metadata["tv_weight"] = exact(options_.tv_weight);
    io::save_parameters(params, path, metadata);
  }

  // Restores what save_checkpoint wrote; returns the file's metadata (for the caller's checks).
  // FileError when the file is not a StyleTrainer checkpoint or lacks a tensor.
  std::map<std::string, std::string> load_checkpoint(const std::filesystem::path& path) {
    const io::SafetensorsFile file(path);
    const auto& meta = file.metadata();
    const auto get = [&](const std::string& key) {
      const auto it = meta.find(key);
      if (it == meta.end())
        throw FileError("StyleTrainer: " + path.string() + " is not a training checkpoint (no \"" + key +
                        "\" metadata)");
      return it->second;
    };
    if (get("checkpoint") != "style_trainer")
      throw FileError("StyleTrainer: " + path.string() + " is not a style training checkpoint");
    const auto count = [&](const std::string& key) {
      const std::string text = get(key);
      char* end = nullptr;
      const long long v = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || v < 0)
        throw FileError("StyleTrainer: " + path.string() + ": metadata \"" + key + "\" = \"" + text +
                        "\" is not a count");
      return static_cast<std::int64_t>(v);
    };
    const std::int64_t iteration = count("iteration"), step = count("adam_step");
    io::load_parameters(net_.parameters(), file, {.context = "the checkpoint's network"});
    io::load_parameters(adam_->state_tensors(), file, {.prefix = "adam.", .context = "the checkpoint's Adam moments"});
    adam_->set_step_count(step);
    iteration_ = iteration;
    return meta;
  }

 private:
  static std::string exact(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
  }

  // The loss terms of y = f(batch); leaves dL/dy in dy_. VGG runs twice: once on the batch for
  // the content targets (content taps only), once on y.
  StyleTerms loss_and_grad(const TensorF& batch, const TensorF& y) {
    StyleTerms terms;
    typename Vgg::Features targets;
    if (options_.content_weight > 0) {
      vgg_.set_active_taps(active_content_);
      targets = vgg_.forward(batch);
      vgg_.set_active_taps(active_all_);
    }
    const auto features = vgg_.forward(y);
    typename Vgg::Features g;
    const auto add = [&](int t, const TensorF& d) {
      if (g[t].empty())
        g[t] = d;
      else
        axpy(g[t], 1.0f, d);
    };
    if (options_.content_weight > 0)
      for (int t : content_taps_) {
        auto r = losses::feature_loss(features[t], targets[t], options_.content_weight);
        terms.content += r.value;
        add(t, r.grad);
      }
    if (options_.style_weight > 0) {
      std::vector<TensorF> f;
      for (int t : style_taps_) f.push_back(features[t]);
      // Johnson eq. 4 with a batch-1 target: the mean over the batch of each image's loss.
      auto r = losses::style_loss(f, style_target_, std::vector<double>(style_taps_.size(), options_.style_weight));
      terms.style = r.value;
      for (std::size_t i = 0; i < style_taps_.size(); ++i) add(style_taps_[i], r.grads[i]);
    }
    dy_ = vgg_.backward(g);
    if (options_.tv_weight > 0) {
      auto r = losses::total_variation_loss(y, options_.tv_weight);
      terms.tv = r.value;
      axpy(dy_, 1.0f, r.grad);
    }
    terms.total = terms.content + terms.style + terms.tv;
    return terms;
  }

  StyleTrainerOptions options_;
  std::vector<int> content_taps_, style_taps_;
  std::array<bool, VggNet::num_taps> active_all_{}, active_content_{};
  Vgg vgg_;
  losses::StyleTarget<float, Cpu> style_target_;
  Net net_;
  std::unique_ptr<optim::Adam<float, Cpu>> adam_;
  TensorF dy_;
  std::int64_t iteration_ = 0;
};

}  // namespace perceptual::train
