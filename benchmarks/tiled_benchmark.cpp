// tiled_benchmark: exact tiled inference (tiled/tiled.hpp) against one forward pass, side by side
// in one run: for each image size, the style network's single pass and its band-by-band run at
// each memory budget, alternated rep by rep; medians, the ratio to the single pass, seconds per
// megapixel, the bands, what went to scratch files, the pool's peak (the activations kept in
// memory and the bands' tensors) and the largest difference from the single pass's output.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <perceptual/app/style_nets.hpp>
#include <perceptual/app/tiled.hpp>
#include <perceptual/app/timing.hpp>
#include <perceptual/perceptual.hpp>
#include <string>
#include <vector>

using namespace perceptual;
using TensorF = Tensor<float, Cpu>;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, scratch;
  std::vector<std::string> sizes{"1080x1920", "2160x3840"}, budgets{"1G", "256M"};
  int reps = 3;
  CLI::App cli{
      "Exact tiled inference against one forward pass of the style network, side by side: median seconds, their "
      "ratio, seconds per megapixel, bands, scratch bytes, working memory (the pool's peak, without the activations "
      "kept between layers) and the largest output difference in gray levels."};
  cli.add_option("--model", model, "style network (safetensors; default: random weights)")->check(CLI::ExistingFile);
  cli.add_option("--sizes", sizes, "image sizes, HxW")->delimiter(',')->capture_default_str();
  cli.add_option("--budgets", budgets, "memory budgets of the tiled runs (SIZE, as stylize --max-memory)")
      ->delimiter(',')
      ->capture_default_str();
  cli.add_option("--reps", reps, "timed runs of each")->capture_default_str()->check(CLI::Range(1, 100));
  cli.add_option("--scratch-dir", scratch, "scratch folder (default: the system's temporary folder)");
  CLI11_PARSE(cli, argc, argv);

  return app::report_errors("tiled_benchmark", [&] {
    return app::with_style_net(model, [&](auto tag) {
      using Net = typename decltype(tag)::type;
      Model<Net, Cpu, float> net;
      app::load_style_net(net, model, 1);
      std::printf("%-10s %-9s %9s %7s %8s %6s %10s %10s %9s\n", "size", "budget", "median s", "ratio", "s/MP", "bands",
                  "scratch", "pool MiB", "max diff");
      for (const auto& text : sizes) {
        Size2 s;
        if (std::sscanf(text.c_str(), "%dx%d", &s.h, &s.w) != 2 || s.h < 16 || s.w < 16)
          throw ArgumentError("--sizes: \"" + text + "\", expected HxW such as 1080x1920");
        const TensorF x = app::synthetic_image(s.h, s.w, 0);
        const double mp = s.h * static_cast<double>(s.w) / 1e6;
        std::vector<tiled::Options> runs;
        for (const auto& b : budgets) {
          tiled::Options o;
          o.max_memory = app::parse_size(b);
          o.scratch_dir = scratch;
          runs.push_back(o);
        }
        std::vector<std::vector<double>> seconds(runs.size() + 1);
        std::vector<std::size_t> work(runs.size() + 1);
        std::vector<float> diff(runs.size() + 1);
        TensorF whole;
        for (int rep = 0; rep < reps; ++rep)
          for (std::size_t i = 0; i <= runs.size(); ++i) {
            HostPool::instance().release();
            HostPool::instance().reset_peak();
            const std::size_t before = HostPool::instance().in_use_bytes();
            const auto start = app::Clock::now();
            TensorF y;
            if (i == 0) {
              NoGrad no_grad;
              y = net.forward(x);
            } else {
              y = tiled::forward(net, x, runs[i - 1]);
            }
            seconds[i].push_back(app::seconds_since(start));
            work[i] = HostPool::instance().peak_in_use_bytes() - before;
            if (i == 0) whole = y;
            for (std::size_t k = 0; k < y.size(); ++k)
              diff[i] = std::max(diff[i], std::abs(y.data()[k] - whole.data()[k]));
          }
        const double single = median(seconds[0]);
        std::printf("%-10s %-9s %9.2f %7.2f %8.3f %6s %10s %10zu %9.5f\n", text.c_str(), "one pass", single, 1.0,
                    single / mp, "-", "-", work[0] >> 20, 0.0);
        for (std::size_t i = 0; i < runs.size(); ++i) {
          const tiled::Budget b = tiled::runner(net, s, runs[i]).budget();
          const double t = median(seconds[i + 1]);
          std::printf("%-10s %-9s %9.2f %7.2f %8.3f %6ld %9zuM %10zu %9.5f\n", text.c_str(), budgets[i].c_str(), t,
                      t / single, t / mp, b.bands, b.on_disk >> 20, work[i + 1] >> 20, diff[i + 1]);
        }
        std::fflush(stdout);
      }
      return 0;
    });
  });
}
