#pragma once
// train_style, the whole program on backend B: trains a feed-forward style transformation network
// (Johnson et al. 2016, section 3): Adam on content_weight * feature loss + style_weight * style
// loss + tv_weight * TV over batches of training images, with checkpoints that resume
// bit-identically (on either backend). The result is read by stylize. train_style.cpp builds it
// for the CPU, train_style_cuda.cu for the GPU.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <perceptual/perceptual.hpp>
#include <perceptual/train/data.hpp>
#include <perceptual/train/style_trainer.hpp>
#include <string>
#include <vector>

#include "training.hpp"

namespace perceptual::examples {

struct TrainStyleOptions : TrainingFlags {
  std::string style, weights;
  std::string content_layers = "relu2_2", style_layers = "relu1_2,relu2_2,relu3_3,relu4_3";
  // Caffe-convention VGG (inputs 0..255, std 1, like the shared VGG-19); see the --help text.
  double content_weight = 1, style_weight = 1e-4, tv_weight = 1e-6;
  int image_size = 256, style_size = 0;
};

template <class VggNet, class B>
int train_style_run(const TrainStyleOptions& o, const char* program, const std::string& device) {
  namespace fs = std::filesystem;
  using HostTensor = Tensor<float, Cpu>;
  train::StyleTrainerOptions to;
  to.content_layers = split_list(o.content_layers);
  to.style_layers = split_list(o.style_layers);
  to.content_weight = o.content_weight;
  to.style_weight = o.style_weight;
  to.tv_weight = o.tv_weight;
  to.lr = o.lr;
  to.seed = o.seed;
  const int style_size = o.style_size > 0 ? o.style_size : o.image_size;
  const HostTensor style = io::resize_longer_side(io::read_image<float>(o.style), style_size);
  const std::vector<fs::path> folders(o.data.begin(), o.data.end());
  const train::ImageDataset dataset(folders);
  train::StyleTrainer<VggNet, nets::StyleTransformNet<>, B> trainer(to, o.weights, style);

  // What a resumed run must agree on to continue the same run, and what the model file records.
  auto run_meta = run_metadata(o);
  run_meta.insert({{"style", fs::path(o.style).filename().string()},
                   {"vgg_weights", fs::path(o.weights).filename().string()},
                   {"image_size", std::to_string(o.image_size)},
                   {"style_size", std::to_string(style_size)},
                   {"content_layers", join_list(to.content_layers)},
                   {"style_layers", join_list(to.style_layers)},
                   {"content_weight", short_number(o.content_weight)},
                   {"style_weight", short_number(o.style_weight)},
                   {"tv_weight", short_number(o.tv_weight)}});
  if (!o.resume.empty())
    report_resume(program, o, trainer.iteration(), trainer.load_checkpoint(o.resume), run_meta,
                  {"data", "image_size", "batch_size", "seed", "style", "content_layers", "style_layers"});
  const long start = static_cast<long>(trainer.iteration());
  std::fprintf(stderr,
               "%s: %zu training images, %dx%d crops, batch %d, style %s at %s, VGG-%d, iterations %ld..%d, on %s\n",
               program, dataset.size(), o.image_size, o.image_size, o.batch_size, fs::path(o.style).filename().c_str(),
               to_string(style.shape().spatial()).c_str(), VggNet::depth, start, o.iterations, device.c_str());

  HostTensor sample;
  if (!o.sample.empty()) sample = io::resize_longer_side(io::read_image<float>(o.sample), o.image_size);
  TrainingLoop loop(program, o, start, {"total", "content", "style", "tv"});
  train::BatchLoader loader(dataset, {.image_size = o.image_size,
                                      .batch_size = o.batch_size,
                                      .seed = o.seed,
                                      .threads = o.threads,
                                      .first_batch = trainer.iteration()});
  // A NaN or Inf, a full disk or a bad image stops the run; the error says which checkpoint is kept.
  KeptCheckpoint kept{o.resume, start};
  try {
    for (long it = loop.first(); it <= loop.last(); ++it) {
      // The type named: nvcc 13 drops the braces of {t.total, ...} below when t is `auto` here.
      const train::StyleTerms t = trainer.step(loader.next().images);
      loop.report(it, {t.total, t.content, t.style, t.tv});
      if (loop.checkpoint_due(it)) {
        trainer.save_checkpoint(loop.checkpoint_path(), run_meta);
        kept = {loop.checkpoint_path(), it};
      }
      if (loop.sample_due(it)) io::write_image(trainer.stylize(sample), loop.sample_path(it));
      if (loop.out_of_time()) break;
    }
    // Unless the last iteration's checkpoint is this one: each durable write costs a sync.
    if (loop.final_checkpoint() && (kept.path != loop.checkpoint_path() || kept.iteration != trainer.iteration())) {
      trainer.save_checkpoint(loop.checkpoint_path(), run_meta);
      kept = {loop.checkpoint_path(), trainer.iteration()};
    }
    trainer.save_model(o.output, run_meta);
  } catch (const Error& e) {
    return report_stopped(program, e, kept);
  }
  loop.finish(trainer.iteration());
  return 0;
}

// The program: options, then the run on B with the VGG depth of the weights file.
template <class B>
int train_style_main(int argc, char** argv, const ProgramBackend& backend) {
  TrainStyleOptions o;
  o.output = "style.safetensors";
  o.command_line = command_line(argc, argv);
  CLI::App app{
      "Trains a feed-forward style transfer network (Johnson et al. 2016) on a folder of images by minimising\n"
      "  content_weight * feature loss + style_weight * style loss + tv_weight * total variation\n"
      "with Adam. Each training image is scaled so its shorter side is --image-size, then centre-cropped "
      "square. The default weights suit Caffe-convention VGG files (inputs 0..255, std 1, like the shared "
      "VGG-19). Our style loss sums the squared Gram differences (Gram / (C*H*W)) where Johnson et al.'s code "
      "averages them with weight 5, i.e. 5 / C^2 per layer: 1e-4 is that at C ~ 220. Measured at 256 px, "
      "batch 4, starry_night, untrained net: content ~9e4, style ~5e7 (relu3_4 dominates), TV ~1e3. "
      "Files converted from torchvision (std ~58) need other weights. The output is read by stylize; "
      "train_style and train_style_cuda write the same files and resume each other's checkpoints."};
  app.add_option("--style", o.style, "style image (JPEG/PNG/BMP)")->required()->check(CLI::ExistingFile);
  app.add_option("--weights", o.weights, "VGG-16/19 weights (safetensors, see scripts/convert_vgg.py)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--output,-o", o.output, "the trained network (safetensors)")->capture_default_str();
  app.add_option("--content-layers", o.content_layers, "comma-separated reluX_Y layers")->capture_default_str();
  app.add_option("--style-layers", o.style_layers,
                 "comma-separated reluX_Y layers (the paper's; with the shared VGG-19, which stops at conv3_4, use "
                 "e.g. relu1_2,relu2_2,relu3_4)")
      ->capture_default_str();
  app.add_option("--content-weight", o.content_weight, "lambda_c (each content layer)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--style-weight", o.style_weight, "lambda_s (each style layer)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--tv-weight", o.tv_weight, "lambda_TV (plain squared total variation)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--image-size", o.image_size, "side of the square training crops, pixels")
      ->capture_default_str()
      ->check(CLI::Range(16, 4096));
  app.add_option("--style-size", o.style_size, "longer side of the style image (default: --image-size)")
      ->check(CLI::Range(16, 8192));
  add_training_flags(app, o, "image stylised at --image-size", "total,content,style,tv");
  CLI11_PARSE(app, argc, argv);

  const char* program = backend.program.c_str();
  try {
    if (o.sample_every > 0 && o.sample.empty()) throw ArgumentError("--sample-every needs --sample IMAGE");
    check_batch_memory(o, "--image-size", o.image_size);
    const std::string device = backend.start();
    const int depth = nets::vgg_depth(io::SafetensorsFile(o.weights));
    return depth == 19 ? train_style_run<nets::AllReluVgg19, B>(o, program, device)
                       : train_style_run<nets::AllReluVgg16, B>(o, program, device);
  } catch (const std::exception& e) {  // perceptual::Error, and e.g. a malformed number in a checkpoint
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  }
}

}  // namespace perceptual::examples
