#pragma once
// Johnson et al. 2016, Table 1 on any backend B: the feed-forward StyleTransformNet's time per
// image against the Gatys baseline's time for 100, 300 and 500 L-BFGS iterations of the same
// objective (eq. 5), at several image sizes, with speed-ups and the frames per second of the
// feed-forward net at 1920x1080. The baseline is the gatys program's own loop (app/gatys.hpp).
// speed_table_main<B> is the whole program (speed_table.cpp: the CPU; speed_table_cuda.cpp: the GPU).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "perceptual/app/device.hpp"
#include "perceptual/app/gatys.hpp"
#include "perceptual/app/images.hpp"
#include "perceptual/app/objective_options.hpp"
#include "perceptual/app/options.hpp"
#include "perceptual/app/style_nets.hpp"
#include "perceptual/app/timing.hpp"
#include "perceptual/core/error.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/io/safetensors.hpp"
#include "perceptual/losses/objective.hpp"
#include "perceptual/nets/vgg_weights.hpp"

namespace perceptual::bench {

struct SpeedTableOptions {
  std::string weights, model, content, style, csv;
  losses::StyleObjectiveOptions objective;  // the paper's
  std::string sizes = "256,512,1024", iterations = "100,300,500", frame = "1920x1080";
  int warmup = 1, reps = 5;
  double budget_seconds = 0;  // per size, for the baseline; 0: no limit
  std::uint64_t seed = 0;
};

inline constexpr double not_measured = std::numeric_limits<double>::quiet_NaN();

// The baseline's time to reach `iterations` L-BFGS iterations, or why there is none.
struct BaselineCell {
  int iterations = 0;
  double seconds = not_measured;
  int evaluations = 0;
  std::string status = "not run (budget)";
};

struct SizeRow {
  int h = 0, w = 0;
  bool frame = false;                    // the frames-per-second row: feed-forward only, as in the paper
  double feed_forward = not_measured;    // median seconds
  std::vector<BaselineCell> baseline{};  // empty for the frame row
  std::vector<std::string> notes{};
};

namespace speed_detail {

inline std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, s >= 100 ? "%.0f s" : s >= 10 ? "%.1f s" : s >= 1 ? "%.2f s" : "%.3g s", s);
  return buf;
}

inline std::string ratio_text(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, r >= 10 ? "%.0fx" : "%.1fx", r);
  return buf;
}

inline std::string csv_number(double v) {
  if (std::isnan(v)) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// Median forward time of StyleNet at each size (and the frame size), random input in [0, 255].
template <class StyleNet, class B>
void measure_feed_forward(const SpeedTableOptions& o, std::vector<SizeRow>& rows) {
  Model<StyleNet, B, float> net;
  app::load_style_net(net, o.model, o.seed);
  for (auto& row : rows) {
    const auto host = app::synthetic_image(row.h, row.w, 0);
    const auto x = to_backend<B>(host);
    std::fprintf(stderr, "speed_table: feed-forward %dx%d, %d warm-up + %d timed runs\n", row.w, row.h, o.warmup,
                 o.reps);
    row.feed_forward = app::median_seconds(o.warmup, o.reps, [&] {
      NoGrad no_grad;
      net.forward(x);
      app::Device<B>::synchronize();
    });
  }
}

// The baseline at each square size: one probe evaluation (also the warm-up), then one L-BFGS run
// to the largest iteration count, time-stamped at each count on the way. With a budget, a size
// whose probe shows that even the first count cannot fit is not run, and a run stops as soon as
// the next count cannot fit at the rate so far; those cells say "not run (budget)".
template <class VggNet, class B>
void measure_baseline(const SpeedTableOptions& o, const std::vector<int>& iterations, std::vector<SizeRow>& rows) {
  const auto synchronize = [] { app::Device<B>::synchronize(); };
  losses::StyleObjective<VggNet, B, float> objective(o.objective, o.weights);
  const double budget = o.budget_seconds > 0 ? o.budget_seconds : std::numeric_limits<double>::infinity();

  for (auto& row : rows) {
    if (row.frame) continue;
    for (int n : iterations) row.baseline.push_back({.iterations = n});
    const auto content = to_backend<B>(app::square_image(o.content, row.h, 1));
    const auto style = to_backend<B>(app::square_image(o.style, row.h, 2));

    objective.set_content(content);
    objective.set_style(style);
    const auto noise = losses::white_noise_image<float, B>(content.shape(), o.seed);
    const auto probe_start = app::Clock::now();
    objective.evaluate(noise);
    synchronize();
    const double probe = app::seconds_since(probe_start);
    char buf[256];
    std::snprintf(buf, sizeof buf, "one objective evaluation (VGG forward and backward) took %s",
                  seconds_text(probe).c_str());
    row.notes.push_back(buf);
    if (probe * iterations.front() > budget) {
      std::snprintf(buf, sizeof buf,
                    "baseline not run: %d iterations need at least %d evaluations, about %s, over the budget of %s",
                    iterations.front(), iterations.front(), seconds_text(probe * iterations.front()).c_str(),
                    seconds_text(budget).c_str());
      row.notes.push_back(buf);
      std::fprintf(stderr, "speed_table: %dx%d: %s\n", row.w, row.h, buf);
      continue;
    }

    std::fprintf(stderr, "speed_table: Gatys baseline %dx%d, up to %d L-BFGS iterations\n", row.w, row.h,
                 iterations.back());
    Tensor<float, B> y;
    std::size_t next = 0;  // the first cell not yet reached
    int last_iteration = 0;
    const app::GatysOptions gatys{.iterations = iterations.back(), .seed = o.seed};
    const auto result = app::run_gatys(objective, content, style, gatys, y, [&](const app::GatysProgress& p) {
      last_iteration = p.iteration;
      if (p.iteration > 0 && p.iteration % 50 == 0)
        std::fprintf(stderr, "speed_table: %dx%d iteration %d, %.1f s, objective %.6g\n", row.w, row.h, p.iteration,
                     p.seconds, p.terms.total);
      if (next < row.baseline.size() && p.iteration == row.baseline[next].iterations) {
        synchronize();
        row.baseline[next].seconds = p.seconds;
        row.baseline[next].evaluations = p.evaluations;
        row.baseline[next].status = "measured";
        ++next;
      }
      if (next == row.baseline.size() || p.iteration == 0) return true;
      const int target = row.baseline[next].iterations;
      const double projected = p.seconds / p.iteration * target;
      if (projected <= budget) return true;
      char why[256];
      std::snprintf(why, sizeof why,
                    "baseline stopped at iteration %d after %s: at that rate iteration %d would come at about %s, "
                    "over the budget of %s",
                    p.iteration, seconds_text(p.seconds).c_str(), target, seconds_text(projected).c_str(),
                    seconds_text(budget).c_str());
      row.notes.push_back(why);
      std::fprintf(stderr, "speed_table: %dx%d: %s\n", row.w, row.h, why);
      return false;
    });
    if (!result.stopped_by_callback && next < row.baseline.size()) {  // L-BFGS stopped by itself
      const std::string why = "L-BFGS stopped at iteration " + std::to_string(last_iteration) + " (" +
                              optim::to_string(result.lbfgs.stop) + ")";
      for (std::size_t i = next; i < row.baseline.size(); ++i) row.baseline[i].status = why;
      row.notes.push_back(why);
    }
  }
}

}  // namespace speed_detail

