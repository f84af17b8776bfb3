#pragma once
// TrainingState: what StyleTrainer and SrTrainer share, a transformation network with its Adam
// optimiser and iteration count, and the files they write: the model alone, and checkpoints that
// hold everything a bit-identical continuation needs (parameters with batch-norm statistics, Adam's
// moments and step count, the iteration). On any backend B; the files are the same on each (they
// go through the host), so a checkpoint written on the GPU resumes on the CPU and back. Files are
// written atomically and durably (io::write_file_atomically), and never from a state that holds a
// NaN or Inf: an update whose loss or gradients are not finite stops training (NonFiniteError).
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "perceptual/core/error.hpp"
#include "perceptual/core/host.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/core/strings.hpp"
#include "perceptual/dist/communicator.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/io/safetensors.hpp"
#include "perceptual/optim/adam.hpp"

namespace perceptual::train {

// Training met a NaN or Inf: in a loss term or a gradient (the network was not updated from it),
// or in the state about to be saved (nothing was written). The message names the trainer, the
// iteration and the term, parameter or tensor.
class NonFiniteError : public Error {
 public:
  using Error::Error;
};

// A loss term of a batch, for NonFiniteError's message: {"content", 1.5e5}.
struct LossTerm {
  const char* name;
  double value;
};

// What a checkpoint file is: the trainer that reads it ("StyleTrainer", for messages), the value
// of its "checkpoint" metadata ("style_trainer") and of its "architecture" ("johnson-style").
struct CheckpointKind {
  std::string trainer, checkpoint, architecture;
};

template <class TransformNet, class B = Cpu>
class TrainingState {
 public:
  using Net = Model<TransformNet, B, float>;
  using Optimizer = optim::Adam<float, B>;

  // The network's initial weights drawn from `seed`, Adam at learning rate `lr`.
  TrainingState(CheckpointKind kind, std::uint64_t seed, double lr) : kind_(std::move(kind)) {
    net_.initialize(seed);
    adam_ = std::make_unique<Optimizer>(net_.parameters(), optim::AdamOptions{.lr = lr});
  }

  // One Adam update from the gradients the network's backward left; counts the iteration. First,
  // with nothing changed, NonFiniteError when a loss term of the batch (`terms`, all of them, for
  // the message) or a learnable parameter's gradient holds a NaN or Inf. The gradients cost one
  // reduction per parameter tensor: a sum, taken in double, of finite floats is finite, and of
  // any NaN or Inf is not.
  void update(std::initializer_list<LossTerm> terms = {}) {
    for (const auto& t : terms)
      if (!std::isfinite(t.value)) {
        // The last update's gradients were finite (or it would have stopped there), but an update
        // too large for float still leaves infinite parameters: name the first, if any.
        const std::string bad = first_non_finite(net_.parameters());
        throw NonFiniteError(
            at_next_iteration() + "the " + t.name + " loss is " + number(t.value) + " (" + describe(terms) + ")" +
            (bad.empty() ? std::string()
                         : ", as " + bad + " after the update of iteration " + std::to_string(iteration_) +
                               " (from finite gradients: is the learning rate too high?)") +
            stopped);
      }
    for (const auto& p : net_.parameters())
      if (p.learnable() && !std::isfinite(sum(*p.grad)))
        throw NonFiniteError(
            at_next_iteration() + "the gradient of " + p.name + io::detail::non_finite_report(p.grad->to_host()) +
            (terms.size() ? ", though the loss is finite (" + describe(terms) + ")" : std::string()) + stopped);
    adam_->step();
    ++iteration_;
  }

  // Data parallelism: this state is one rank's replica of the model, and each batch a step sees
  // is its shard of a global batch of `batch` images. Every rank starts from the same weights
  // (the same seed or checkpoint) and, through combine, takes the same updates.
  void distribute(dist::Communicator& comm, int batch) {
    comm_ = &comm;
    batch_ = batch;
  }
  dist::Communicator& communicator() const { return *comm_; }

  // After the backward pass of a shard of `shard` images: the gradients and the loss terms
  // (`terms`, the trainer's four means over the shard, changed in place) made the global batch's
  // on every rank.
  template <class Terms>
  void combine(Terms& terms, int shard) {
    dist::combine_gradients(*comm_, net_.parameters(), shard, batch_);
    auto& [a, b, c, d] = terms;
    std::array<double, 4> values{a, b, c, d};
    dist::combine_means(*comm_, values, shard, batch_);
    a = values[0];
    b = values[1];
    c = values[2];
    d = values[3];
  }

  // Updates taken, the k of the next batch.
  std::int64_t iteration() const { return iteration_; }
  Net& model() { return net_; }
  Optimizer& optimizer() { return *adam_; }

