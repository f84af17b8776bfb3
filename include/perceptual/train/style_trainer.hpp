#pragma once
// StyleTrainer: Johnson et al.'s training of a style transformation network (section 3, eq. 5):
// per batch x, y = f_W(x), then minimise content_weight * feature loss(VGG(y), VGG(x)) + style
// weight * style loss(VGG(y), Grams of the style image) + tv_weight * TV(y) over W with Adam.
// Checkpoints (train::TrainingState) hold everything a bit-identical continuation needs; the
// batches come from train::BatchLoader, which depends on (seed, k). The training runs on backend B
// (Cpu or Cuda); images may come from the host or B, and are moved once per call.
// The program includes B's operations (backend/cpu/cpu.hpp or backend/cuda/cuda.hpp); train/ does not.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/host.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/core/strings.hpp"
#include "perceptual/losses/objective.hpp"
#include "perceptual/nets/transform.hpp"
#include "perceptual/nets/vgg.hpp"
#include "perceptual/nets/vgg_weights.hpp"
#include "perceptual/optim/adam.hpp"
#include "perceptual/train/checkpoint.hpp"

namespace perceptual::train {

struct StyleTrainerOptions {
  // The paper's layers and weights by default; the style weight is Johnson's 5 / C^2 at C ~ 220
  // (see train_style's --help).
  losses::StyleObjectiveOptions objective;
  double lr = 1e-3;        // Adam, as in the paper
  std::uint64_t seed = 0;  // the transformation network's initial weights
};

// The weighted loss terms of a batch (the mean over its images).
using StyleTerms = losses::ObjectiveTerms;

template <class VggNet, class TransformNet = nets::StyleTransformNet<>, class B = Cpu>
class StyleTrainer {
 public:
  using TensorF = Tensor<float, B>;
  using HostTensor = Tensor<float, Cpu>;
  using Net = typename TrainingState<TransformNet, B>::Net;
  using Optimizer = typename TrainingState<TransformNet, B>::Optimizer;

  // Loads the VGG taps the layers need from `vgg_weights` (FileError naming a missing layer's
  // tensor), precomputes the style image's Gram matrices (style: 1x3xHxW in [0, 255], on the host
  // or B) and draws the network's initial weights from options.seed.
  template <class From>
  StyleTrainer(const StyleTrainerOptions& options, const std::filesystem::path& vgg_weights,
               const Tensor<float, From>& style)
      : options_(options),
        state_({"StyleTrainer", "style_trainer", "johnson-style"}, options.seed, options.lr),
        objective_(options.objective, vgg_weights) {
    objective_.set_style(to_backend<B>(style));
  }

  // One Adam update from a batch (Nx3xSxS in [0, 255]); returns the loss terms before the update.
  // NonFiniteError naming the iteration and the term (content, style, tv, total) or the parameter
  // whose gradient is NaN or Inf, before anything changes.
  template <class From>
  StyleTerms step(const Tensor<float, From>& batch) {
    const TensorF& x = to_backend<B>(batch);
    Net& net = state_.model();
    net.train();
    net.zero_grad();
    const TensorF y = net.forward(x);
    StyleTerms terms = loss_and_grad(x, y);
    net.backward(dy_);
    state_.combine(terms, x.n());
    state_.update({{"content", terms.content}, {"style", terms.style}, {"tv", terms.tv}, {"total", terms.total}});
    return terms;
  }

  // The loss terms of a batch without updating (network in eval mode, no gradients).
  template <class From>
  StyleTerms evaluate(const Tensor<float, From>& batch) {
    const TensorF& x = to_backend<B>(batch);
    NoGrad no_grad;
    state_.model().eval();
    objective_.set_content(x);
    return objective_.value(state_.model().forward(x));
  }

  // The network's output for an image of any size (>= 5 px), on the host (what samples are
  // written from): eval mode, cropped back to the input's size (the net gives 4 * ceil(n / 4)).
  template <class From>
  HostTensor stylize(const Tensor<float, From>& image) {
    NoGrad no_grad;
    state_.model().eval();
    HostTensor y = to_backend<Cpu>(state_.model().forward(to_backend<B>(image)));
    if (y.h() == image.h() && y.w() == image.w()) return y;
    HostTensor out({y.n(), y.c(), image.h(), image.w()});
    for (int n = 0; n < y.n() * y.c(); ++n)
      for (int i = 0; i < image.h(); ++i)
        std::copy_n(y.data() + (static_cast<std::size_t>(n) * y.h() + i) * y.w(), image.w(),
                    out.data() + (static_cast<std::size_t>(n) * image.h() + i) * image.w());
    return out;
  }

  // Data parallelism: see TrainingState::distribute. Each step's batch is this rank's shard of a
  // global batch of `batch`; the terms it returns and the update it takes are the global batch's.
  void distribute(dist::Communicator& comm, int batch) { state_.distribute(comm, batch); }
  dist::Communicator& communicator() const { return state_.communicator(); }

  // Updates taken, the k of the next batch.
  std::int64_t iteration() const { return state_.iteration(); }
  Net& model() { return state_.model(); }
  Optimizer& optimizer() { return state_.optimizer(); }
  const StyleTrainerOptions& options() const { return options_; }

  // The network alone, as stylize reads it: its parameters under their own names, with metadata
  // architecture=johnson-style, the objective's settings (losses::to_metadata) and the caller's.
  // Atomic and durable; NonFiniteError instead of writing a NaN or Inf (TrainingState).
  void save_model(const std::filesystem::path& path, std::map<std::string, std::string> metadata = {}) {
    state_.save_model(path, with_objective(std::move(metadata)));
  }

  // The network's parameters under their own names (so a checkpoint also stylizes), Adam's
  // moments as "adam.<name>.exp_avg" / "adam.<name>.exp_avg_sq", and in the metadata the
  // iteration, Adam's step count and options, the objective's settings and the caller's entries.
  void save_checkpoint(const std::filesystem::path& path, std::map<std::string, std::string> metadata = {}) {
    state_.save_checkpoint(path, with_objective(std::move(metadata)));
  }

  // Restores what save_checkpoint wrote; returns the file's metadata (for the caller's checks).
  // FileError when the file is not a StyleTrainer checkpoint or lacks a tensor.
  std::map<std::string, std::string> load_checkpoint(const std::filesystem::path& path) {
    return state_.load_checkpoint(path);
  }

 private:
  // The caller's metadata with the objective's settings (which win over the caller's).
  std::map<std::string, std::string> with_objective(std::map<std::string, std::string> metadata) const {
    for (auto& [name, text] : losses::to_metadata(options_.objective)) metadata.insert_or_assign(name, std::move(text));
    return metadata;
  }

  // The loss terms of y = f(batch); leaves dL/dy in dy_. VGG runs twice: once on the batch for
  // the content targets (content taps only), once on y.
  StyleTerms loss_and_grad(const TensorF& batch, const TensorF& y) {
    objective_.set_content(batch);
    auto r = objective_.evaluate(y);
    dy_ = std::move(r.grad);
    return r.terms;
  }

  StyleTrainerOptions options_;
  TrainingState<TransformNet, B> state_;
  losses::StyleObjective<VggNet, B, float> objective_;
  TensorF dy_;
};

}  // namespace perceptual::train
