#pragma once
// SrTrainer: Johnson et al.'s training of a super-resolution network (sec. 4.2): per batch of HR
// crops y and their degraded inputs x (train::BatchLoader with lr_factor: blur sigma 1, bicubic
// x1/f), y_hat = f_W(x), then minimise the pixel loss ||y_hat - y||^2 / (CHW) or the feature loss
// at VGG relu2_2 (eq. 2), plus tv_weight * TV(y_hat), over W with Adam. Inputs and outputs are RGB
// in [0, 255] (the net's last layer is 127.5 * tanh + 127.5), the scale images are read at. The
// training runs on backend B (Cpu or Cuda); images may come from the host or B.
// The program includes B's operations (backend/cpu/cpu.hpp or backend/cuda/cuda.hpp); train/ does not.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>

#include "perceptual/core/error.hpp"
#include "perceptual/core/host.hpp"
#include "perceptual/dist/sync_batch_norm.hpp"
#include "perceptual/losses/losses.hpp"
#include "perceptual/nets/super_resolution.hpp"
#include "perceptual/nets/transform.hpp"
#include "perceptual/nets/vgg.hpp"
#include "perceptual/nets/vgg_weights.hpp"
#include "perceptual/optim/adam.hpp"
#include "perceptual/train/checkpoint.hpp"

namespace perceptual::train {

enum class SrLoss { pixel, feature };

inline std::string sr_loss_name(SrLoss loss) {
  return loss == SrLoss::pixel ? "pixel" : "feature";
}

// "pixel" or "feature"; ArgumentError otherwise.
inline SrLoss parse_sr_loss(const std::string& name) {
  if (name == "pixel") return SrLoss::pixel;
  if (name == "feature") return SrLoss::feature;
  throw ArgumentError("SrTrainer: loss \"" + name + "\" is neither pixel nor feature");
}

// The feature loss's layer, the paper's: relu2_2. VGG-16 and VGG-19 agree up to it, so either
// file serves.
using SrFeatureVgg = nets::Vgg16<"relu2_2">;

struct SrTrainerOptions {
  SrLoss loss = SrLoss::feature;
  double tv_weight = 0;    // lambda_TV (plain squared TV); the paper cross-validates it in [1e-6, 1e-4]
  double lr = 1e-3;        // Adam, as in the paper
  std::uint64_t seed = 0;  // the network's initial weights
};

// The loss terms of a batch; the term of the loss not trained with stays 0.
struct SrTerms {
  double total = 0, pixel = 0, feature = 0, tv = 0;
};

// Batch norm by default, as in the paper: with instance norm every layer forgets its input's mean
// and contrast, so the net could not tell a dark image from a bright one of the same structure.
template <int Factor, template <int> class Norm = nets::BatchNormDefault, class B = Cpu>
class SrTrainer {
 public:
  using TensorF = Tensor<float, B>;
  using HostTensor = Tensor<float, Cpu>;
  using TransformNet = nets::SuperResolutionNet<Factor, Norm>;
  using Net = typename TrainingState<TransformNet, B>::Net;
  using Optimizer = typename TrainingState<TransformNet, B>::Optimizer;
  using Vgg = nets::LossNetwork<SrFeatureVgg, B, float>;
  static constexpr int factor = Factor;

  // Draws the initial weights from options.seed; the feature loss loads relu2_2's layers from
  // `vgg_weights` (ArgumentError when none is given, FileError when it lacks them). The pixel loss
  // needs no weights.
  explicit SrTrainer(const SrTrainerOptions& options, const std::filesystem::path& vgg_weights = {})
      : options_(options), state_({"SrTrainer", "sr_trainer", nets::sr_architecture}, options.seed, options.lr) {
    if (!(options_.tv_weight >= 0))
      throw ArgumentError("SrTrainer: TV weight " + std::to_string(options_.tv_weight) + " must be >= 0");
    if (options_.loss == SrLoss::feature) {
      if (vgg_weights.empty()) throw ArgumentError("SrTrainer: the feature loss needs VGG weights (for relu2_2)");
      nets::load_vgg_weights(vgg_, vgg_weights);
    }
  }

  // One Adam update from a batch: lr Nx3xHxW, hr Nx3x(f H)x(f W), both in [0, 255]; returns the
  // loss terms before the update. NonFiniteError naming the iteration and the term (pixel or
  // feature, tv, total) or the parameter whose gradient is NaN or Inf, before the update (batch
  // norm's running statistics have seen the batch; a later save refuses them if they are not finite).
  template <class From>
  SrTerms step(const Tensor<float, From>& lr, const Tensor<float, From>& hr) {
    require_pair(lr.shape(), hr.shape());
    Net& net = state_.model();
    net.train();
    net.zero_grad();
    const dist::SyncBatchNorm sync(state_.communicator());  // batch norm's statistics: the global batch's
    SrTerms terms = loss_and_grad(to_backend<B>(hr), net.forward(to_backend<B>(lr)));
    net.backward(dy_);
    state_.combine(terms, lr.n());
    const bool pixel = options_.loss == SrLoss::pixel;
    state_.update(
        {{pixel ? "pixel" : "feature", pixel ? terms.pixel : terms.feature}, {"tv", terms.tv}, {"total", terms.total}});
    return terms;
  }