  // The network alone, as the inference programs read it: its parameters under their own names,
  // with the caller's metadata plus architecture and iterations. Atomic and durable (a failed write
  // is a FileError and leaves the previous file); NonFiniteError, writing nothing, when a
  // parameter holds a NaN or Inf.
  void save_model(const std::filesystem::path& path, std::map<std::string, std::string> metadata) {
    metadata["architecture"] = kind_.architecture;
    metadata["iterations"] = std::to_string(iteration_);
    const auto params = net_.parameters();
    require_finite(params, "model", path);
    io::save_parameters(params, path, metadata);
  }

  // The network's parameters under their own names (so a checkpoint also serves as a model),
  // Adam's moments as "adam.<name>.exp_avg" / "adam.<name>.exp_avg_sq", and in the metadata the
  // caller's entries plus architecture, checkpoint (the kind), iteration, adam_step and lr. Atomic
  // and durable, and never of a NaN or Inf, as save_model.
  void save_checkpoint(const std::filesystem::path& path, std::map<std::string, std::string> metadata) {
    auto params = net_.parameters();
    for (auto p : adam_->state_tensors()) {
      p.name = "adam." + p.name;
      params.push_back(p);
    }
    metadata["architecture"] = kind_.architecture;
    metadata["checkpoint"] = kind_.checkpoint;
    metadata["iteration"] = std::to_string(iteration_);
    metadata["adam_step"] = std::to_string(adam_->step_count());
    metadata["lr"] = number_text(adam_->options().lr);
    require_finite(params, "checkpoint", path);
    io::save_parameters(params, path, metadata);
  }

  // Restores what save_checkpoint wrote and returns the file's metadata (for the caller's
  // warnings). FileError when the file is not a checkpoint of this kind, when a `required` entry
  // differs from the file's (a setting the tensors alone do not tell apart, such as the factor of
  // a super-resolution net whose file has more layers), when a tensor is missing, or when one holds
  // a NaN or Inf (naming it and the first bad index).
  std::map<std::string, std::string> load_checkpoint(const std::filesystem::path& path,
                                                     const std::map<std::string, std::string>& required = {}) {
    const io::SafetensorsFile file(path);
    const auto& meta = file.metadata();
    const std::string where = kind_.trainer + ": " + path.string();
    const auto get = [&](const std::string& key) {
      const auto it = meta.find(key);
      if (it == meta.end()) throw FileError(where + " is not a training checkpoint (no \"" + key + "\" metadata)");
      return it->second;
    };
    if (const std::string kind = get("checkpoint"); kind != kind_.checkpoint)
      throw FileError(where + " is a \"" + kind + "\" checkpoint, not a \"" + kind_.checkpoint + "\" one");
    for (const auto& [key, value] : required)
      if (const auto it = meta.find(key); it == meta.end() || it->second != value)
        throw FileError(where + " has " + key + " \"" + (it == meta.end() ? std::string("(none)") : it->second) +
                        "\", this run needs \"" + value + "\"");
    const auto count = [&](const std::string& key) {
      const std::string text = get(key);
      char* end = nullptr;
      const long long v = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || v < 0)
        throw FileError(where + ": metadata \"" + key + "\" = \"" + text + "\" is not a count");
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
  static constexpr const char* stopped =
      "; stopped before updating the network: no checkpoint or model holds this state";

  static std::string number(double v) {
    if (std::isnan(v)) return "nan";  // printf may say "-nan"
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
  }
  // "content 1.5e+05, style inf, tv 12.5"
  static std::string describe(std::initializer_list<LossTerm> terms) {
    std::string out;
    for (const auto& t : terms) out += (out.empty() ? "" : ", ") + std::string(t.name) + " " + number(t.value);
    return out;
  }
  std::string at_next_iteration() const {
    return kind_.trainer + ": iteration " + std::to_string(iteration_ + 1) + ": ";
  }

  // Before a write: NonFiniteError naming the first tensor of `params` that holds a NaN or Inf, so
  // nothing poisoned is saved (an update too large for float leaves one from finite gradients, a
  // batch with a NaN leaves one in batch norm's running statistics).
  void require_finite(const Parameters<float, B>& params, const char* what, const std::filesystem::path& path) const {
    if (const std::string bad = first_non_finite(params); !bad.empty())
      throw NonFiniteError(kind_.trainer + ": not writing the " + what + " " + path.string() + ": after iteration " +
                           std::to_string(iteration_) + ", " + bad);
  }

  // "conv1.weight holds inf at index 0 (of 7776; ...)" for the first of `params` that holds a NaN
  // or Inf, or "".
  static std::string first_non_finite(const Parameters<float, B>& params) {
    for (const auto& p : params)
      if (!std::isfinite(sum(*p.value))) return p.name + io::detail::non_finite_report(p.value->to_host());
    return "";
  }

  CheckpointKind kind_;
  Net net_;
  std::unique_ptr<Optimizer> adam_;
  std::int64_t iteration_ = 0;
  dist::Communicator* comm_ = &dist::alone();
  int batch_ = 0;
};

}  // namespace perceptual::train
