#pragma once
// What the training programs (train_style, train_sr, and their CUDA builds) share: their common
// flags and the loop: the CSV log that a resumed run continues, the progress line with the loss
// terms, when and where checkpoints and samples are written, and what an error leaves.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numbers>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "perceptual/app/options.hpp"
#include "perceptual/app/progress.hpp"
#include "perceptual/core/error.hpp"
#include "perceptual/core/strings.hpp"
#include "perceptual/dist/communicator.hpp"
#include "perceptual/io/image.hpp"
#include "perceptual/train/checkpoint.hpp"
#include "perceptual/train/data.hpp"

namespace perceptual::app {

struct TrainingFlags {
  std::string output, checkpoint, resume, sample, log, command_line;
  std::vector<std::string> data;
  double lr = 1e-3, time_limit = 0;
  std::optional<double> lr_final{};  // cosine annealing from lr to this over the iterations; none: constant
  int batch_size = 4, iterations = 40000, checkpoint_every = 0, sample_every = 0, print_every = 10, threads = 2;
  unsigned long seed = 0;
};

// --data, --batch-size, --iterations, --lr, --checkpoint-every, --checkpoint, --resume,
// --sample-every, --sample, --log, --seed, --threads, --print-every, --time-limit, --max-pixels; the program adds
// --output and its own. `sample_help` says what --sample is; `log_columns` the loss terms' columns of the log.
inline void add_training_flags(CLI::App& cli, TrainingFlags& f, const std::string& sample_help,
                               const std::string& log_columns) {
  cli.add_option("--data", f.data, "training image folder(s), searched recursively")
      ->required()
      ->check(CLI::ExistingDirectory);
  cli.add_option("--batch-size", f.batch_size, "images per batch")->capture_default_str()->check(CLI::Range(1, 1024));
  cli.add_option("--iterations,-n", f.iterations, "Adam steps in all (a resumed run continues to this count)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000000));
  cli.add_option("--lr", f.lr, "Adam's learning rate")->capture_default_str()->check(CLI::PositiveNumber);
  cli.add_option("--lr-final", f.lr_final,
                 "anneal the learning rate from --lr to this by a cosine over iterations 1..--iterations (a function "
                 "of the iteration, so a resumed run continues it); default: --lr throughout")
      ->check(CLI::NonNegativeNumber);
  cli.add_option("--checkpoint-every", f.checkpoint_every,
                 "write a checkpoint every N iterations (0: only at the end when --checkpoint is given)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cli.add_option("--checkpoint", f.checkpoint, "checkpoint file (default: <output stem>.ckpt.safetensors)");
  cli.add_option("--resume", f.resume, "continue from a checkpoint (same data, sizes and seed: bit-identical)")
      ->check(CLI::ExistingFile);
  cli.add_option("--sample-every", f.sample_every, "write --sample's result every N iterations")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cli.add_option("--sample", f.sample,
                 sample_help + ", written as <output stem>_sample_<iteration>.png beside --output")
      ->check(CLI::ExistingFile);
  cli.add_option("--log", f.log, "CSV of every iteration: iteration," + log_columns + ",seconds");
  cli.add_option("--seed", f.seed, "seed of the initial weights, the data order and any random crops")
      ->capture_default_str();
  cli.add_option("--threads", f.threads, "image decoding threads")->capture_default_str()->check(CLI::Range(0, 64));
  cli.add_option("--print-every", f.print_every, "progress line every N iterations (when not a terminal)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cli.add_option("--time-limit", f.time_limit,
                 "stop after the iteration that reaches this many seconds of this run, writing the model (and the "
                 "checkpoint) as at the end; 0: no limit")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  add_max_pixels_option(cli);
}

// Before any work: ArgumentError naming --batch-size and the crop size's option (`size_option`)
// when the batches the loader holds at once cannot fit in this machine's memory.
inline void check_batch_memory(const TrainingFlags& f, const char* size_option, int size, int lr_factor = 0) {
  const train::LoaderOptions lo{
      .image_size = size, .batch_size = f.batch_size, .threads = f.threads, .lr_factor = lr_factor};
  if (const std::string excess = train::loader_memory_excess(lo); !excess.empty())
    throw ArgumentError("--batch-size " + std::to_string(f.batch_size) + " with " + size_option + " " +
                        std::to_string(size) + ": the " + std::to_string(train::batches_in_flight(lo)) +
                        " batches of " + std::to_string(f.batch_size) + "x3x" + std::to_string(size) + "x" +
                        std::to_string(size) + " floats the loader holds at once " + excess +
                        "; lower --batch-size or " + size_option);
}

// A training run's loader: the flags' global batch, seed and decoding threads, from the trainer's
// next batch (a resumed run goes on where it stopped), this rank's shard of each batch
// (ArgumentError when the batch is smaller than the ranks). `image_size`: the crops' side.
template <class Trainer>
train::LoaderOptions loader_options(const TrainingFlags& f, int image_size, const Trainer& trainer) {
  return {.image_size = image_size,
          .batch_size = f.batch_size,
          .seed = f.seed,
          .threads = f.threads,
          .first_batch = trainer.iteration(),
          .shard = dist::shard(f.batch_size, trainer.communicator())};
}

// The metadata every training program records: data (the folders, comma-separated), batch_size,
// seed, lr and command_line.
inline std::map<std::string, std::string> run_metadata(const TrainingFlags& f) {
  std::string data;
  for (const auto& d : f.data) data += (data.empty() ? "" : ",") + d;
  std::map<std::string, std::string> meta{{"data", data},
                                          {"batch_size", std::to_string(f.batch_size)},
                                          {"seed", std::to_string(f.seed)},
                                          {"lr", number_text(f.lr)},
                                          {"command_line", f.command_line}};
  if (f.lr_final) meta["lr_final"] = number_text(*f.lr_final);
  return meta;
}

// The learning rate of iteration `it` (1-based): --lr, or with --lr-final the cosine from --lr at
// iteration 1 to --lr-final at --iterations.
inline double learning_rate(const TrainingFlags& f, long it) {
  if (!f.lr_final || f.iterations <= 1) return f.lr;
  const double t = std::clamp(static_cast<double>(it - 1) / (f.iterations - 1), 0.0, 1.0);
  return *f.lr_final + (f.lr - *f.lr_final) * 0.5 * (1 + std::cos(std::numbers::pi * t));
}

// After --resume: a warning for each of `keys` whose value differs between the checkpoint's
// metadata and this run's (a resumed run continues bit-identically only with the same ones),
// then the iteration it resumes at.
inline void report_resume(const char* program, const TrainingFlags& f, long long iteration,
                          const std::map<std::string, std::string>& checkpoint,
                          const std::map<std::string, std::string>& mine, const std::vector<std::string>& keys) {
  for (const auto& key : keys) {
    const auto theirs = checkpoint.find(key), ours = mine.find(key);
    if (theirs != checkpoint.end() && ours != mine.end() && theirs->second != ours->second)
      std::fprintf(stderr,
                   "%s: warning: the checkpoint's %s is \"%s\", this run's \"%s\": not a continuation of the same "
                   "run\n",
                   program, key.c_str(), theirs->second.c_str(), ours->second.c_str());
  }
  std::fprintf(stderr, "%s: resumed %s at iteration %lld\n", program, f.resume.c_str(), iteration);
}

// Iterations start+1 .. flags.iterations of a run: report() after each step logs its loss terms
// (named by `columns`, "total" first) and updates the progress line. Of a data-parallel run's
// ranks, the root alone (`root`) logs and prints.
class TrainingLoop {
 public:
  TrainingLoop(const char* program, const TrainingFlags& f, long start, std::vector<std::string> columns,
               bool root = true)
      : program_(program),
        flags_(f),
        start_(start),
        root_(root),
        names_(std::move(columns)),
        progress_(program, std::max(1L, f.iterations - start), f.print_every) {
    if (f.log.empty() || !root) return;
    const bool append = start > 0 && std::filesystem::exists(f.log);  // a resumed run continues its log
    log_.open(f.log, append ? std::ios::app : std::ios::trunc);
    if (!log_) throw FileError("--log: cannot write " + f.log);
    if (!append) {
      log_ << "iteration";
      for (const auto& name : names_) log_ << ',' << name;
      log_ << ",seconds\n";
    }
  }

  long first() const { return start_ + 1; }
  long last() const { return flags_.iterations; }

  // terms: one value per column.
  void report(long it, const std::vector<double>& terms) {
    if (!root_) return;
    std::string detail;
    for (std::size_t i = 1; i < terms.size() && i < names_.size(); ++i) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s%s %.4g", i > 1 ? ", " : "", names_[i].c_str(), terms[i]);
      detail += buf;
    }
    if (it == first()) std::fprintf(stderr, "%s: initial loss %.4g (%s)\n", program_, terms[0], detail.c_str());
    if (log_) {
      log_ << it;
      for (double t : terms) log_ << ',' << t;
      log_ << ',' << progress_.seconds() << '\n';
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "it %ld loss %.4g (", it, terms[0]);
    progress_.update(it - start_, buf + detail + ")");
  }

  // Whether --time-limit has passed: the loop stops after this iteration, as if it were the last.
  bool out_of_time() const { return flags_.time_limit > 0 && progress_.seconds() >= flags_.time_limit; }
  bool checkpoint_due(long it) const { return flags_.checkpoint_every > 0 && it % flags_.checkpoint_every == 0; }
  bool sample_due(long it) const { return flags_.sample_every > 0 && it % flags_.sample_every == 0; }
  // Whether the run ends with a checkpoint (--checkpoint-every or --checkpoint given).
  bool final_checkpoint() const { return flags_.checkpoint_every > 0 || !flags_.checkpoint.empty(); }

  std::string checkpoint_path() const {
    const std::filesystem::path output(flags_.output);
    return !flags_.checkpoint.empty()
               ? flags_.checkpoint
               : (output.parent_path() / (output.stem().string() + ".ckpt.safetensors")).string();
  }
  std::filesystem::path sample_path(long it) const {
    const std::filesystem::path output(flags_.output);
    return output.parent_path() / (output.stem().string() + "_sample_" + std::to_string(it) + ".png");
  }

  // Closes the log and says what was written.
  void finish(long long iteration) {
    if (!root_) return;
    if (log_) log_.flush();
    std::fprintf(stderr, "%s: wrote %s after %lld iterations (%.1f s this run%s)\n", program_, flags_.output.c_str(),
                 iteration, progress_.seconds(), iteration < flags_.iterations ? ", stopped by --time-limit" : "");
  }

 private:
  const char* program_;
  const TrainingFlags& flags_;
  long start_;
  bool root_;
  std::vector<std::string> names_;
  Progress progress_;
  std::ofstream log_;
};

// The last checkpoint a run can continue from: the last this run wrote, or the one it resumed
// (an empty path: none).
struct KeptCheckpoint {
  std::string path;
  long long iteration = 0;
};

// When training stops early on an error (a NaN or Inf, a full disk, an unreadable image): the
// error, then which checkpoint is kept (checkpoints are written atomically, so it is whole and
// loadable). Returns the exit status, 1.
inline int report_stopped(const char* program, const std::exception& e, const KeptCheckpoint& kept) {
  std::fprintf(stderr, "%s: error: %s\n", program, e.what());
  if (kept.path.empty())
    std::fprintf(stderr, "%s: no checkpoint was written (--checkpoint-every N writes one every N iterations)\n",
                 program);
  else
    std::fprintf(stderr, "%s: the last checkpoint, %s (iteration %lld), is kept: --resume it to continue%s\n", program,
                 kept.path.c_str(), kept.iteration,
                 dynamic_cast<const train::NonFiniteError*>(&e) ? " (with a lower --lr or loss weight)" : "");
  return 1;
}

// Whether the root's clock has passed --time-limit, decided for every rank at once (their clocks
// differ, and all must stop after the same iteration).
inline bool out_of_time_everywhere(const TrainingLoop& loop, dist::Communicator& comm) {
  std::vector<double> stop{comm.root() && loop.out_of_time() ? 1.0 : 0.0};
  comm.sum(stop);
  return stop[0] > 0;
}

// Iterations loop.first() .. loop.last() of `trainer` (train::StyleTrainer or SrTrainer): step(it)
// takes one step and returns its loss terms (the log's columns); sample(path) writes the sample
// image. Checkpoints and samples as the flags ask, then the model, each with `metadata`; of a
// data-parallel run's ranks, the root alone writes them. A NaN or Inf, a full disk or a bad image
// stops the run, saying which checkpoint is kept; an error on one rank of several ends them all.
// Returns the exit status.
template <class Trainer, class Step, class Sample>
int run_training(const char* program, const TrainingFlags& f, Trainer& trainer, TrainingLoop& loop,
                 const std::map<std::string, std::string>& metadata, Step step, Sample sample) {
  dist::Communicator& comm = trainer.communicator();
  KeptCheckpoint kept{f.resume, loop.first() - 1};
  try {
    for (long it = loop.first(); it <= loop.last(); ++it) {
      trainer.optimizer().options().lr = learning_rate(f, it);
      loop.report(it, step(it));
      if (loop.checkpoint_due(it) && comm.root()) {
        trainer.save_checkpoint(loop.checkpoint_path(), metadata);
        kept = {loop.checkpoint_path(), it};
      }
      if (loop.sample_due(it) && comm.root()) sample(loop.sample_path(it));
      if (out_of_time_everywhere(loop, comm)) break;
    }
    // Unless the last iteration's checkpoint is this one: each durable write costs a sync.
    if (comm.root()) {
      if (loop.final_checkpoint() && (kept.path != loop.checkpoint_path() || kept.iteration != trainer.iteration())) {
        trainer.save_checkpoint(loop.checkpoint_path(), metadata);
        kept = {loop.checkpoint_path(), trainer.iteration()};
      }
      trainer.save_model(f.output, metadata);
    }
  } catch (const Error& e) {
    // A NaN or Inf comes from the combined loss or gradients: every rank stops at it alike.
    if (comm.size() == 1 || dynamic_cast<const train::NonFiniteError*>(&e))
      return comm.root() ? report_stopped(program, e, kept) : 1;
    if (comm.root())
      report_stopped(program, e, kept);
    else
      std::fprintf(stderr, "%s: rank %d: error: %s\n", program, comm.rank(), e.what());
    comm.abort(1);  // the other ranks would wait for this one's next sum forever
  }
  loop.finish(trainer.iteration());
  return 0;
}

}  // namespace perceptual::app
