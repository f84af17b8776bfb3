#pragma once
// train_sr, the whole program on backend B: trains a super-resolution network (Johnson et al.
// 2016, sec. 4.2): random HR crops of the training images, their LR inputs made by Gaussian blur
// (sigma 1.0) and bicubic x1/factor, and Adam on the pixel loss or the feature loss at VGG relu2_2
// (plus optional TV), with checkpoints that resume bit-identically (on either backend). The result
// is read by super_resolve and eval_sr. train_sr.cpp builds it for the CPU, train_sr_cuda.cpp for
// the GPU.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <perceptual/perceptual.hpp>
#include <perceptual/train/data.hpp>
#include <perceptual/train/sr_trainer.hpp>
#include <string>
#include <vector>

#include <perceptual/app/device.hpp>
#include <perceptual/app/distributed.hpp>
#include <perceptual/app/training.hpp>

namespace perceptual::examples {

struct TrainSrOptions : app::TrainingFlags {
  std::string loss = "feature", norm = "batch", weights;
  double tv_weight = 0;
  int factor = 4, crop_size = 288;
};

// The impossible combinations, before any work.
inline void check_train_sr_options(const TrainSrOptions& o) {
  const std::string f = std::to_string(o.factor);
  if (o.crop_size % o.factor != 0)
    throw ArgumentError("--crop-size " + std::to_string(o.crop_size) + " is not a multiple of --factor " + f +
                        ": the HR crop must be exactly " + f + " times the LR input (e.g. --crop-size " +
                        std::to_string(o.crop_size / o.factor * o.factor) + ")");
  if (o.crop_size / o.factor < nets::sr_min_input)
    throw ArgumentError("--crop-size " + std::to_string(o.crop_size) + " gives " +
                        std::to_string(o.crop_size / o.factor) + "x" + std::to_string(o.crop_size / o.factor) +
                        " LR inputs at --factor " + f + "; the network needs at least " +
                        std::to_string(nets::sr_min_input) + "x" + std::to_string(nets::sr_min_input) +
                        " (--crop-size >= " + std::to_string(nets::sr_min_input * o.factor) + ")");
  if (o.loss == "feature" && o.weights.empty())
    throw ArgumentError(
        "--loss feature needs --weights VGG.safetensors (VGG-16 or VGG-19 with layers up to conv2_2; "
        "see scripts/convert_vgg.py), or use --loss pixel");
  if (o.sample_every > 0 && o.sample.empty()) throw ArgumentError("--sample-every needs --sample IMAGE");
  app::check_batch_memory(o, "--crop-size", o.crop_size, o.factor);
}

template <int Factor, template <int> class Norm, class B>
int train_sr_run(const TrainSrOptions& o, const char* program, const std::string& device) {
  namespace fs = std::filesystem;
  const train::SrTrainerOptions to{
      .loss = train::parse_sr_loss(o.loss), .tv_weight = o.tv_weight, .lr = o.lr, .seed = o.seed};
  const std::vector<fs::path> folders(o.data.begin(), o.data.end());
  const train::ImageDataset dataset(folders);
  dist::Communicator& comm = app::world();
  if (to.loss == train::SrLoss::pixel && !o.weights.empty() && comm.root())
    std::fprintf(stderr, "%s: note: --weights is not used by the pixel loss\n", program);
  train::SrTrainer<Factor, Norm, B> trainer(to, to.loss == train::SrLoss::feature ? fs::path(o.weights) : fs::path());
  trainer.distribute(comm, o.batch_size);

  // What a resumed run must agree on to continue the same run, and what the model file records
  // besides the trainer's settings (factor, norm, loss, tv_weight, value_range).
  auto run_meta = app::run_metadata(o);
  run_meta["crop_size"] = std::to_string(o.crop_size);
  run_meta["degradation"] = "gaussian_blur sigma 1.0, bicubic x1/factor, 8-bit";
  if (to.loss == train::SrLoss::feature) run_meta["vgg_weights"] = fs::path(o.weights).filename().string();
  if (!o.resume.empty()) {
    const auto checkpoint = trainer.load_checkpoint(o.resume);
    auto mine = run_meta;
    mine.merge(trainer.settings());
    if (comm.root())
      app::report_resume(program, o, trainer.iteration(), checkpoint, mine,
                         {"data", "crop_size", "batch_size", "seed", "loss", "tv_weight"});
  }
  const long start = static_cast<long>(trainer.iteration());
  if (comm.root())
    std::fprintf(stderr,
                 "%s: x%d, %s loss, %s norm, %zu training images, %dx%d HR crops (%dx%d LR), batch %d, "
                 "iterations %ld..%d, on %s%s\n",
                 program, Factor, o.loss.c_str(), o.norm.c_str(), dataset.size(), o.crop_size, o.crop_size,
                 o.crop_size / Factor, o.crop_size / Factor, o.batch_size, start, o.iterations, device.c_str(),
                 app::ranks_text(comm).c_str());

  Tensor<float, Cpu> sample;
  if (!o.sample.empty()) sample = io::read_image<float>(o.sample);
  app::TrainingLoop loop(program, o, start, {"total", "pixel", "feature", "tv"}, comm.root());
  train::LoaderOptions lo = app::loader_options(o, o.crop_size, trainer);
  lo.crop = train::LoaderOptions::Crop::random;
  lo.lr_factor = Factor;
  train::BatchLoader loader(dataset, lo);
  return app::run_training(
      program, o, trainer, loop, run_meta,
      [&](long) {
        const train::Batch batch = loader.next();
        // The type named: nvcc 13 drops the braces of {t.total, ...} below when t is `auto` here.
        const train::SrTerms t = trainer.step(batch.inputs, batch.images);
        return std::vector<double>{t.total, t.pixel, t.feature, t.tv};
      },
      [&](const fs::path& path) { io::write_image(trainer.upscale(sample), path); });
}

// The program: options, then the run on B for the chosen factor and normalisation.
// `program` ("train_sr_cuda") names it in messages; `instead` says what to run where B cannot run.
template <class B>
int train_sr_main(int argc, char** argv, const std::string& program, const std::string& instead) {
  TrainSrOptions o;
  o.command_line = app::command_line(argc, argv);
  CLI::App cli{
      "Trains a super-resolution network (Johnson et al. 2016, sec. 4.2) for factor 4 or 8: each training image "
      "gives a random --crop-size HR crop at its own resolution (images with a shorter side below it are first "
      "scaled up), whose LR input is made as in the paper: Gaussian blur (sigma 1.0), bicubic downscaling by the "
      "factor, 8-bit rounding. Adam minimises the pixel loss (mean squared error on the 0..255 scale) or the "
      "feature loss at VGG relu2_2 (VGG-16 or VGG-19 weights; the shared VGG-19 serves), plus tv_weight * total "
      "variation. The network takes and gives RGB in [0, 255]; batch norm by default, as in the paper. The output "
      "is read by super_resolve and eval_sr --method model; train_sr and train_sr_cuda write the same files and "
      "resume each other's checkpoints."};
  cli.add_option("--factor,-f", o.factor, "upscaling factor")->capture_default_str()->check(CLI::IsMember({4, 8}));
  cli.add_option("--loss", o.loss, "pixel or feature (VGG relu2_2)")
      ->capture_default_str()
      ->check(CLI::IsMember({"pixel", "feature"}));
  cli.add_option("--weights", o.weights, "VGG-16/19 weights (safetensors) for --loss feature")
      ->check(CLI::ExistingFile);
  cli.add_option("--output,-o", o.output, "the trained network (safetensors; default sr_x<factor>.safetensors)");
  cli.add_option("--norm", o.norm,
                 "normalisation layers: batch (the paper's) or instance (which makes the net blind to its input's "
                 "brightness and contrast)")
      ->capture_default_str()
      ->check(CLI::IsMember({"batch", "instance"}));
  cli.add_option("--tv-weight", o.tv_weight,
                 "lambda_TV (plain squared total variation); the paper tunes it in 1e-6..1e-4")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cli.add_option("--crop-size", o.crop_size, "side of the square HR training crops, a multiple of the factor")
      ->capture_default_str()
      ->check(CLI::Range(8, 4096));
  app::add_training_flags(cli, o, "LR image upscaled", "total,pixel,feature,tv");
  CLI11_PARSE(cli, argc, argv);
  if (o.output.empty()) o.output = "sr_x" + std::to_string(o.factor) + ".safetensors";

  return app::report_errors(program, [&] {
    check_train_sr_options(o);
    const std::string device = app::Device<B>::start(instead);
    const char* name = program.c_str();
    const bool batch = o.norm == "batch";
    if (o.factor == 4)
      return batch ? train_sr_run<4, nets::BatchNormDefault, B>(o, name, device)
                   : train_sr_run<4, nets::InstanceNormDefault, B>(o, name, device);
    return batch ? train_sr_run<8, nets::BatchNormDefault, B>(o, name, device)
                 : train_sr_run<8, nets::InstanceNormDefault, B>(o, name, device);
  });
}

}  // namespace perceptual::examples
