// Runs the built benchmarks/objective program ($PERCEPTUAL_BENCHMARKS_DIR, set by ctest) with a
// tiny random VGG, a random StyleTransformNet saved with train_style's metadata and generated
// images: its CSV against the library's objective, the summary against the CSV, --resume,
// --baseline, and scripts/plot_objective.gp on the summary when gnuplot is installed.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/io/image.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/io/resample.hpp"
#include "perceptual/losses/objective.hpp"
#include "perceptual/nets/transform.hpp"
#include "perceptual/train/data.hpp"
#include "support/csv.hpp"
#include "support/program.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_vgg.hpp"

using namespace perceptual;
namespace fs = std::filesystem;
using TensorF = Tensor<float, Cpu>;

namespace {

const testing::Program program("objective", "PERCEPTUAL_BENCHMARKS_DIR");

// What train_style writes into a model file's metadata, for a network it did not train.
const std::map<std::string, std::string> model_metadata{{"architecture", "johnson-style"},
                                                        {"content_layers", "relu2_2"},
                                                        {"style_layers", "relu1_2,relu2_2"},
                                                        {"content_weight", "1"},
                                                        {"style_weight", "0.01"},
                                                        {"tv_weight", "0.0001"},
                                                        {"style_size", "20"},
                                                        {"style", "style.png"},
                                                        {"vgg_weights", "vgg.safetensors"}};

struct Fixture {
  testing::TempDir dir;
  Fixture() {
    testing::write_tiny_vgg(dir / "vgg.safetensors");
    Model<nets::StyleTransformNet<>, Cpu, float> net;
    net.initialize(5);
    io::save_parameters(net, dir / "model.safetensors", model_metadata);
    net.initialize(6);
    io::save_parameters(net, dir / "other.safetensors", model_metadata);  // another network, the same objective
    io::save_parameters(net, dir / "bare.safetensors");                   // no metadata
    std::mt19937_64 rng(3);
    io::write_image(testing::random_tensor<float>({1, 3, 18, 22}, rng, 0, 255), dir / "style.png");
    fs::create_directories(dir / "content");
    for (int i = 0; i < 3; ++i)
      io::write_image(testing::random_tensor<float>({1, 3, 20, 26}, rng, 0, 255),
                      dir / ("content/img" + std::to_string(i) + ".png"));
  }
  std::string args(int limit, const std::string& extra = "", const std::string& sizes = "16,24",
                   const std::string& model = "model.safetensors") const {
    const auto q = [&](const std::string& name) { return "'" + (dir / name).string() + "'"; };
    return "-m " + q(model) + " --weights " + q("vgg.safetensors") + " --style " + q("style.png") + " " + q("content") +
           " --limit " + std::to_string(limit) + " --sizes " + sizes + " -n 3 --csv " + q("obj.csv") + " --summary " +
           q("summary.csv") + " " + extra;
  }
};

}  // namespace

TEST_CASE("objective --help describes figure 5, the metadata defaults and --resume") {
  program.check_help({"figure 5", "--resume"});
}

TEST_CASE("objective writes eq. 5 of the feed-forward output and of each baseline iteration, and their means") {
  if (!program.available()) return;
  Fixture f;
  const auto r = program.run(f.args(2));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("| 16 | 2 |") != std::string::npos);
  CHECK(r.output.find("| 24 | 2 |") != std::string::npos);

  const auto rows = testing::read_csv(f.dir / "obj.csv");
  REQUIRE(rows.size() == 1 + 2 * 2 * (4 + 1));  // header; sizes x images x (iterations 0..3 + feed-forward)
  CHECK(rows[0].size() == 11);

  // The feed-forward row and the baseline's starting point, recomputed with the library.
  losses::StyleObjectiveOptions oo;
  oo.content_layers = {"relu2_2"};
  oo.style_layers = {"relu1_2", "relu2_2"};
  oo.content_weight = 1;
  oo.style_weight = 0.01;
  oo.tv_weight = 1e-4;
  losses::StyleObjective<nets::AllReluVgg16, Cpu> objective(oo, f.dir / "vgg.safetensors");
  const TensorF style = io::read_image<float>(f.dir / "style.png");
  objective.set_style(io::resize_bicubic(style, 16, 20));  // longer side scaled to style_size 20
  Model<nets::StyleTransformNet<>, Cpu, float> net;
  io::load_parameters(net, f.dir / "model.safetensors");
  net.eval();
  int checked = 0;
  for (const auto& row : rows) {
    if (row[0] != "24" || row[1] != (f.dir / "content/img1.png").string()) continue;
    const TensorF content = train::load_square_image(row[1], 24);
    objective.set_content(content);
    INFO(row[2] << " " << row[3]);
    if (row[2] == "feed_forward") {
      CHECK(std::stod(row[4]) == doctest::Approx(objective.value(net.forward(content)).total).epsilon(1e-5));
      ++checked;
    } else if (row[3] == "0") {
      const auto noise = losses::white_noise_image<float, Cpu>(content.shape(), 0);
      const auto terms = objective.value(noise);
      CHECK(std::stod(row[4]) == doctest::Approx(terms.total).epsilon(1e-5));
      CHECK(std::stod(row[6]) == doctest::Approx(terms.style).epsilon(1e-5));
      ++checked;
    } else {
      CHECK(std::stod(row[4]) == doctest::Approx(std::stod(row[5]) + std::stod(row[6]) + std::stod(row[7])));
    }
  }
  CHECK(checked == 2);

  // The summary: per size and iteration, the mean of the images' values; the feed-forward mean.
  const auto summary = testing::read_csv(f.dir / "summary.csv");
  REQUIRE(summary.size() == 1 + 2 * 4);
  for (std::size_t i = 1; i < summary.size(); ++i) {
    const auto& s = summary[i];
    double sum = 0, ff = 0;
    for (const auto& row : rows) {
      if (row[0] != s[0]) continue;
      if (row[2] == "gatys" && row[3] == s[1]) sum += std::stod(row[4]);
      if (row[2] == "feed_forward") ff += std::stod(row[4]);
    }
    CHECK(s[2] == "2");
    CHECK(std::stod(s[3]) == doctest::Approx(sum / 2));
    CHECK(std::stod(s[6]) == doctest::Approx(ff / 2));
    if (!s[7].empty()) CHECK(std::stoi(s[7]) <= 3);
  }

  // scripts/plot_objective.gp draws it (when gnuplot is installed).
  const char* source = std::getenv("PERCEPTUAL_SOURCE_DIR");
  if (source && fs::exists("/usr/bin/gnuplot")) {
    const std::string command = "/usr/bin/gnuplot -e \"input='" + (f.dir / "summary.csv").string() + "'; output='" +
                                (f.dir / "objective.png").string() + "'\" '" + source +
                                "/scripts/plot_objective.gp' 2>&1";
    CHECK(std::system(command.c_str()) == 0);
    std::ifstream png(f.dir / "objective.png", std::ios::binary);
    char magic[4] = {};
    png.read(magic, 4);
    CHECK(std::string(magic + 1, 3) == "PNG");
  } else {
    MESSAGE("plot not checked: gnuplot or PERCEPTUAL_SOURCE_DIR is absent");
  }
}

