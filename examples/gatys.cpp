// gatys: optimisation-based style transfer (Gatys, Ecker, Bethge, CVPR 2016), the baseline of
// Johnson et al.: minimise content_weight * feature + style_weight * style + tv_weight * TV over
// the image pixels (Johnson eq. 5) with box-projected L-BFGS (pixels stay in [0, 255]) or Adam.
// Content weight 0 gives texture synthesis; style weight 0 gives feature inversion.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <perceptual/app/gatys.hpp>
#include <perceptual/app/objective_options.hpp>
#include <perceptual/app/options.hpp>
#include <perceptual/app/progress.hpp>
#include <perceptual/perceptual.hpp>
#include <string>

using namespace perceptual;
using TensorF = Tensor<float, Cpu>;

namespace {

struct Options {
  std::string content, style, weights, output = "gatys.png", log;
  losses::StyleObjectiveOptions objective{.content_layers = {"relu4_2"},
                                          .style_layers = {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"},
                                          .content_weight = 1,
                                          .style_weight = 1e-3,
                                          .tv_weight = 1e-3};
  app::GatysOptions gatys;
  int image_size = 256, style_size = 0, print_every = 10;
};

template <class Net>
int run(const Options& o) {
  losses::StyleObjective<Net, Cpu> objective(o.objective, o.weights);
  const TensorF content = io::resize_longer_side(io::read_image<float>(o.content), o.image_size);
  const TensorF style =
      io::resize_longer_side(io::read_image<float>(o.style), o.style_size > 0 ? o.style_size : o.image_size);
  const bool lbfgs = o.gatys.optimizer == app::GatysOptions::Optimizer::lbfgs;
  std::fprintf(stderr, "gatys: content %s, style %s, VGG-%d (%d conv layers), %s, %d iterations\n",
               to_string(content.shape().spatial()).c_str(), to_string(style.shape().spatial()).c_str(), Net::depth,
               objective.loss_network().stages_needed(), lbfgs ? "lbfgs" : "adam", o.gatys.iterations);

  std::ofstream log;
  if (!o.log.empty()) {
    log.open(o.log);
    if (!log) throw FileError("--log: cannot write " + o.log);
    log << "iteration,total,content,style,tv,seconds\n";
  }
  app::Progress progress("gatys", o.gatys.iterations, o.print_every);
  TensorF x;
  const auto run = app::run_gatys(objective, content, style, o.gatys, x, [&](const app::GatysProgress& p) {
    const auto& t = p.terms;
    if (log)
      log << p.iteration << ',' << t.total << ',' << t.content << ',' << t.style << ',' << t.tv << ',' << p.seconds
          << '\n';
    char buf[160];
    std::snprintf(buf, sizeof buf, "loss %.4g (content %.4g, style %.4g, tv %.4g)", t.total, t.content, t.style, t.tv);
    if (p.iteration > 0)
      progress.update(p.iteration, buf);
    else
      std::fprintf(stderr, "gatys: initial %s\n", buf);
    return true;
  });
  if (lbfgs)
    std::fprintf(stderr, "gatys: L-BFGS stopped after %d iterations (%s), %d evaluations\n", run.lbfgs.iterations,
                 optim::to_string(run.lbfgs.stop).c_str(), run.lbfgs.evaluations);
  io::write_image(x, o.output);
  std::fprintf(stderr, "gatys: wrote %s (%.1f s)\n", o.output.c_str(), progress.seconds());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App cli{
      "Optimisation-based style transfer (Gatys et al. 2016): finds the image whose VGG features match the "
      "content image and whose Gram matrices match the style image, by minimising\n"
      "  content_weight * feature loss + style_weight * style loss + tv_weight * total variation\n"
      "over the pixels (Johnson et al. eq. 5). --content-weight 0 synthesises the style's texture; "
      "--style-weight 0 inverts the content's features. " +
      std::string(losses::default_weights_note)};
  app::add_input_file(cli, "--content", o.content, "content image (JPEG/PNG/BMP)");
  app::add_input_file(cli, "--style", o.style, "style image");
  app::add_input_file(cli, "--weights", o.weights, "VGG-16/19 weights (safetensors, see scripts/convert_vgg.py)");
  cli.add_option("--output,-o", o.output, "output image (.png or .jpg)")->capture_default_str();
  app::ObjectiveFlags objective_flags(cli, o.objective);
  cli.add_option("--image-size", o.image_size, "longer side of the content (and output), pixels")
      ->capture_default_str()
      ->check(CLI::Range(16, 8192));
  cli.add_option("--style-size", o.style_size, "longer side of the style image (default: --image-size)")
      ->check(CLI::Range(16, 8192));
  cli.add_option("--iterations,-n", o.gatys.iterations, "optimiser iterations")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  using Optimizer = app::GatysOptions::Optimizer;
  using Init = app::GatysOptions::Init;
  cli.add_option("--optimizer", o.gatys.optimizer, "lbfgs (projected to [0, 255]) or adam")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, Optimizer>{{"lbfgs", Optimizer::lbfgs}, {"adam", Optimizer::adam}}))
      ->default_str("lbfgs");
  cli.add_option("--lr", o.gatys.lr, "Adam's learning rate (pixels per step)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cli.add_option("--init", o.gatys.init, "start from noise or the content image")
      ->transform(
          CLI::CheckedTransformer(std::map<std::string, Init>{{"noise", Init::noise}, {"content", Init::content}}))
      ->default_str("noise");
  cli.add_option("--seed", o.gatys.seed, "seed of the initial noise")->capture_default_str();
  cli.add_option("--log", o.log, "CSV of every iteration's total and per-term loss");
  cli.add_option("--print-every", o.print_every, "progress line every N iterations (when not a terminal)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app::add_max_pixels_option(cli);
  CLI11_PARSE(cli, argc, argv);

  return app::report_errors("gatys", [&] {
    if (o.objective.content_weight == 0 && o.objective.style_weight == 0)
      throw ArgumentError("--content-weight and --style-weight are both 0: nothing to optimise");
    objective_flags.take_weights_defaults(o.weights);
    const int depth = nets::vgg_depth(io::SafetensorsFile(o.weights));
    return depth == 19 ? run<nets::AllReluVgg19>(o) : run<nets::AllReluVgg16>(o);
  });
}
