// Runs the built benchmarks/transform_benchmark_cpu program ($PERCEPTUAL_BENCHMARKS_DIR, set by
// ctest) at tiny sizes: one row per stylisation size, one for the training step and one for the
// Gatys baseline, in the format torch_transform_reference.py --table reads, and clear errors for
// bad options.
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "support/program.hpp"

using namespace perceptual;

namespace {

const testing::Program program("transform_benchmark_cpu", "PERCEPTUAL_BENCHMARKS_DIR");

struct Row {
  std::string impl, variant, task, size;
  int batch = 0;
  double ms = 0, images_per_s = 0;
};

// The measurement rows (7 fields, first "perceptual"); comments and the header are skipped.
std::vector<Row> rows(const std::string& output) {
  std::vector<Row> out;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    Row r;
    if (fields >> r.impl >> r.variant >> r.task >> r.size >> r.batch >> r.ms >> r.images_per_s &&
        r.impl == "perceptual")
      out.push_back(r);
  }
  return out;
}

}  // namespace

TEST_CASE("transform_benchmark_cpu times each stylisation size and the training step") {
  if (!program.available()) return;
  const auto r = program.run("--sizes 24x24,16x32 --train-size 16 --train-batch 2 --iterations 2 --warmup 1");
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("# transform_benchmark_cpu: cpu (OpenBLAS,") != std::string::npos);
  const auto found = rows(r.output);
  REQUIRE(found.size() == 3);
  CHECK(found[0].task == "stylize");
  CHECK(found[0].size == "24x24");
  CHECK(found[1].size == "16x32");
  CHECK(found[2].task == "train");
  CHECK(found[2].size == "16x16");
  CHECK(found[2].batch == 2);
  for (const auto& row : found) {
    CHECK(row.variant == "fp32");
    CHECK(row.ms > 0);
    // images/s is printed to 0.1 and ms to 0.001: recomputed from the printed ms, images/s may be
    // off by 0.05 plus what ms's rounding (0.0005) moves 1000 * batch / ms by.
    const double ms_rounding = 1000.0 * row.batch * 0.0005 / (row.ms * (row.ms - 0.0005));
    CHECK(std::abs(row.images_per_s - 1000.0 * row.batch / row.ms) <= 0.05 + ms_rounding + 1e-9);
  }
}

TEST_CASE("transform_benchmark_cpu --gatys-size adds a row per L-BFGS iteration of the Gatys baseline") {
  if (!program.available()) return;
  const auto r = program.run(
      "--no-stylize --no-train --gatys-size 16 --gatys-iterations 2 "
      "--train-iterations 1 --warmup 1");
  INFO(r.output);
  REQUIRE(r.status == 0);
  const auto found = rows(r.output);
  REQUIRE(found.size() == 1);
  CHECK(found[0].task == "gatys");
  CHECK(found[0].size == "16x16");
  CHECK(found[0].ms > 0);
  CHECK(r.output.find("objective evaluations per run of 2 L-BFGS iterations") != std::string::npos);
  program.check_error("--gatys-size 8", "--gatys-size: 8 is below 16", testing::Program::any_failure);
}

TEST_CASE("transform_benchmark_cpu rejects impossible options with a message") {
  if (!program.available()) return;
  program.check_error("--precision bf16", "--precision: \"bf16\", this backend has fp32",
                      testing::Program::any_failure);
  program.check_error("--sizes 4x4", "--sizes: \"4x4\"", testing::Program::any_failure);
  program.check_error("--train-size 30", "not a multiple of 4", testing::Program::any_failure);
  program.check_error("--frobnicate", "unknown option --frobnicate", testing::Program::any_failure);
}