// Prints Table 1 as markdown (stdout) and writes the CSV.
inline void print_speed_table(const SpeedTableOptions& o, const std::string& backend,
                              const std::vector<int>& iterations, const std::vector<SizeRow>& rows) {
  using speed_detail::ratio_text;
  using speed_detail::seconds_text;
  std::printf("## Speed (Johnson et al. Table 1), %s backend\n\n", backend.c_str());
  std::printf("| Image size |");
  for (int n : iterations) std::printf(" Gatys et al. %d it. |", n);
  std::printf(" Ours (feed-forward) |");
  for (int n : iterations) std::printf(" Speed-up %d it. |", n);
  std::printf("\n|---|");
  for (std::size_t i = 0; i < 2 * iterations.size() + 1; ++i) std::printf("---|");
  std::printf("\n");
  for (const auto& row : rows) {
    if (row.frame) continue;
    std::printf("| %d x %d |", row.w, row.h);
    for (const auto& c : row.baseline)
      std::printf(" %s |", c.status == "measured" ? seconds_text(c.seconds).c_str() : c.status.c_str());
    std::printf(" %s |", seconds_text(row.feed_forward).c_str());
    for (const auto& c : row.baseline)
      std::printf(" %s |", c.status == "measured" ? ratio_text(c.seconds / row.feed_forward).c_str() : "-");
    std::printf("\n");
  }
  for (const auto& row : rows)
    if (row.frame)
      std::printf("\nFeed-forward at %d x %d: %s per frame, %.3g frames per second.\n", row.w, row.h,
                  seconds_text(row.feed_forward).c_str(), 1 / row.feed_forward);

  std::printf(
      "\nFeed-forward: StyleTransformNet (%s), median of %d runs after %d warm-up. Baseline: eq. 5 "
      "with content %s, style %s, weights %g / %g / %g, VGG %s; white noise, L-BFGS projected to [0, 255], "
      "times end to end (targets included) from one run per size, stamped at each iteration count.%s\n",
      o.model.empty() ? "random weights" : o.model.c_str(), o.reps, o.warmup,
      join_list(o.objective.content_layers).c_str(), join_list(o.objective.style_layers).c_str(),
      o.objective.content_weight, o.objective.style_weight, o.objective.tv_weight, o.weights.c_str(),
      o.budget_seconds > 0 ? (" Budget: " + seconds_text(o.budget_seconds) + " per size.").c_str() : "");
  for (const auto& row : rows) {
    for (const auto& c : row.baseline)
      if (c.status == "measured")
        std::printf("- %d x %d: %d iterations took %d objective evaluations\n", row.w, row.h, c.iterations,
                    c.evaluations);
    for (const auto& n : row.notes) std::printf("- %d x %d: %s\n", row.w, row.h, n.c_str());
  }

  if (o.csv.empty()) return;
  std::ofstream csv(o.csv);
  if (!csv) throw FileError("--csv: cannot write " + o.csv);
  using speed_detail::csv_number;
  csv << "backend,method,height,width,iterations,seconds,evaluations,speedup,reps,status\n";
  const std::string name = "\"" + backend + "\"";  // "cpu (OpenBLAS, 2 threads)" holds a comma
  for (const auto& row : rows) {
    csv << name << ",feed_forward," << row.h << ',' << row.w << ",," << csv_number(row.feed_forward) << ",,," << o.reps
        << ",median\n";
    for (const auto& c : row.baseline)
      csv << name << ",gatys," << row.h << ',' << row.w << ',' << c.iterations << ',' << csv_number(c.seconds) << ','
          << (c.status == "measured" ? std::to_string(c.evaluations) : "") << ','
          << csv_number(c.seconds / row.feed_forward) << ",1," << c.status << '\n';
  }
  if (!csv) throw FileError("--csv: cannot write " + o.csv);
}

