#pragma once
// objective: Johnson et al. 2016, figure 5. For held-out content images at each size, the value of
// the style-transfer objective (eq. 5) reached by a trained feed-forward network, against the
// Gatys baseline's value after each L-BFGS iteration (same objective, started from white noise
// and projected to [0, 255], as in the paper's sec. 4.1). Writes every image's curve and a summary
// (the mean over images per iteration, the feed-forward mean, where the baseline first beats it);
// scripts/plot_objective.gp draws the summary. The baseline is the gatys program's own loop
// (app/gatys.hpp). objective_main<B> is the whole program on backend B (objective.cpp: the CPU;
// objective_cuda.cpp: the GPU); images are read on the host and moved to B.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "perceptual/app/device.hpp"
#include "perceptual/app/gatys.hpp"
#include "perceptual/app/images.hpp"
#include "perceptual/app/objective_options.hpp"
#include "perceptual/app/options.hpp"
#include "perceptual/app/style_nets.hpp"
#include "perceptual/app/timing.hpp"
#include "perceptual/io/image.hpp"
#include "perceptual/io/resample.hpp"
#include "perceptual/nets/vgg_weights.hpp"

namespace perceptual::bench {

namespace objective_detail {

namespace fs = std::filesystem;
using TensorF = Tensor<float, Cpu>;  // the images, on the host

struct Options {
  std::string program = "objective";  // in messages
  std::string model, weights, style, csv = "objective.csv", summary = "objective_summary.csv";
  std::string baseline;  // an earlier run's CSV whose Gatys curves are reused (only the network runs)
  std::vector<std::string> inputs;
  std::string sizes = "256", match;
  losses::StyleObjectiveOptions objective;  // the model's, unless given
  int iterations = 500, limit = 0, style_size = 0;
  unsigned long seed = 0;
  bool resume = false;
};

// One image at one size: the feed-forward output's terms and the baseline's after each iteration.
struct Record {
  int size = 0;
  std::string image{};
  int max_iterations = 0;  // the baseline's limit (it may stop earlier, converged)
  losses::ObjectiveTerms feed_forward{};
  double feed_forward_seconds = 0;
  std::vector<losses::ObjectiveTerms> gatys{};  // [k]: after k iterations (0: the noise)
  std::vector<double> seconds{};
  std::vector<int> evaluations{};
};

inline std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

inline std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// One CSV line's fields ("" quoting as written by quoted()).
inline std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool in_quotes = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_quotes && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      out.back() += '"';
      ++i;
    } else if (c == '"') {
      in_quotes = !in_quotes;
    } else if (c == ',' && !in_quotes) {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

inline constexpr const char* csv_header =
    "size,image,method,iteration,total,content,style,tv,seconds,evaluations,max_iterations";

// An image's rows: the baseline's per iteration, then the feed-forward row, which closes the block
// (a block without it, cut off by an interrupted run, is ignored by --resume).
inline void write_record(std::ostream& out, const Record& r) {
  const auto row = [&](const char* method, const std::string& iteration, const losses::ObjectiveTerms& t,
                       double seconds, const std::string& evaluations) {
    out << r.size << ',' << quoted(r.image) << ',' << method << ',' << iteration << ',' << number(t.total) << ','
        << number(t.content) << ',' << number(t.style) << ',' << number(t.tv) << ',' << number(seconds) << ','
        << evaluations << ',' << r.max_iterations << '\n';
  };
  for (std::size_t k = 0; k < r.gatys.size(); ++k)
    row("gatys", std::to_string(k), r.gatys[k], r.seconds[k], std::to_string(r.evaluations[k]));
  row("feed_forward", "", r.feed_forward, r.feed_forward_seconds, "");
  out.flush();
}

// The complete records of an earlier run's CSV (for --resume and --baseline, the flag in messages).
inline std::vector<Record> read_records(const std::string& path, const std::string& flag = "--resume") {
  std::ifstream in(path);
  std::vector<Record> out;
  std::string line;
  if (!std::getline(in, line)) return out;
  if (line != csv_header) throw FileError(flag + ": " + path + " is not a CSV written by this program");
  Record current;
  for (int number_of_line = 2; std::getline(in, line); ++number_of_line) {
    const auto f = csv_fields(line);
    if (f.size() != 11) continue;  // a line cut off by an interrupted run
    try {
      const int size = std::stoi(f[0]);
      const losses::ObjectiveTerms t{std::stod(f[4]), std::stod(f[5]), std::stod(f[6]), std::stod(f[7])};
      if (current.image != f[1] || current.size != size) current = {.size = size, .image = f[1]};
      if (f[2] == "gatys") {
        if (std::stoul(f[3]) != current.gatys.size()) {
          current = {.size = size, .image = f[1]};  // a repeated block: start it again
          if (f[3] != "0") continue;
        }
        current.gatys.push_back(t);
        current.seconds.push_back(std::stod(f[8]));
        current.evaluations.push_back(std::stoi(f[9]));
      } else if (f[2] == "feed_forward" && !current.gatys.empty()) {
        current.feed_forward = t;
        current.feed_forward_seconds = std::stod(f[8]);
        current.max_iterations = std::stoi(f[10]);
        out.push_back(current);
        current = {};
      }
    } catch (const std::exception&) {
      throw FileError(flag + ": " + path + " line " + std::to_string(number_of_line) + " is malformed: " + line);
    }
  }
  return out;
}

struct Summary {
  int size = 0, images = 0;
  double feed_forward_mean = 0;
  std::vector<double> gatys_mean{}, gatys_min{}, gatys_max{};  // per iteration
  std::optional<int> beats_at{};                               // first k with gatys_mean[k] <= feed_forward_mean
  std::optional<double> median_image_beats_at{};               // the median over images of their own first k
  int never_beaten = 0;                                        // images where the baseline never got below
};

// A run that stopped early keeps its last value for the later iterations (the image stays).
inline Summary summarise(int size, const std::vector<Record>& records, int iterations) {
  Summary s{.size = size};
  std::vector<const Record*> rs;
  for (const auto& r : records)
    if (r.size == size) rs.push_back(&r);
  s.images = static_cast<int>(rs.size());
  if (rs.empty()) return s;
  for (const Record* r : rs) s.feed_forward_mean += r->feed_forward.total / s.images;
  for (int k = 0; k <= iterations; ++k) {
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    for (const Record* r : rs) {
      const double v = r->gatys[std::min<std::size_t>(k, r->gatys.size() - 1)].total;
      sum += v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    s.gatys_mean.push_back(sum / s.images);
    s.gatys_min.push_back(lo);
    s.gatys_max.push_back(hi);
    if (!s.beats_at && s.gatys_mean.back() <= s.feed_forward_mean) s.beats_at = k;
  }
  std::vector<double> crossings;
  for (const Record* r : rs) {
    const auto it = std::find_if(r->gatys.begin(), r->gatys.end(),
                                 [&](const losses::ObjectiveTerms& t) { return t.total <= r->feed_forward.total; });
    if (it == r->gatys.end())
      ++s.never_beaten;
    else
      crossings.push_back(static_cast<double>(it - r->gatys.begin()));
  }
  // The median counts never-beaten images as later than any crossing.
  std::sort(crossings.begin(), crossings.end());
  const std::size_t n = rs.size();
  const auto at = [&](std::size_t i) { return i < crossings.size() ? crossings[i] : INFINITY; };
  const double median = n % 2 ? at(n / 2) : 0.5 * (at(n / 2 - 1) + at(n / 2));
  if (std::isfinite(median)) s.median_image_beats_at = median;
  return s;
}

inline void write_summary(const std::string& path, const std::vector<Summary>& summaries) {
  std::ofstream out(path);
  if (!out) throw FileError("--summary: cannot write " + path);
  out << "size,iteration,images,gatys_mean,gatys_min,gatys_max,feed_forward_mean,gatys_first_below_feed_forward\n";
  for (const auto& s : summaries)
    for (std::size_t k = 0; k < s.gatys_mean.size(); ++k)
      out << s.size << ',' << k << ',' << s.images << ',' << number(s.gatys_mean[k]) << ',' << number(s.gatys_min[k])
          << ',' << number(s.gatys_max[k]) << ',' << number(s.feed_forward_mean) << ','
          << (s.beats_at ? std::to_string(*s.beats_at) : "") << '\n';
  if (!out) throw FileError("--summary: cannot write " + path);
}

inline void print_summary(const std::vector<Summary>& summaries, int iterations) {
  std::vector<int> columns;
  for (int k : {0, 50, 100, 200, 300, 500})
    if (k < iterations) columns.push_back(k);
  columns.push_back(iterations);
  std::printf("## Objective (Johnson et al. figure 5): eq. 5, mean over images\n\n| Size | Images | Feed-forward |");
  for (int k : columns) std::printf(" Gatys %d it. |", k);
  std::printf(" Gatys first below feed-forward (mean curve) | Per image: median iteration |\n|---|---|---|");
  for (std::size_t i = 0; i < columns.size() + 2; ++i) std::printf("---|");
  std::printf("\n");
  for (const auto& s : summaries) {
    if (s.images == 0) continue;
    std::printf("| %d | %d | %.4g |", s.size, s.images, s.feed_forward_mean);
    for (int k : columns) std::printf(" %.4g |", s.gatys_mean[static_cast<std::size_t>(k)]);
    if (s.beats_at)
      std::printf(" %d |", *s.beats_at);
    else
      std::printf(" not within %d |", iterations);
    if (s.median_image_beats_at)
      std::printf(" %g (never: %d of %d) |\n", *s.median_image_beats_at, s.never_beaten, s.images);
    else
      std::printf(" not within %d (never: %d of %d) |\n", iterations, s.never_beaten, s.images);
  }
}

// The feed-forward outputs (and seconds per image) of the trained network for each content image.
template <class StyleNet, class B>
std::vector<std::pair<Tensor<float, B>, double>> feed_forward(const std::string& model,
                                                              const std::vector<TensorF>& contents) {
  Model<StyleNet, B, float> net;
  app::load_style_net(net, model, 0);
  std::vector<std::pair<Tensor<float, B>, double>> out;
  NoGrad no_grad;
  if (!contents.empty()) net.forward(to_backend<B>(contents.front()));  // warm-up: the timings are for information
  for (const auto& image : contents) {
    const auto x = to_backend<B>(image);
    app::Device<B>::synchronize();
    const auto start = app::Clock::now();
    Tensor<float, B> y = net.forward(x);
    app::Device<B>::synchronize();
    out.emplace_back(std::move(y), app::seconds_since(start));
  }
  return out;
}

// With --baseline: the earlier run's record of r's image (by file name: the run may have named it
// from another directory) and size at r's iteration limit (nullptr without --baseline); FileError
// when that run lacks it.
inline const Record* baseline_of(const std::vector<Record>& baseline, const Record& r) {
  if (baseline.empty()) return nullptr;
  const auto name = fs::path(r.image).filename();
  const auto it = std::find_if(baseline.begin(), baseline.end(), [&](const Record& b) {
    return b.size == r.size && fs::path(b.image).filename() == name && b.max_iterations == r.max_iterations;
  });
  if (it == baseline.end())
    throw FileError("--baseline has no complete " + std::to_string(r.max_iterations) + "-iteration run of " + r.image +
                    " at " + std::to_string(r.size) + " px (run it without --baseline)");
  return &*it;
}

// The baseline's curve is only comparable when it minimised this objective: its iteration 0 (the
// white noise, the same for the same seed and size) must have the value this objective gives it.
inline void check_same_objective(const Record& b, const losses::ObjectiveTerms& noise, const std::string& path) {
  const double recorded = b.gatys.front().total;
  if (std::abs(recorded - noise.total) > 1e-5 * std::abs(noise.total))
    throw FileError("--baseline " + path + ": its starting noise for " + b.image + " has objective " +
                    number(recorded) + " but " + number(noise.total) +
                    " here: the baseline minimised another objective (style image or size, layers, weights, seed or "
                    "VGG file differ)");
}

template <class VggNet, class B>
int run(const Options& o, const std::vector<fs::path>& images, const std::vector<int>& sizes, int style_size) {
  losses::StyleObjective<VggNet, B> objective(o.objective, o.weights);
  const TensorF style = io::resize_longer_side(io::read_image<float>(o.style), style_size);
  const Tensor<float, B> style_b = to_backend<B>(style);
  std::vector<Record> records = o.resume ? read_records(o.csv) : std::vector<Record>{};
  const std::vector<Record> baseline =
      o.baseline.empty() ? std::vector<Record>{} : read_records(o.baseline, "--baseline");
  // Kept: this run's images at any size (an earlier run's other sizes stay in the CSV and summary).
  std::erase_if(records, [&](const Record& r) {
    return r.max_iterations != o.iterations ||
           std::none_of(images.begin(), images.end(), [&](const fs::path& p) { return p.string() == r.image; });
  });
  const auto done = [&](int size, const std::string& image) {
    return std::any_of(records.begin(), records.end(),
                       [&](const Record& r) { return r.size == size && r.image == image; });
  };
  std::ofstream csv(o.csv, std::ios::trunc);
  if (!csv) throw FileError("--csv: cannot write " + o.csv);
  csv << csv_header << '\n';
  for (const auto& r : records) write_record(csv, r);  // kept from the earlier run, rewritten whole

  for (int size : sizes) {
    std::vector<fs::path> todo;
    for (const auto& p : images)
      if (!done(size, p.string())) todo.push_back(p);
    std::fprintf(stderr, "%s: %d px: %zu images (%zu done before), style %s at %s, %d L-BFGS iterations each\n",
                 o.program.c_str(), size, todo.size(), images.size() - todo.size(), o.style.c_str(),
                 to_string(style.shape().spatial()).c_str(), o.iterations);
    std::vector<TensorF> contents;
    for (const auto& p : todo) contents.push_back(train::load_square_image(p, size));
    const auto outputs = app::with_style_net(
        o.model, [&](auto net) { return feed_forward<typename decltype(net)::type, B>(o.model, contents); });
    objective.set_style(style_b);
    for (std::size_t i = 0; i < todo.size(); ++i) {
      Record r{.size = size, .image = todo[i].string(), .max_iterations = o.iterations};
      const Tensor<float, B> content = to_backend<B>(contents[i]);
      objective.set_content(content);
      r.feed_forward = objective.value(outputs[i].first);
      r.feed_forward_seconds = outputs[i].second;
      std::string stop = "from --baseline";
      if (const Record* b = baseline_of(baseline, r)) {
        check_same_objective(*b, objective.value(losses::white_noise_image<float, B>(content.shape(), o.seed)),
                             o.baseline);
        r.gatys = b->gatys;
        r.seconds = b->seconds;
        r.evaluations = b->evaluations;
      } else {
        Tensor<float, B> y;
        const app::GatysOptions gatys{.iterations = o.iterations, .seed = o.seed};
        const auto run = app::run_gatys(objective, content, style_b, gatys, y, [&](const app::GatysProgress& p) {
          r.gatys.push_back(p.terms);
          r.seconds.push_back(p.seconds);
          r.evaluations.push_back(p.evaluations);
          return true;
        });
        stop = optim::to_string(run.lbfgs.stop);
      }
      std::string crossing = "never";
      for (std::size_t k = 0; k < r.gatys.size(); ++k)
        if (r.gatys[k].total <= r.feed_forward.total) {
          crossing = "at iteration " + std::to_string(k);
          break;
        }
      std::fprintf(stderr,
                   "%s: %d px, image %zu/%zu %s: feed-forward %.4g; Gatys %.4g after %d iterations (%s, "
                   "%.0f s); below feed-forward %s\n",
                   o.program.c_str(), size, i + 1, todo.size(), todo[i].filename().c_str(), r.feed_forward.total,
                   r.gatys.back().total, static_cast<int>(r.gatys.size()) - 1, stop.c_str(), r.seconds.back(),
                   crossing.c_str());
      write_record(csv, r);
      records.push_back(std::move(r));
    }
  }
  if (!csv) throw FileError("--csv: cannot write " + o.csv);

  std::vector<int> all_sizes = sizes;
  for (const auto& r : records) all_sizes.push_back(r.size);
  std::sort(all_sizes.begin(), all_sizes.end());
  all_sizes.erase(std::unique(all_sizes.begin(), all_sizes.end()), all_sizes.end());
  std::vector<Summary> summaries;
  for (int size : all_sizes) summaries.push_back(summarise(size, records, o.iterations));
  write_summary(o.summary, summaries);
  print_summary(summaries, o.iterations);
  std::printf(
      "\nObjective: content %s (weight %g), style %s (weight %g each), TV weight %g; style image %s at %s; "
      "baseline from white noise (seed %lu), L-BFGS projected to [0, 255]; model %s.\n",
      join_list(o.objective.content_layers).c_str(), o.objective.content_weight,
      join_list(o.objective.style_layers).c_str(), o.objective.style_weight, o.objective.tv_weight, o.style.c_str(),
      to_string(style.shape().spatial()).c_str(), o.seed, o.model.c_str());
  std::fprintf(stderr, "%s: wrote %s and %s\n", o.program.c_str(), o.csv.c_str(), o.summary.c_str());
  return 0;
}

// The number train_style wrote under `key`, or FileError saying which flag gives it instead.
inline double metadata_number(const std::map<std::string, std::string>& meta, const std::string& key,
                              const std::string& model, const char* flag) {
  const auto it = meta.find(key);
  if (it == meta.end())
    throw FileError(model + ": the metadata has no \"" + key + "\" (not written by train_style?); give " + flag);
  const auto v = parse_number(it->second);
  if (!v || !(*v >= 0))
    throw FileError(model + ": metadata \"" + key + "\" = \"" + it->second + "\" is not a number >= 0; give " + flag);
  return *v;
}

}  // namespace objective_detail

// The whole program on backend B: `program` ("objective_cuda") names it in messages; `instead`
// says what to run where B cannot run.
template <class B>
int objective_main(int argc, char** argv, const std::string& program, const std::string& instead) {
  using namespace objective_detail;
  Options o;
  o.program = program;
  CLI::App cli{
      "Johnson et al. 2016, figure 5: the style-transfer objective (eq. 5) reached by a trained feed-forward network "
      "on held-out content images, against the Gatys et al. baseline's objective after each L-BFGS iteration "
      "(from white noise, projected to [0, 255], as in the paper's sec. 4.1). Content images are scaled so the "
      "shorter side is the size, then centre-cropped square (train_style's protocol). The layers, weights and "
      "style size come from the model's metadata (train_style writes them) unless given. Writes --csv (every image, "
      "every iteration) and --summary (the mean over images per iteration; plot it with "
      "scripts/plot_objective.gp), and prints a markdown table."};
  app::add_input_file(cli, "--model,-m", o.model, "the trained StyleTransformNet (train_style output)");
  app::add_input_file(cli, "--weights", o.weights, "VGG-16/19 weights (safetensors), those the model was trained with");
  app::add_input_file(cli, "--style", o.style, "the style image the model was trained on");
  cli.add_option("inputs", o.inputs, "content images and folders of them (searched recursively, sorted)")->required();
  cli.add_option("--match", o.match, "use only images whose file name contains this (e.g. _HR in sr/BSD100/x4)");
  cli.add_option("--limit", o.limit, "use the first N images only (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cli.add_option("--sizes", o.sizes, "comma-separated image sizes (multiples of 4), e.g. 256,512")
      ->capture_default_str();
  cli.add_option("--iterations,-n", o.iterations, "L-BFGS iterations of the baseline per image")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cli.add_option("--style-size", o.style_size, "longer side of the style image (default: the model's style_size)")
      ->check(CLI::Range(16, 8192));
  app::ObjectiveFlags objective_flags(cli, o.objective, app::ObjectiveDefaults::model);
  cli.add_option("--seed", o.seed, "seed of the baseline's initial noise (the same for every image)")
      ->capture_default_str();
  cli.add_option("--csv", o.csv, "every image's objective per iteration")->capture_default_str();
  cli.add_option("--summary", o.summary, "the mean over images per iteration")->capture_default_str();
  cli.add_flag("--resume", o.resume,
               "keep the finished images of an earlier run's --csv (same --iterations; any size) and do only the "
               "rest; the summary covers every size in the CSV");
  cli.add_option("--baseline", o.baseline,
                 "reuse the Gatys curves of an earlier run's --csv (the same style, objective, sizes, "
                 "--iterations and --seed: checked on each image's starting noise) and run only the network, to "
                 "compare models on one baseline in seconds")
      ->check(CLI::ExistingFile)
      ->excludes("--resume");
  CLI11_PARSE(cli, argc, argv);

  return app::report_errors(program, [&] {
    std::fprintf(stderr, "%s: on %s\n", program.c_str(), app::Device<B>::start(instead).c_str());
    const io::SafetensorsFile model(o.model);
    const auto& meta = model.metadata();
    objective_flags.take_model_defaults(meta, o.model);
    const int style_size = o.style_size > 0
                               ? o.style_size
                               : static_cast<int>(metadata_number(meta, "style_size", o.model, "--style-size"));
    for (const auto& [key, given] : {std::pair{"style", o.style}, std::pair{"vgg_weights", o.weights}})
      if (const auto it = meta.find(key); it != meta.end() && it->second != fs::path(given).filename().string())
        std::fprintf(stderr, "%s: warning: the model was trained with %s \"%s\", not %s\n", program.c_str(), key,
                     it->second.c_str(), given.c_str());

    const std::vector<int> sizes = app::parse_int_list(o.sizes, "--sizes", 16, 8192, nets::style_transform_multiple);
    std::vector<fs::path> images;
    for (const auto& image : app::collect_images(o.inputs, program, true)) images.push_back(image.path);
    if (!o.match.empty())
      std::erase_if(images,
                    [&](const fs::path& p) { return p.filename().string().find(o.match) == std::string::npos; });
    if (images.empty()) throw ArgumentError("no content images (check the inputs and --match)");
    if (o.limit > 0 && static_cast<int>(images.size()) > o.limit) images.resize(static_cast<std::size_t>(o.limit));

    if (nets::vgg_depth(io::SafetensorsFile(o.weights)) == 19)
      return run<nets::AllReluVgg19, B>(o, images, sizes, style_size);
    return run<nets::AllReluVgg16, B>(o, images, sizes, style_size);
  });
}

}  // namespace perceptual::bench