  // The loss terms of a batch without updating (network in eval mode, no gradients).
  template <class From>
  SrTerms evaluate(const Tensor<float, From>& lr, const Tensor<float, From>& hr) {
    require_pair(lr.shape(), hr.shape());
    NoGrad no_grad;
    state_.model().eval();
    return loss_and_grad(to_backend<B>(hr), state_.model().forward(to_backend<B>(lr)));
  }

  // The network's output (eval mode) for images of any size >= 5x5, Factor times their size, on
  // the host (what samples are written from).
  template <class From>
  HostTensor upscale(const Tensor<float, From>& lr) {
    require_input(lr.shape());
    NoGrad no_grad;
    state_.model().eval();
    return to_backend<Cpu>(state_.model().forward(to_backend<B>(lr)));
  }

  // Data parallelism: see TrainingState::distribute. Batch norm is synchronised
  // (dist/sync_batch_norm.hpp): each rank's shard is normalised with the global batch's statistics.
  void distribute(dist::Communicator& comm, int batch) { state_.distribute(comm, batch); }
  dist::Communicator& communicator() const { return state_.communicator(); }

  // Updates taken, the k of the next batch.
  std::int64_t iteration() const { return state_.iteration(); }
  Net& model() { return state_.model(); }
  Optimizer& optimizer() { return state_.optimizer(); }
  const SrTrainerOptions& options() const { return options_; }

  // What a model file records of the net and its training: factor, norm (batch or instance),
  // loss, feature_layer (feature loss), tv_weight and value_range ("0,255": RGB in and out).
  std::map<std::string, std::string> settings() const {
    std::map<std::string, std::string> s{{"factor", std::to_string(Factor)},
                                         {"norm", nets::norm_name<Norm>()},
                                         {"loss", sr_loss_name(options_.loss)},
                                         {"tv_weight", number_text(options_.tv_weight)},
                                         {"value_range", "0,255"}};
    if (options_.loss == SrLoss::feature) s["feature_layer"] = "relu2_2";
    return s;
  }

  // The network alone, as super_resolve and eval_sr read it: the caller's metadata, then
  // settings(), architecture=johnson-sr and iterations.
  void save_model(const std::filesystem::path& path, std::map<std::string, std::string> metadata = {}) {
    for (auto& [key, value] : settings()) metadata[key] = value;
    state_.save_model(path, std::move(metadata));
  }

  // A checkpoint (train::TrainingState) with settings() in its metadata; it also serves as a model.
  void save_checkpoint(const std::filesystem::path& path, std::map<std::string, std::string> metadata = {}) {
    for (auto& [key, value] : settings()) metadata[key] = value;
    state_.save_checkpoint(path, std::move(metadata));
  }

  // Restores what save_checkpoint wrote; returns the file's metadata. FileError when the file is
  // not an SrTrainer checkpoint, was written for another factor or normalisation, or lacks a tensor.
  std::map<std::string, std::string> load_checkpoint(const std::filesystem::path& path) {
    return state_.load_checkpoint(path, {{"factor", std::to_string(Factor)}, {"norm", nets::norm_name<Norm>()}});
  }

 private:
  static void require_input(Shape4 lr) {
    if (lr.c != 3 || lr.h < nets::sr_min_input || lr.w < nets::sr_min_input)
      throw ShapeError("SrTrainer: input " + to_string(lr) +
                       ", expected Nx3xHxW with H, W >= " + std::to_string(nets::sr_min_input));
  }

  static void require_pair(Shape4 lr, Shape4 hr) {
    require_input(lr);
    if (hr != Shape4{lr.n, 3, Factor * lr.h, Factor * lr.w})
      throw ShapeError("SrTrainer: input " + to_string(lr) + " and target " + to_string(hr) + ": the target must be " +
                       std::to_string(Factor) + " times the input's size");
  }

  // The loss terms of y = f(x) against the HR batch; leaves dL/dy in dy_ unless under NoGrad.
  SrTerms loss_and_grad(const TensorF& hr, const TensorF& y) {
    const bool with_grad = gradients_enabled();
    SrTerms terms;
    if (options_.loss == SrLoss::pixel) {
      auto r = losses::pixel_loss(y, hr);
      terms.pixel = r.value;
      dy_ = std::move(r.grad);
    } else {
      TensorF target;
      {
        NoGrad no_grad;
        target = std::move(vgg_.forward(hr)[0]);
      }
      const auto features = vgg_.forward(y);
      auto r = losses::feature_loss(features[0], target);
      terms.feature = r.value;
      if (with_grad) dy_ = vgg_.backward({std::move(r.grad)});
    }
    if (options_.tv_weight > 0) {
      auto r = losses::total_variation_loss(y, options_.tv_weight);
      terms.tv = r.value;
      if (with_grad) axpy(dy_, 1.0f, r.grad);
    }
    terms.total = terms.pixel + terms.feature + terms.tv;
    return terms;
  }

  SrTrainerOptions options_;
  TrainingState<TransformNet, B> state_;
  Vgg vgg_;
  TensorF dy_;
};

}  // namespace perceptual::train
