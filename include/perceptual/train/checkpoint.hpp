#pragma once
// TrainingState: what StyleTrainer and SrTrainer share, a transformation network with its Adam
// optimiser and iteration count, and the files they write: the model alone, and checkpoints that
// hold everything a bit-identical continuation needs (parameters with batch-norm statistics, Adam's
// moments and step count, the iteration). On any backend B; the files are the same on each (they
// go through the host), so a checkpoint written on the GPU resumes on the CPU and back.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/core/error.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/io/safetensors.hpp"
#include "perceptual/optim/adam.hpp"

namespace perceptual::train {

// A double as text that reads back to the same double ("%.17g"), for metadata.
inline std::string exact_number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

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

  // One Adam update from the gradients the network's backward left; counts the iteration.
  void update() {
    adam_->step();
    ++iteration_;
  }

  // Updates taken, the k of the next batch.
  std::int64_t iteration() const { return iteration_; }
  Net& model() { return net_; }
  Optimizer& optimizer() { return *adam_; }

  // The network alone, as the inference programs read it: its parameters under their own names,
  // with the caller's metadata plus architecture and iterations.
  void save_model(const std::filesystem::path& path, std::map<std::string, std::string> metadata) {
    metadata["architecture"] = kind_.architecture;
    metadata["iterations"] = std::to_string(iteration_);
    io::save_parameters(net_.parameters(), path, metadata);
  }

  // The network's parameters under their own names (so a checkpoint also serves as a model),
  // Adam's moments as "adam.<name>.exp_avg" / "adam.<name>.exp_avg_sq", and in the metadata the
  // caller's entries plus architecture, checkpoint (the kind), iteration, adam_step and lr.
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
    metadata["lr"] = exact_number(adam_->options().lr);
    io::save_parameters(params, path, metadata);
  }

  // Restores what save_checkpoint wrote and returns the file's metadata (for the caller's
  // warnings). FileError when the file is not a checkpoint of this kind, when a `required` entry
  // differs from the file's (a setting the tensors alone do not tell apart, such as the factor of
  // a super-resolution net whose file has more layers), or when a tensor is missing.
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
  CheckpointKind kind_;
  Net net_;
  std::unique_ptr<Optimizer> adam_;
  std::int64_t iteration_ = 0;
};

}  // namespace perceptual::train
