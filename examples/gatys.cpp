// gatys: optimisation-based style transfer (Gatys, Ecker, Bethge, CVPR 2016), the baseline of
// Johnson et al.: minimise content_weight * feature + style_weight * style + tv_weight * TV over
// the image pixels (Johnson eq. 5) with box-projected L-BFGS (pixels stay in [0, 255]) or Adam.
// Content weight 0 gives texture synthesis; style weight 0 gives feature inversion.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <perceptual/io/io.hpp>
#include <perceptual/nets/vgg_weights.hpp>
#include <perceptual/perceptual.hpp>
#include <string>
#include <vector>

#include "inputs.hpp"
#include "progress.hpp"

using namespace perceptual;
using TensorF = Tensor<float, Cpu>;

namespace {

struct Options {
  std::string content, style, weights, output = "gatys.png", log, optimizer = "lbfgs", init = "noise";
  std::string content_layers = "relu4_2", style_layers = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1";
  double content_weight = 1, style_weight = 1e-3, tv_weight = 1e-3, lr = 2;
  int image_size = 256, style_size = 0, iterations = 500, print_every = 10;
  unsigned long seed = 0;
};

template <class Net>
int run(const Options& o) {
  losses::StyleObjectiveOptions oo;
  oo.content_layers = split_list(o.content_layers);
  oo.style_layers = split_list(o.style_layers);
  oo.content_weight = o.content_weight;
  oo.style_weight = o.style_weight;
  oo.tv_weight = o.tv_weight;
  losses::StyleObjective<Net, Cpu> objective(oo, o.weights);

  const TensorF content = io::resize_longer_side(io::read_image<float>(o.content), o.image_size);
  const TensorF style =
      io::resize_longer_side(io::read_image<float>(o.style), o.style_size > 0 ? o.style_size : o.image_size);
  std::fprintf(stderr, "gatys: content %s, style %s, VGG-%d (%d conv layers), %s, %d iterations\n",
               to_string(content.shape().spatial()).c_str(), to_string(style.shape().spatial()).c_str(), Net::depth,
               objective.loss_network().stages_needed(), o.optimizer.c_str(), o.iterations);

  // Targets: the content's features and the style's Gram matrices, computed once.
  objective.set_content(content);
  objective.set_style(style);
  using Terms = losses::ObjectiveTerms;

  TensorF x = o.init == "noise" ? losses::white_noise_image<float, Cpu>(content.shape(), o.seed) : content;

  std::ofstream log;
  if (!o.log.empty()) {
    log.open(o.log);
    if (!log) throw FileError("--log: cannot write " + o.log);
    log << "iteration,total,content,style,tv,seconds\n";
  }
  examples::Progress progress("gatys", o.iterations, o.print_every);
  auto report = [&](int iteration, const Terms& t) {
    if (log)
      log << iteration << ',' << t.total << ',' << t.content << ',' << t.style << ',' << t.tv << ','
          << progress.seconds() << '\n';
    char buf[160];
    std::snprintf(buf, sizeof buf, "loss %.4g (content %.4g, style %.4g, tv %.4g)", t.total, t.content, t.style, t.tv);
    if (iteration > 0)
      progress.update(iteration, buf);
    else
      std::fprintf(stderr, "gatys: initial %s\n", buf);
  };

  if (o.optimizer == "lbfgs") {
    optim::LbfgsOptions lo;
    lo.max_iterations = o.iterations;
    lo.lower = 0;
    lo.upper = 255;
    Terms last;  // the callback's value is the accepted iterate's; `last` holds the last evaluation
    auto f = [&](const TensorF& xx, TensorF& g) {
      auto r = objective.evaluate(xx);
      g = std::move(r.grad);
      last = r.terms;
      return last.total;
    };
    lo.callback = [&](int iteration, double) { report(iteration, last); };
    const auto result = optim::minimize(x, f, lo);
    std::fprintf(stderr, "gatys: L-BFGS stopped after %d iterations (%s), %d evaluations\n", result.iterations,
                 optim::to_string(result.stop).c_str(), result.evaluations);
  } else {
    TensorF grad(x.shape());
    optim::Adam<float, Cpu> adam({{"image", &x, &grad}}, {.lr = o.lr});
    for (int i = 0; i <= o.iterations; ++i) {
      auto r = objective.evaluate(x);
      grad = std::move(r.grad);
      report(i, r.terms);
      if (i == o.iterations) break;
      adam.step();
      box_project(x, 0.0f, 255.0f);
    }
  }
  io::write_image(x, o.output);
  std::fprintf(stderr, "gatys: wrote %s (%.1f s)\n", o.output.c_str(), progress.seconds());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "Optimisation-based style transfer (Gatys et al. 2016): finds the image whose VGG features match the "
      "content image and whose Gram matrices match the style image, by minimising\n"
      "  content_weight * feature loss + style_weight * style loss + tv_weight * total variation\n"
      "over the pixels (Johnson et al. eq. 5). --content-weight 0 synthesises the style's texture; "
      "--style-weight 0 inverts the content's features. The weights suit Caffe-convention VGG files "
      "(input std 1, like the shared VGG-19); files converted from torchvision may need others."};
  app.add_option("--content", o.content, "content image (JPEG/PNG/BMP)")->required()->check(CLI::ExistingFile);
  app.add_option("--style", o.style, "style image")->required()->check(CLI::ExistingFile);
  app.add_option("--weights", o.weights, "VGG-16/19 weights (safetensors, see scripts/convert_vgg.py)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--output,-o", o.output, "output image (.png or .jpg)")->capture_default_str();
  app.add_option("--content-layers", o.content_layers, "comma-separated reluX_Y layers")->capture_default_str();
  app.add_option("--style-layers", o.style_layers, "comma-separated reluX_Y layers")->capture_default_str();
  app.add_option("--content-weight", o.content_weight, "lambda_c")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--style-weight", o.style_weight, "lambda_s (each style layer)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--tv-weight", o.tv_weight, "lambda_TV")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--image-size", o.image_size, "longer side of the content (and output), pixels")
      ->capture_default_str()
      ->check(CLI::Range(16, 8192));
  app.add_option("--style-size", o.style_size, "longer side of the style image (default: --image-size)")
      ->check(CLI::Range(16, 8192));
  app.add_option("--iterations,-n", o.iterations, "optimiser iterations")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--optimizer", o.optimizer, "lbfgs (projected to [0, 255]) or adam")
      ->capture_default_str()
      ->check(CLI::IsMember({"lbfgs", "adam"}));
  app.add_option("--lr", o.lr, "Adam's learning rate (pixels per step)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--init", o.init, "start from noise or the content image")
      ->capture_default_str()
      ->check(CLI::IsMember({"noise", "content"}));
  app.add_option("--seed", o.seed, "seed of the initial noise")->capture_default_str();
  app.add_option("--log", o.log, "CSV of every iteration's total and per-term loss");
  app.add_option("--print-every", o.print_every, "progress line every N iterations (when not a terminal)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  examples::add_max_pixels_option(app);
  CLI11_PARSE(app, argc, argv);

  try {
    if (o.content_weight == 0 && o.style_weight == 0)
      throw ArgumentError("--content-weight and --style-weight are both 0: nothing to optimise");
    const int depth = nets::vgg_depth(io::SafetensorsFile(o.weights));
    return depth == 19 ? run<nets::AllReluVgg19>(o) : run<nets::AllReluVgg16>(o);
  } catch (const Error& e) {
    std::fprintf(stderr, "gatys: error: %s\n", e.what());
    return 1;
  }
}
