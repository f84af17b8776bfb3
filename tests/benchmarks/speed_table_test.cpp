// Runs the built benchmarks/speed_table program ($PERCEPTUAL_BENCHMARKS_DIR, set by ctest) on tiny
// sizes with a tiny random VGG: the table's shape, the CSV, and the budget's "not run" cells.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/csv.hpp"
#include "support/program.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_vgg.hpp"

using namespace perceptual;
namespace fs = std::filesystem;

namespace {

const testing::Program program("speed_table", "PERCEPTUAL_BENCHMARKS_DIR");

// A folder with a tiny VGG-16 (vgg.safetensors), and speed_table's arguments that use it.
struct Fixture {
  testing::TempDir dir;
  Fixture() { testing::write_tiny_vgg(dir / "vgg.safetensors"); }
  std::string args(const std::string& more) const {
    return "--weights " + testing::quoted(dir / "vgg.safetensors") + " " + more;
  }
};

}  // namespace

TEST_CASE("speed_table --help describes Table 1 and the budget") {
  program.check_help({"Table 1", "--budget-seconds"});
}

TEST_CASE("speed_table times the feed-forward net and the baseline at each size and count, in markdown and CSV") {
  if (!program.available()) return;
  const Fixture f;
  const auto r =
      program.run(f.args("--content-layers relu2_2 --style-layers relu1_2,relu2_2 --sizes 16,24 --iterations 4,2 "
                         "--frame 40x24 --reps 1 --warmup 0 --csv " +
                         testing::quoted(f.dir / "speed.csv")));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("| Image size | Gatys et al. 2 it. | Gatys et al. 4 it. | Ours (feed-forward) |") !=
        std::string::npos);
  CHECK(r.output.find("| 16 x 16 |") != std::string::npos);
  CHECK(r.output.find("| 24 x 24 |") != std::string::npos);
  CHECK(r.output.find("Feed-forward at 40 x 24:") != std::string::npos);
  CHECK(r.output.find("not run") == std::string::npos);

  const auto rows = testing::read_csv(f.dir / "speed.csv");
  REQUIRE(rows.size() == 1 + 3 + 4);  // header, 3 feed-forward rows (with the frame), 2 sizes x 2 counts
  CHECK(rows[0] == std::vector<std::string>{"backend", "method", "height", "width", "iterations", "seconds",
                                            "evaluations", "speedup", "reps", "status"});
  int feed_forward = 0, gatys = 0;
  double previous = 0;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const auto& row = rows[i];
    REQUIRE(row.size() == 10);
    CHECK(row[0].starts_with("cpu"));
    CHECK(std::stod(row[5]) > 0);
    if (row[1] == "feed_forward") {
      ++feed_forward;
      previous = 0;
      continue;
    }
    ++gatys;
    CHECK(row[9] == "measured");
    CHECK(std::stoi(row[6]) >= std::stoi(row[4]));  // at least one evaluation per iteration
    CHECK(std::stod(row[5]) > previous);            // 4 iterations take longer than 2
    previous = std::stod(row[5]);
    CHECK(std::stod(row[7]) > 0);
  }
  CHECK(feed_forward == 3);
  CHECK(gatys == 4);
  CHECK(rows[7][2] == "24");
  CHECK(rows[7][3] == "40");  // the frame row: height 24, width 40
}

TEST_CASE("speed_table prints cells over the budget as not run, with no figure") {
  if (!program.available()) return;
  const Fixture f;
  const auto r =
      program.run(f.args("--style-layers relu1_2 --sizes 16 --iterations 100,300 "
                         "--frame '' --reps 1 --budget-seconds 0.000001 --csv " +
                         testing::quoted(f.dir / "speed.csv")));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("| 16 x 16 | not run (budget) | not run (budget) |") != std::string::npos);
  CHECK(r.output.find("baseline not run: 100 iterations need at least 100 evaluations") != std::string::npos);
  const auto rows = testing::read_csv(f.dir / "speed.csv");
  REQUIRE(rows.size() == 1 + 1 + 2);
  for (std::size_t i = 2; i < rows.size(); ++i) {
    CHECK(rows[i][5].empty());  // no seconds
    CHECK(rows[i][7].empty());  // no speed-up
    CHECK(rows[i][9] == "not run (budget)");
  }
}

TEST_CASE("speed_table rejects a malformed list and names the option") {
  if (!program.available()) return;
  const Fixture f;
  program.check_error(f.args("--iterations 10,abc --style-layers relu1_2"), "--iterations: \"abc\"");
}