// The whole program on backend B: `program` ("speed_table_cuda") names it in messages; `instead`
// says what to run where B cannot run.
template <class B>
int speed_table_main(int argc, char** argv, const std::string& program, const std::string& instead) {
  SpeedTableOptions o;
  CLI::App cli{
      "Johnson et al. 2016, Table 1: seconds per image of the feed-forward style network (StyleTransformNet, "
      "median after warm-up) against the Gatys et al. baseline (eq. 5 minimised by L-BFGS projected to [0, 255] "
      "from white noise) after 100, 300 and 500 iterations, at each --sizes (square images), with speed-ups, and "
      "the feed-forward frames per second at --frame. The baseline runs once per size to the largest count, "
      "time-stamped at each count. Cells that cannot finish within --budget-seconds are printed as "
      "\"not run (budget)\", never extrapolated. Markdown on stdout, --csv for the numbers."};
  app::add_input_file(cli, "--weights", o.weights, "VGG-16/19 weights (safetensors) for the baseline's loss network");
  cli.add_option("--model,-m", o.model, "a trained StyleTransformNet (train_style output); default: random weights")
      ->check(CLI::ExistingFile);
  cli.add_option("--content", o.content, "content image for the baseline (default: a synthetic image)")
      ->check(CLI::ExistingFile);
  cli.add_option("--style", o.style, "style image for the baseline (default: a synthetic image)")
      ->check(CLI::ExistingFile);
  app::ObjectiveFlags objective_flags(cli, o.objective);
  cli.add_option("--sizes", o.sizes, "comma-separated square image sizes")->capture_default_str();
  cli.add_option("--iterations", o.iterations, "comma-separated L-BFGS iteration counts of the baseline")
      ->capture_default_str();
  cli.add_option("--frame", o.frame, "WxH of the frames-per-second row (\"\": none)")->capture_default_str();
  cli.add_option("--warmup", o.warmup, "feed-forward runs before timing")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  cli.add_option("--reps", o.reps, "timed feed-forward runs (the median is reported)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cli.add_option("--budget-seconds", o.budget_seconds, "longest baseline run per size; 0: no limit")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cli.add_option("--seed", o.seed, "seed of the random network weights and of the baseline's noise")
      ->capture_default_str();
  cli.add_option("--csv", o.csv, "write the numbers as CSV here");
  CLI11_PARSE(cli, argc, argv);

  return app::report_errors(program, [&] {
    objective_flags.take_weights_defaults(o.weights);
    const std::string backend = app::Device<B>::start(instead, app::DeviceUse::fastest);
    std::vector<int> iterations = app::parse_int_list(o.iterations, "--iterations", 1, 100000);
    std::sort(iterations.begin(), iterations.end());
    iterations.erase(std::unique(iterations.begin(), iterations.end()), iterations.end());
    const std::vector<int> sizes = app::parse_int_list(o.sizes, "--sizes", 16, 100000);
    std::vector<SizeRow> rows;
    for (int s : sizes) rows.push_back({.h = s, .w = s});
    if (!o.frame.empty()) {
      int w = 0, h = 0;
      char extra = 0;
      if (std::sscanf(o.frame.c_str(), "%dx%d%c", &w, &h, &extra) != 2 || w < 16 || h < 16)
        throw ArgumentError("--frame: \"" + o.frame + "\" is not WxH with sides >= 16");
      rows.push_back({.h = h, .w = w, .frame = true});
    }

    app::with_style_net(
        o.model, [&](auto net) { speed_detail::measure_feed_forward<typename decltype(net)::type, B>(o, rows); });
    if (nets::vgg_depth(io::SafetensorsFile(o.weights)) == 19)
      speed_detail::measure_baseline<nets::AllReluVgg19, B>(o, iterations, rows);
    else
      speed_detail::measure_baseline<nets::AllReluVgg16, B>(o, iterations, rows);
    print_speed_table(o, backend, iterations, rows);
    return 0;
  });
}

}  // namespace perceptual::bench
