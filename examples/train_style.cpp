// train_style: trains a feed-forward style transformation network (Johnson et al. 2016, section 3):
// Adam on content_weight * feature loss + style_weight * style loss + tv_weight * TV over batches
// of training images, with checkpoints that resume bit-identically. The result is read by stylize.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <perceptual/perceptual.hpp>
#include <perceptual/train/data.hpp>
#include <perceptual/train/style_trainer.hpp>
#include <string>
#include <vector>

#include "progress.hpp"

using namespace perceptual;
using TensorF = Tensor<float, Cpu>;
namespace fs = std::filesystem;

namespace {

struct Options {
  std::string style, weights, output = "style.safetensors", checkpoint, resume, sample, log;
  std::vector<std::string> data;
  std::string content_layers = "relu2_2", style_layers = "relu1_2,relu2_2,relu3_3,relu4_3";
  // Caffe-convention VGG (inputs 0..255, std 1, like the shared VGG-19); see the --help text.
  double content_weight = 1, style_weight = 1e-4, tv_weight = 1e-6, lr = 1e-3;
  int image_size = 256, style_size = 0, batch_size = 4, iterations = 40000, checkpoint_every = 0, sample_every = 0;
  int print_every = 10, threads = 2;
  unsigned long seed = 0;
  std::string command_line;
};

// Scales the image so that its longer side is `size` (bicubic, antialiased when shrinking).
TensorF fit(const TensorF& image, int size) {
  const double s = static_cast<double>(size) / std::max(image.h(), image.w());
  return io::resize_bicubic(image, std::max(1, static_cast<int>(std::lround(image.h() * s))),
                            std::max(1, static_cast<int>(std::lround(image.w() * s))));
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

template <class VggNet>
int run(const Options& o) {
  train::StyleTrainerOptions to;
  to.content_layers = train::split_list(o.content_layers);
  to.style_layers = train::split_list(o.style_layers);
  to.content_weight = o.content_weight;
  to.style_weight = o.style_weight;
  to.tv_weight = o.tv_weight;
  to.lr = o.lr;
  to.seed = o.seed;
  const int style_size = o.style_size > 0 ? o.style_size : o.image_size;
  const TensorF style = fit(io::read_image<float>(o.style), style_size);
  const std::vector<fs::path> folders(o.data.begin(), o.data.end());
  const train::ImageDataset dataset(folders);
  train::StyleTrainer<VggNet> trainer(to, o.weights, style);

  // What a resumed run must agree on to continue the same run, and what the model file records.
  std::string data_list;
  for (const auto& d : o.data) data_list += (data_list.empty() ? "" : ",") + d;
  const std::map<std::string, std::string> run_meta{{"style", fs::path(o.style).filename().string()},
                                                    {"data", data_list},
                                                    {"vgg_weights", fs::path(o.weights).filename().string()},
                                                    {"image_size", std::to_string(o.image_size)},
                                                    {"style_size", std::to_string(style_size)},
                                                    {"batch_size", std::to_string(o.batch_size)},
                                                    {"seed", std::to_string(o.seed)},
                                                    {"content_layers", train::join_list(to.content_layers)},
                                                    {"style_layers", train::join_list(to.style_layers)},
                                                    {"content_weight", number(o.content_weight)},
                                                    {"style_weight", number(o.style_weight)},
                                                    {"tv_weight", number(o.tv_weight)},
                                                    {"lr", number(o.lr)},
                                                    {"command_line", o.command_line}};

  if (!o.resume.empty()) {
    const auto meta = trainer.load_checkpoint(o.resume);
    for (const char* key : {"data", "image_size", "batch_size", "seed", "style", "content_layers", "style_layers"})
      if (const auto it = meta.find(key); it != meta.end() && it->second != run_meta.at(key))
        std::fprintf(stderr,
                     "train_style: warning: the checkpoint's %s is \"%s\", this run's \"%s\": not a "
                     "continuation of the same run\n",
                     key, it->second.c_str(), run_meta.at(key).c_str());
    std::fprintf(stderr, "train_style: resumed %s at iteration %lld\n", o.resume.c_str(),
                 static_cast<long long>(trainer.iteration()));
  }
  const long start = static_cast<long>(trainer.iteration());
  std::fprintf(stderr,
               "train_style: %zu training images, %dx%d crops, batch %d, style %s at %s, VGG-%d, iterations %ld..%d\n",
               dataset.size(), o.image_size, o.image_size, o.batch_size, fs::path(o.style).filename().c_str(),
               to_string(style.shape().spatial()).c_str(), VggNet::depth, start, o.iterations);

  const fs::path output(o.output);
  const std::string checkpoint = !o.checkpoint.empty()
                                     ? o.checkpoint
                                     : (output.parent_path() / (output.stem().string() + ".ckpt.safetensors")).string();
  TensorF sample;
  if (!o.sample.empty()) sample = fit(io::read_image<float>(o.sample), o.image_size);

  std::ofstream log;
  if (!o.log.empty()) {
    const bool append = start > 0 && fs::exists(o.log);  // a resumed run continues its log
    log.open(o.log, append ? std::ios::app : std::ios::trunc);
    if (!log) throw FileError("--log: cannot write " + o.log);
    if (!append) log << "iteration,total,content,style,tv,seconds\n";
  }

  train::BatchLoader loader(dataset, {.image_size = o.image_size,
                                      .batch_size = o.batch_size,
                                      .seed = o.seed,
                                      .threads = o.threads,
                                      .first_batch = trainer.iteration()});
  examples::Progress progress("train_style", std::max(1L, o.iterations - start), o.print_every);
  for (long it = start + 1; it <= o.iterations; ++it) {
    const auto t = trainer.step(loader.next().images);
    if (it == start + 1)
      std::fprintf(stderr, "train_style: initial loss %.4g (content %.4g, style %.4g, tv %.4g)\n", t.total, t.content,
                   t.style, t.tv);
    if (log)
      log << it << ',' << t.total << ',' << t.content << ',' << t.style << ',' << t.tv << ',' << progress.seconds()
          << '\n';
    char buf[160];
    std::snprintf(buf, sizeof buf, "it %ld loss %.4g (content %.4g, style %.4g, tv %.4g)", it, t.total, t.content,
                  t.style, t.tv);
    progress.update(it - start, buf);
    if (o.checkpoint_every > 0 && it % o.checkpoint_every == 0) trainer.save_checkpoint(checkpoint, run_meta);
    if (o.sample_every > 0 && !sample.empty() && it % o.sample_every == 0) {
      const fs::path path = output.parent_path() / (output.stem().string() + "_sample_" + std::to_string(it) + ".png");
      io::write_image(trainer.stylize(sample), path);
    }
  }
  if (log) log.flush();
  if (o.checkpoint_every > 0 || !o.checkpoint.empty()) trainer.save_checkpoint(checkpoint, run_meta);
  trainer.save_model(output, run_meta);
  std::fprintf(stderr, "train_style: wrote %s after %lld iterations (%.1f s this run)\n", o.output.c_str(),
               static_cast<long long>(trainer.iteration()), progress.seconds());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 0; i < argc; ++i) o.command_line += (i ? " " : "") + std::string(argv[i]);
  CLI::App app{
      "Trains a feed-forward style transfer network (Johnson et al. 2016) on a folder of images by minimising\n"
      "  content_weight * feature loss + style_weight * style loss + tv_weight * total variation\n"
      "with Adam. Each training image is scaled so its shorter side is --image-size, then centre-cropped "
      "square. The default weights suit Caffe-convention VGG files (inputs 0..255, std 1, like the shared "
      "VGG-19). Our style loss sums the squared Gram differences (Gram / (C*H*W)) where Johnson et al.'s code "
      "averages them with weight 5, i.e. 5 / C^2 per layer: 1e-4 is that at C ~ 220. Measured at 256 px, "
      "batch 4, starry_night, untrained net: content ~9e4, style ~5e7 (relu3_4 dominates), TV ~1e3. "
      "Files converted from torchvision (std ~58) need other weights. The output is read by stylize."};
  app.add_option("--style", o.style, "style image (JPEG/PNG/BMP)")->required()->check(CLI::ExistingFile);
  app.add_option("--data", o.data, "training image folder(s), searched recursively")
      ->required()
      ->check(CLI::ExistingDirectory);
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
  app.add_option("--batch-size", o.batch_size, "images per batch")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--iterations,-n", o.iterations, "Adam steps in all (a resumed run continues to this count)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000000));
  app.add_option("--lr", o.lr, "Adam's learning rate")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--checkpoint-every", o.checkpoint_every,
                 "write a checkpoint every N iterations (0: only at the end "
                 "when --checkpoint is given)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--checkpoint", o.checkpoint, "checkpoint file (default: <output stem>.ckpt.safetensors)");
  app.add_option("--resume", o.resume, "continue from a checkpoint (same data, sizes and seed: bit-identical)")
      ->check(CLI::ExistingFile);
  app.add_option("--sample-every", o.sample_every, "stylise --sample every N iterations")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--sample", o.sample, "image stylised into <output stem>_sample_<iteration>.png beside --output")
      ->check(CLI::ExistingFile);
  app.add_option("--log", o.log, "CSV of every iteration: iteration,total,content,style,tv,seconds");
  app.add_option("--seed", o.seed, "seed of the initial weights and of the data order")->capture_default_str();
  app.add_option("--threads", o.threads, "image decoding threads")->capture_default_str()->check(CLI::Range(0, 64));
  app.add_option("--print-every", o.print_every, "progress line every N iterations (when not a terminal)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  try {
    if (o.sample_every > 0 && o.sample.empty()) throw ArgumentError("--sample-every needs --sample IMAGE");
    const int depth = nets::vgg_depth(io::SafetensorsFile(o.weights));
    return depth == 19 ? run<train::AllReluVgg19>(o) : run<train::AllReluVgg16>(o);
  } catch (const Error& e) {
    std::fprintf(stderr, "train_style: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {  // e.g. a malformed number in a checkpoint's metadata
    std::fprintf(stderr, "train_style: error: %s\n", e.what());
    return 1;
  }
}
