// stylize: fast style transfer with a feed-forward network (Johnson et al. 2016): one forward pass
// per image, at the image's own resolution. Takes lengstrom/fast-style-transfer checkpoints
// (--preset engstrom) or our own StyleTransformNet (--preset johnson, from train_style).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <perceptual/app/distributed.hpp>
#include <perceptual/app/images.hpp>
#include <perceptual/app/options.hpp>
#include <perceptual/app/style_nets.hpp>
#include <perceptual/app/tiled.hpp>
#include <perceptual/io/io.hpp>
#include <perceptual/nets/engstrom.hpp>
#include <perceptual/nets/transform.hpp>
#include <perceptual/perceptual.hpp>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

using namespace perceptual;
using TensorF = Tensor<float, Cpu>;
namespace fs = std::filesystem;

namespace {

struct Options : app::TransformFlags {
  std::string preset = "auto";
  bool preserve_colors = false, crop_to_input = false;
  int batch = 4;
  app::TiledFlags tiled;
};

// Batches of images of one size hold at most this many pixels: where batching pays (small images,
// whose layers are too small to keep both cores busy) and no batch needs more memory than one
// 1024x1024 image.
constexpr std::int64_t batch_pixels = std::int64_t{1} << 20;

// Luminance-only transfer (Gatys et al. 2016, "Preserving color"): the output's Y with the input's Cb, Cr.
TensorF preserve_colors(const TensorF& stylized, const TensorF& content) {
  TensorF y = io::rgb_to_ycbcr(stylized);
  const TensorF c = io::rgb_to_ycbcr(content);
  const std::size_t plane = y.shape().plane();
  for (std::size_t n = 0; n < static_cast<std::size_t>(y.n()); ++n)  // each image's Cb and Cr
    std::copy_n(c.data() + (3 * n + 1) * plane, 2 * plane, y.data() + (3 * n + 1) * plane);
  TensorF rgb = io::ycbcr_to_rgb(y);
  box_project(rgb, 0.0f, 255.0f);
  return rgb;
}

// Our networks: reflection-padded to a multiple of 4, cropped back to the input's size.
template <class Net>
TensorF stylize_johnson(Model<Net, Cpu, float>& net, const TensorF& image) {
  return app::crop_top_left(net.forward(app::pad_to_multiple(image, nets::style_transform_multiple)), image.h(),
                            image.w());
}

// What lengstrom's evaluate.py does to its output before writing it (.astype(np.uint8)): truncation.
TensorF truncate(TensorF y) {
  for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = std::floor(y.data()[i]);
  return y;
}

// lengstrom's evaluate.py: the network at the image's own size with TensorFlow's SAME arithmetic,
// whose output is 4 * ceil(n / 4) (476 rows for 474), written whole and truncated to 8 bits
// (np.clip(...).astype(np.uint8)). `crop_to_input` drops the extra rows and columns, which lie at the
// bottom and the right (SAME pads after).
TensorF stylize_engstrom(Model<nets::EngstromNet, Cpu, float>& net, const TensorF& image, bool crop_to_input) {
  TensorF y = net.forward(image);
  if (crop_to_input) y = app::crop_top_left(y, image.h(), image.w());
  return truncate(std::move(y));
}

template <class Net, class Load>
int run(const Options& o, const io::SafetensorsFile& file, Load load) {
  Model<Net, Cpu, float> net;
  load(net, file);
  net.eval();
  const app::Batching batching{o.batch, batch_pixels};
  constexpr bool engstrom = std::is_same_v<Net, nets::EngstromNet>;
  app::TiledImage how;
  how.pad_multiple = engstrom ? 1 : nets::style_transform_multiple;
  how.crop = !engstrom || o.crop_to_input || o.preserve_colors;
  how.finish_reads_input = o.preserve_colors;
  how.flags = o.tiled;
  how.program = "stylize";
  if (engstrom || o.preserve_colors)
    how.finish = [&o](TensorF y, const TensorF* x) {
      if (engstrom) y = truncate(std::move(y));
      return o.preserve_colors ? preserve_colors(y, *x) : y;
    };
  return app::transform_images(
      "stylize", o, o.suffix_or("_" + fs::path(o.model).stem().string()), batching,
      [&](const TensorF& image) {
        NoGrad no_grad;  // inference: the layers keep nothing for backward
        TensorF y;
        if constexpr (std::is_same_v<Net, nets::EngstromNet>)
          y = stylize_engstrom(net, image, o.crop_to_input || o.preserve_colors);
        else
          y = stylize_johnson(net, image);
        return o.preserve_colors ? preserve_colors(y, image) : y;
      },
      app::world(), [&](const fs::path& in, const fs::path& out) { return app::run_tiled(net, in, out, how); });
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App cli{
      "Fast style transfer (Johnson et al. 2016): runs a trained style network over each image in one forward "
      "pass, at the image's own size. Our networks (--preset johnson) see the image reflection-padded to a multiple "
      "of 4 and give an image of its size. The lengstrom/fast-style-transfer networks (--preset engstrom) give what "
      "that project's evaluate.py writes: the network's output at the image's own size with TensorFlow's SAME "
      "arithmetic, 4 * ceil(n / 4) rows and columns (476 rows for 474), truncated to 8 bits; --crop-to-input "
      "drops the extra bottom rows and right columns. Writes OUTPUT_DIR/<name><suffix>.<format>."};
  app::add_transform_flags(cli, o, "style network weights (safetensors)", "images", "_<model name>");
  cli.add_option("--preset", o.preset,
                 "network: engstrom (lengstrom/fast-style-transfer), johnson (our StyleTransformNet), or auto: "
                 "from the file's metadata and tensor names")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "engstrom", "johnson"}));
  cli.add_flag("--preserve-colors", o.preserve_colors,
               "keep the input's colours: the stylised luminance (Y) with the input's chroma (Cb, Cr); with "
               "--preset engstrom, implies --crop-to-input");
  cli.add_flag("--crop-to-input", o.crop_to_input,
               "--preset engstrom: crop the output to the input's size (drops the bottom rows and right columns that "
               "TensorFlow's SAME arithmetic adds to sizes that are not multiples of 4)");
  cli.add_option("--batch", o.batch,
                 "run up to N consecutive images of one size in one pass, while they hold at most 1 megapixel in "
                 "all (4 images of 512x512; larger images go one at a time): faster per image, same results")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app::add_tiled_flags(cli, o.tiled);
  CLI11_PARSE(cli, argc, argv);

  return app::report_errors("stylize", [&] {
    const io::SafetensorsFile file(o.model);
    const std::string preset = o.preset == "auto" ? app::detect_preset(file) : o.preset;
    if (const dist::Communicator& comm = app::world(); comm.root())
      std::fprintf(stderr, "stylize: %s network from %s%s\n", preset.c_str(), o.model.c_str(),
                   app::ranks_text(comm).c_str());
    if (preset == "engstrom")
      return run<nets::EngstromNet>(o, file, [](auto& net, const auto& f) { nets::load_engstrom(net, f); });
    if (file.has("conv1.norm.running_mean"))  // trained with batch norm
      return run<nets::StyleTransformNet<nets::BatchNormDefault>>(
          o, file, [](auto& net, const auto& f) { io::load_parameters(net, f); });
    return run<nets::StyleTransformNet<>>(o, file, [](auto& net, const auto& f) { io::load_parameters(net, f); });
  });
}
