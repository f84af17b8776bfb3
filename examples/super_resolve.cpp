// super_resolve: single-image super-resolution with a trained network (Johnson et al. 2016, sec.
// 4.2): one forward pass per low-resolution image gives an image `factor` times its size,
// optionally histogram-matched to the bicubic upscaling of the input (the paper's post-processing).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <perceptual/app/distributed.hpp>
#include <perceptual/app/images.hpp>
#include <perceptual/app/options.hpp>
#include <perceptual/app/tiled.hpp>
#include <perceptual/backend/cpu/cpu.hpp>
#include <perceptual/io/histogram.hpp>
#include <perceptual/io/image.hpp>
#include <perceptual/io/resample.hpp>
#include <perceptual/nets/super_resolver.hpp>
#include <string>
#include <vector>

using namespace perceptual;
using TensorF = Tensor<float, Cpu>;
namespace fs = std::filesystem;

namespace {

struct Options : app::TransformFlags {
  bool histogram_match = false;
  app::TiledFlags tiled;
};

// Johnson et al.'s post-processing: each output channel's histogram matched to that of the
// bicubic upscaling of the input (clamped to [0, 255], the range the output is saved in).
TensorF match_to_bicubic(const TensorF& sr, const TensorF& lr) {
  TensorF reference = io::resize_bicubic(lr, sr.h(), sr.w());
  box_project(reference, 0.0f, 255.0f);
  return io::match_histograms(sr, reference);
}

int run(const Options& o) {
  nets::SuperResolver net(o.model);
  const int f = net.factor();
  dist::Communicator& comm = app::world();
  if (comm.root())
    std::fprintf(stderr, "super_resolve: x%d network (%s norm) from %s%s\n", f,
                 net.info().batch_norm ? "batch" : "instance", o.model.c_str(), app::ranks_text(comm).c_str());
  return app::transform_images(
      "super_resolve", o, o.suffix_or("_x" + std::to_string(f)), {},
      [&](const TensorF& lr) {
        const TensorF sr = net.upscale(lr);
        return o.histogram_match ? match_to_bicubic(sr, lr) : sr;
      },
      comm,
      [&](const fs::path& in, const fs::path& out) {
        return net.visit([&](auto& model) {
          app::TiledImage how;
          how.flags = o.tiled;
          how.program = "super_resolve";
          if (o.histogram_match)
            how.refuse = "--histogram-match matches whole-image histograms, not those of bands: raise --max-memory";
          return app::run_tiled(model, in, out, how);
        });
      });
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App cli{
      "Super-resolution (Johnson et al. 2016): upscales each low-resolution image by the network's factor (4 or 8, "
      "read from the model file that train_sr writes) in one forward pass; images at least 5x5, RGB, values kept on "
      "the 0..255 scale. Writes OUTPUT_DIR/<name><suffix>.<format> and prints the time per image (the network, "
      "and the histogram matching when asked, without the file reading and writing)."};
  app::add_transform_flags(cli, o, "super-resolution network (safetensors, from train_sr)", "low-resolution images",
                           "_x<factor>");
  app::add_tiled_flags(cli, o.tiled);
  cli.add_flag("--histogram-match", o.histogram_match,
               "match each output channel's histogram to that of the bicubic upscaling of the input (the paper's "
               "post-processing)");
  CLI11_PARSE(cli, argc, argv);

  return app::report_errors("super_resolve", [&] { return run(o); });
}
