#pragma once
// train_style, the whole program on backend B: trains a feed-forward style transformation network
// (Johnson et al. 2016, section 3): Adam on content_weight * feature loss + style_weight * style
// loss + tv_weight * TV over batches of training images, with checkpoints that resume
// bit-identically (on either backend). The result is read by stylize. train_style.cpp builds it
// for the CPU, train_style_cuda.cpp for the GPU.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <perceptual/perceptual.hpp>
#include <perceptual/train/data.hpp>
#include <perceptual/train/style_trainer.hpp>
#include <string>
#include <vector>

#include <perceptual/app/device.hpp>
#include <perceptual/app/distributed.hpp>
#include <perceptual/app/objective_options.hpp>
#include <perceptual/app/training.hpp>

namespace perceptual::examples {

struct TrainStyleOptions : app::TrainingFlags {
  std::string style, weights;
  // The paper's layers and weights (Caffe-convention VGG: inputs 0..255, std 1, like the shared
  // VGG-19); see the --help text.
  losses::StyleObjectiveOptions objective;
  int image_size = 256, style_size = 0;
};

template <class VggNet, class B>
int train_style_run(const TrainStyleOptions& o, const char* program, const std::string& device) {
  namespace fs = std::filesystem;
  using HostTensor = Tensor<float, Cpu>;
  const train::StyleTrainerOptions to{.objective = o.objective, .lr = o.lr, .seed = o.seed};
  const int style_size = o.style_size > 0 ? o.style_size : o.image_size;
  const HostTensor style = io::resize_longer_side(io::read_image<float>(o.style), style_size);
  const std::vector<fs::path> folders(o.data.begin(), o.data.end());
  const train::ImageDataset dataset(folders);
  train::StyleTrainer<VggNet, nets::StyleTransformNet<>, B> trainer(to, o.weights, style);
  dist::Communicator& comm = app::world();
  trainer.distribute(comm, o.batch_size);

  // What the model file records besides the objective's settings (the trainer adds those), and
  // what a resumed run must agree on to continue the same run.
  auto run_meta = app::run_metadata(o);
  run_meta.insert({{"style", fs::path(o.style).filename().string()},
                   {"vgg_weights", fs::path(o.weights).filename().string()},
                   {"image_size", std::to_string(o.image_size)},
                   {"style_size", std::to_string(style_size)}});
  if (!o.resume.empty()) {
    auto mine = run_meta;
    mine.merge(losses::to_metadata(o.objective));
    const auto checkpoint = trainer.load_checkpoint(o.resume);
    if (comm.root())
      app::report_resume(program, o, trainer.iteration(), checkpoint, mine,
                         {"data", "image_size", "batch_size", "seed", "style", "content_layers", "style_layers"});
  }
  const long start = static_cast<long>(trainer.iteration());
  if (comm.root())
    std::fprintf(stderr,
                 "%s: %zu training images, %dx%d crops, batch %d, style %s at %s, VGG-%d, iterations %ld..%d, on "
                 "%s%s\n",
                 program, dataset.size(), o.image_size, o.image_size, o.batch_size,
                 fs::path(o.style).filename().c_str(), to_string(style.shape().spatial()).c_str(), VggNet::depth, start,
                 o.iterations, device.c_str(), app::ranks_text(comm).c_str());

  HostTensor sample;
  if (!o.sample.empty()) sample = io::resize_longer_side(io::read_image<float>(o.sample), o.image_size);
  app::TrainingLoop loop(program, o, start, {"total", "content", "style", "tv"}, comm.root());
  train::BatchLoader loader(dataset, app::loader_options(o, o.image_size, trainer));
  return app::run_training(
      program, o, trainer, loop, run_meta,
      [&](long) {
        // The type named: nvcc 13 drops the braces of {t.total, ...} below when t is `auto` here.
        const train::StyleTerms t = trainer.step(loader.next().images);
        return std::vector<double>{t.total, t.content, t.style, t.tv};
      },
      [&](const fs::path& path) { io::write_image(trainer.stylize(sample), path); });
}

// The program: options, then the run on B with the VGG depth of the weights file. `program`
// ("train_style_cuda") names it in messages; `instead` says what to run where B cannot run.
template <class B>
int train_style_main(int argc, char** argv, const std::string& program, const std::string& instead) {
  TrainStyleOptions o;
  o.output = "style.safetensors";
  o.command_line = app::command_line(argc, argv);
  CLI::App cli{
      "Trains a feed-forward style transfer network (Johnson et al. 2016) on a folder of images by minimising\n"
      "  content_weight * feature loss + style_weight * style loss + tv_weight * total variation\n"
      "with Adam. Each training image is scaled so its shorter side is --image-size, then centre-cropped "
      "square. " +
      std::string(losses::default_weights_note) +
      " models/README.md has the recipes of the shipped models. The output is read by stylize; train_style and "
      "train_style_cuda write the same files and resume each other's checkpoints."};
  app::add_input_file(cli, "--style", o.style, "style image (JPEG/PNG/BMP)");
  app::add_input_file(cli, "--weights", o.weights, "VGG-16/19 weights (safetensors, see scripts/convert_vgg.py)");
  cli.add_option("--output,-o", o.output, "the trained network (safetensors)")->capture_default_str();
  app::ObjectiveFlags objective_flags(cli, o.objective);
  cli.add_option("--image-size", o.image_size, "side of the square training crops, pixels")
      ->capture_default_str()
      ->check(CLI::Range(16, 4096));
  cli.add_option("--style-size", o.style_size, "longer side of the style image (default: --image-size)")
      ->check(CLI::Range(16, 8192));
  app::add_training_flags(cli, o, "image stylised at --image-size", "total,content,style,tv");
  CLI11_PARSE(cli, argc, argv);

  return app::report_errors(program, [&] {
    if (o.sample_every > 0 && o.sample.empty()) throw ArgumentError("--sample-every needs --sample IMAGE");
    app::check_batch_memory(o, "--image-size", o.image_size);
    const std::string device = app::Device<B>::start(instead);
    objective_flags.take_weights_defaults(o.weights);
    const int depth = nets::vgg_depth(io::SafetensorsFile(o.weights));
    return depth == 19 ? train_style_run<nets::AllReluVgg19, B>(o, program.c_str(), device)
                       : train_style_run<nets::AllReluVgg16, B>(o, program.c_str(), device);
  });
}

}  // namespace perceptual::examples