TEST_CASE("objective --resume keeps the finished images and does only the rest") {
  if (!program.available()) return;
  Fixture f;
  REQUIRE(program.run(f.args(2)).status == 0);
  const auto before = testing::read_csv(f.dir / "obj.csv");
  const auto r = program.run(f.args(3, "--resume"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("16 px: 1 images (2 done before)") != std::string::npos);
  const auto after = testing::read_csv(f.dir / "obj.csv");
  REQUIRE(after.size() == 1 + 2 * 3 * 5);
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(after[i] == before[i]);  // kept as they were
  CHECK(testing::read_csv(f.dir / "summary.csv")[1][2] == "3");

  // Another size later: the earlier sizes stay, in the CSV and the summary.
  Fixture g;
  REQUIRE(program.run(g.args(2, "", "16")).status == 0);
  const auto second = program.run(g.args(2, "--resume", "24"));
  INFO(second.output);
  REQUIRE(second.status == 0);
  CHECK(testing::read_csv(g.dir / "obj.csv").size() == 1 + 2 * 2 * 5);
  const auto summary = testing::read_csv(g.dir / "summary.csv");
  REQUIRE(summary.size() == 1 + 2 * 4);
  CHECK(summary[1][0] == "16");
  CHECK(summary[5][0] == "24");
}

TEST_CASE("objective --baseline measures another network against an earlier run's curves without rerunning them") {
  if (!program.available()) return;
  Fixture f;
  REQUIRE(program.run(f.args(2)).status == 0);
  const auto first = testing::read_csv(f.dir / "obj.csv");
  fs::rename(f.dir / "obj.csv", f.dir / "baseline.csv");
  const std::string baseline = " --baseline '" + (f.dir / "baseline.csv").string() + "'";
  const auto r = program.run(f.args(2, baseline, "16,24", "other.safetensors"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("from --baseline") != std::string::npos);
  const auto second = testing::read_csv(f.dir / "obj.csv");
  REQUIRE(second.size() == first.size());
  int feed_forward_rows = 0;
  for (std::size_t i = 1; i < first.size(); ++i) {
    INFO(first[i][1] << " " << first[i][2] << " " << first[i][3]);
    if (first[i][2] == "gatys") {
      CHECK(second[i] == first[i]);  // the same curve, taken over
    } else {
      CHECK(second[i][4] != first[i][4]);  // the other network's own value
      ++feed_forward_rows;
    }
  }
  CHECK(feed_forward_rows == 4);

  // A curve of another objective is refused: here the style weight differs.
  program.check_error(f.args(2, baseline + " --style-weight 0.02"), "minimised another objective");
  // And one the earlier run lacks (a third image, a size it did not run).
  program.check_error(f.args(3, baseline), "has no complete 3-iteration run");
  program.check_error(f.args(2, baseline, "32"), "has no complete 3-iteration run");
}

TEST_CASE("objective names the flag to give when the model has no training metadata") {
  if (!program.available()) return;
  Fixture f;
  const auto q = [&](const std::string& name) { return "'" + (f.dir / name).string() + "'"; };
  program.check_error("-m " + q("bare.safetensors") + " --weights " + q("vgg.safetensors") + " --style " +
                          q("style.png") + " " + q("content"),
                      "give --content-layers");
}
