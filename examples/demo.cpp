// demo: the project's default main job until a trained style network ships. It runs the
// library's image pipeline and optimiser on the bundled photo: adds Gaussian noise, then restores
// the image by minimising pixel loss + tv_weight * total variation over the pixels with
// box-projected L-BFGS (the machinery of the Gatys baseline, without the VGG loss network, whose
// weights cannot ship), and reports the PSNR before and after.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <perceptual/app/options.hpp>
#include <perceptual/app/progress.hpp>
#include <perceptual/io/io.hpp>
#include <perceptual/perceptual.hpp>
#include <random>
#include <string>
#include <vector>

using namespace perceptual;
using TensorF = Tensor<float, Cpu>;

namespace {

double psnr(const TensorF& a, const TensorF& b) {
  const double mse = [&] {
    TensorF d = a;
    axpy(d, -1.0f, b);
    return dot(d, d) / static_cast<double>(d.size());
  }();
  return 10 * std::log10(255.0 * 255.0 / mse);
}

}  // namespace

int main(int argc, char** argv) {
  std::string input = "assets/chelsea.png", output_dir = "out";
  double sigma = 25, tv_weight = 2;
  int iterations = 100;
  unsigned long seed = 1;
  CLI::App cli{
      "Denoises the bundled photo (or --input) with pixel + total-variation loss and projected L-BFGS; "
      "writes <output-dir>/{noisy,denoised}.png and prints the PSNR of each against the clean image."};
  cli.add_option("--input,-i", input, "clean input image")->capture_default_str()->check(CLI::ExistingFile);
  cli.add_option("--output-dir,-o", output_dir, "folder for the results (created)")->capture_default_str();
  cli.add_option("--sigma", sigma, "standard deviation of the added noise (0..255 scale)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 255.0));
  cli.add_option("--tv-weight", tv_weight, "weight of the total-variation term")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cli.add_option("--iterations,-n", iterations, "L-BFGS iterations")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cli.add_option("--seed", seed, "seed of the noise")->capture_default_str();
  CLI11_PARSE(cli, argc, argv);

  return app::report_errors("demo", [&] {
    const TensorF clean = io::read_image<float>(input);
    std::vector<float> v = clean.to_host();
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> noise(0.0f, static_cast<float>(sigma));
    for (auto& e : v) e = std::clamp(e + noise(rng), 0.0f, 255.0f);
    const TensorF noisy = TensorF::from_host(clean.shape(), v);

    TensorF x = noisy;
    app::Progress progress("demo", iterations, 10);
    optim::LbfgsOptions lo;
    lo.max_iterations = iterations;
    lo.lower = 0;
    lo.upper = 255;
    lo.callback = [&](int i, double value) {
      if (i > 0) progress.update(i, "loss " + std::to_string(value));
    };
    const auto result = optim::minimize(
        x,
        [&](const TensorF& xx, TensorF& grad) {
          auto pixel = losses::pixel_loss(xx, noisy);
          auto tv = losses::total_variation_loss(xx, tv_weight / static_cast<double>(xx.size()));
          grad = pixel.grad;
          axpy(grad, 1.0f, tv.grad);
          return pixel.value + tv.value;
        },
        lo);

    std::filesystem::create_directories(output_dir);
    io::write_image(noisy, std::filesystem::path(output_dir) / "noisy.png");
    io::write_image(x, std::filesystem::path(output_dir) / "denoised.png");
    std::printf("demo: %s, %dx%d, noise sigma %.0f\n", input.c_str(), clean.w(), clean.h(), sigma);
    std::printf("demo: PSNR noisy %.2f dB -> denoised %.2f dB (%d L-BFGS iterations, %s, %.1f s)\n", psnr(noisy, clean),
                psnr(x, clean), result.iterations, optim::to_string(result.stop).c_str(), progress.seconds());
    std::printf("demo: wrote %s/noisy.png and %s/denoised.png\n", output_dir.c_str(), output_dir.c_str());
    if (!(psnr(x, clean) > psnr(noisy, clean))) {
      std::fprintf(stderr, "demo: error: the restored image is no closer to the clean one than the noisy input\n");
      return 1;
    }
    return 0;
  });
}
