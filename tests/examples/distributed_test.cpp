// train_style and train_sr as two ranks of mpirun (ctest sets PERCEPTUAL_MPIEXEC when the build
// has MPI): the model one process writes, within float rounding (support/data_parallel.hpp),
// written once, by the root.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "perceptual/io/safetensors.hpp"
#include "support/csv.hpp"
#include "support/data_parallel.hpp"
#include "support/program.hpp"
#include "support/tiny_training_data.hpp"

using namespace perceptual;
namespace fs = std::filesystem;

namespace {

const testing::Program train_style("train_style"), train_sr("train_sr");

// mpiexec, or an empty string after saying why the test skips.
std::string mpiexec() {
  const char* path = std::getenv("PERCEPTUAL_MPIEXEC");
  if (!path) MESSAGE("skipped: PERCEPTUAL_MPIEXEC is not set (a build without MPI; ctest sets it with MPI)");
  return path ? path : "";
}

// `program` with `args` as 2 ranks of mpiexec on this machine.
testing::ProgramRun run_two_ranks(const std::string& launcher, const testing::Program& program,
                                  const std::string& args) {
  return testing::run_program(launcher, "-np 2 --oversubscribe " + testing::quoted(program.path()) + " " + args);
}

// Every value of a model file, in the order of its tensors' names.
std::vector<double> values(const fs::path& path) {
  const io::SafetensorsFile file(path);
  std::vector<double> out;
  for (const auto& name : file.names())
    for (float v : file.read<float>(name)) out.push_back(v);
  return out;
}

// How many times `part` occurs in `text`.
std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("train_style on 2 ranks of mpirun: one process's model within float rounding; one log, one line") {
  const std::string launcher = mpiexec();
  if (launcher.empty() || !train_style.available()) return;
  testing::TinyTrainingData f;
  const std::string args =
      "--style " + testing::quoted(f.dir / "style.png") + " --weights " + testing::quoted(f.dir / "vgg.safetensors") +
      " --data " + testing::quoted(f.dir / "data") +
      " --content-layers relu2_2 --style-layers relu1_2,relu2_2 --image-size 16 --seed 5 --threads 1 -n 3";
  const auto one = train_style.run(args + " --batch-size 4 -o " + testing::quoted(f.dir / "one.safetensors"));
  REQUIRE(one.status == 0);
  const auto two = run_two_ranks(launcher, train_style,
                                 args + " --batch-size 4 -o " + testing::quoted(f.dir / "two.safetensors") + " --log " +
                                     testing::quoted(f.dir / "two.csv") + " --checkpoint-every 2");
  INFO(two.output);
  REQUIRE(two.status == 0);
  CHECK(count(two.output, ", 2 ranks") == 1);  // the root alone speaks
  CHECK(count(two.output, "train_style: wrote") == 1);
  CHECK(testing::read_csv(f.dir / "two.csv").size() == 1 + 3);
  CHECK(fs::exists(f.dir / "two.ckpt.safetensors"));
  testing::check_data_parallel_close(values(f.dir / "one.safetensors"), values(f.dir / "two.safetensors"), 1e-3, 3);

  // A global batch smaller than the ranks: a clear error, not a hang.
  const auto small = run_two_ranks(launcher, train_style, args + " --batch-size 1 -o x.safetensors");
  INFO(small.output);
  CHECK(small.status != 0);
  CHECK(small.output.find("a global batch of 1 cannot be shared by 2 ranks") != std::string::npos);
}

TEST_CASE("train_sr on 2 ranks: instance norm matches one process; batch norm is refused with the reason") {
  const std::string launcher = mpiexec();
  if (launcher.empty() || !train_sr.available()) return;
  testing::TinyTrainingData f;
  const std::string args = "--data " + testing::quoted(f.dir / "data") +
                           " --factor 4 --loss pixel --crop-size 24 --batch-size 4 --seed 5 --threads 1 -n 3";
  REQUIRE(train_sr.run(args + " --norm instance -o " + testing::quoted(f.dir / "one.safetensors")).status == 0);
  const auto two =
      run_two_ranks(launcher, train_sr, args + " --norm instance -o " + testing::quoted(f.dir / "two.safetensors"));
  INFO(two.output);
  REQUIRE(two.status == 0);
  testing::check_data_parallel_close(values(f.dir / "one.safetensors"), values(f.dir / "two.safetensors"), 1e-3, 3);

  const auto batch_norm = run_two_ranks(launcher, train_sr, args + " -o " + testing::quoted(f.dir / "bn.safetensors"));
  CHECK(batch_norm.status != 0);
  CHECK(batch_norm.output.find("synchronised batch norm is not implemented") != std::string::npos);
  CHECK_FALSE(fs::exists(f.dir / "bn.safetensors"));
}
