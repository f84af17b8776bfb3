// train_style and train_sr as two ranks of mpirun (ctest sets PERCEPTUAL_MPIEXEC when the build
// has MPI): the model one process writes, within float rounding (support/data_parallel.hpp),
// written once, by the root.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include "perceptual/core/model.hpp"
#include "perceptual/io/image.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/io/safetensors.hpp"
#include "perceptual/nets/transform.hpp"
#include "support/csv.hpp"
#include "support/data_parallel.hpp"
#include "support/program.hpp"
#include "support/random.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_training_data.hpp"

using namespace perceptual;
namespace fs = std::filesystem;

namespace {

const testing::Program train_style("train_style"), train_sr("train_sr"), stylize("stylize");

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

TEST_CASE("train_style on 2 ranks: one process's model within float rounding, one log; it resumes on 1 rank") {
  const std::string launcher = mpiexec();
  if (launcher.empty() || !train_style.available()) return;
  testing::TinyTrainingData f;
  const std::string common =
      "--style " + testing::quoted(f.dir / "style.png") + " --weights " + testing::quoted(f.dir / "vgg.safetensors") +
      " --data " + testing::quoted(f.dir / "data") +
      " --content-layers relu2_2 --style-layers relu1_2,relu2_2 --image-size 16 --seed 5 --threads 1";
  const std::string args = common + " --batch-size 4";
  const auto one = train_style.run(args + " -n 3 -o " + testing::quoted(f.dir / "one.safetensors"));
  REQUIRE(one.status == 0);
  const auto two = run_two_ranks(launcher, train_style,
                                 args + " -n 3 -o " + testing::quoted(f.dir / "two.safetensors") + " --log " +
                                     testing::quoted(f.dir / "two.csv") + " --checkpoint-every 2");
  INFO(two.output);
  REQUIRE(two.status == 0);
  CHECK(count(two.output, ", 2 ranks") == 1);  // the root alone speaks
  CHECK(count(two.output, "train_style: wrote") == 1);
  CHECK(testing::read_csv(f.dir / "two.csv").size() == 1 + 3);
  CHECK(fs::exists(f.dir / "two.ckpt.safetensors"));
  testing::check_data_parallel_close(values(f.dir / "one.safetensors"), values(f.dir / "two.safetensors"), 1e-3, 3);

  // Two ranks' checkpoint resumes in one process (the same global batch): one process's run again.
  REQUIRE(run_two_ranks(launcher, train_style,
                        args + " -n 2 --checkpoint-every 2 -o " + testing::quoted(f.dir / "half.safetensors"))
              .status == 0);
  const auto resumed = train_style.run(args + " -n 3 --resume " + testing::quoted(f.dir / "half.ckpt.safetensors") +
                                       " -o " + testing::quoted(f.dir / "resumed.safetensors"));
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  testing::check_data_parallel_close(values(f.dir / "one.safetensors"), values(f.dir / "resumed.safetensors"), 1e-3, 3);

  // A global batch smaller than the ranks: a clear error, not a hang.
  const auto small = run_two_ranks(launcher, train_style, common + " -n 3 --batch-size 1 -o x.safetensors");
  INFO(small.output);
  CHECK(small.status != 0);
  CHECK(small.output.find("a global batch of 1 cannot be shared by 2 ranks") != std::string::npos);
}

TEST_CASE("train_sr on 2 ranks: batch norm (synchronised, the default) and instance norm match one process") {
  const std::string launcher = mpiexec();
  if (launcher.empty() || !train_sr.available()) return;
  testing::TinyTrainingData f;
  const std::string args = "--data " + testing::quoted(f.dir / "data") +
                           " --factor 4 --loss pixel --crop-size 24 --batch-size 4 --seed 5 --threads 1 -n 3";
  for (const std::string norm : {"batch", "instance"}) {
    INFO(norm);
    const std::string run = args + " --norm " + norm + " -o ";
    const fs::path one = f.dir / (norm + "_one.safetensors"), two = f.dir / (norm + "_two.safetensors");
    REQUIRE(train_sr.run(run + testing::quoted(one)).status == 0);
    const auto ranks = run_two_ranks(launcher, train_sr, run + testing::quoted(two));
    INFO(ranks.output);
    REQUIRE(ranks.status == 0);
    testing::check_data_parallel_close(values(one), values(two), 1e-3, 3);  // running statistics included
  }
}

TEST_CASE("stylize on 2 ranks shares a folder's images: each written once, as one process writes it") {
  const std::string launcher = mpiexec();
  if (launcher.empty() || !stylize.available()) return;
  testing::TempDir dir;
  Model<nets::StyleTransformNet<>, Cpu, float> net;
  net.initialize(4);
  io::save_parameters(net, dir / "net.safetensors", {{"architecture", "johnson-style"}});
  fs::create_directories(dir / "in");
  std::mt19937_64 rng(6);
  for (int i = 0; i < 5; ++i)
    io::write_image(random_tensor<float>({1, 3, 12 + i, 16}, rng, 0, 255),
                    dir / "in" / ("p" + std::to_string(i) + ".png"));
  std::ofstream(dir / "in" / "broken.png") << "not a PNG";
  const std::string args =
      "-m " + testing::quoted(dir / "net.safetensors") + " " + testing::quoted(dir / "in") + " -o ";

  REQUIRE(stylize.run(args + testing::quoted(dir / "one")).status == 0);
  const auto two = run_two_ranks(launcher, stylize, args + testing::quoted(dir / "two"));
  INFO(two.output);
  REQUIRE(two.status == 0);                            // a broken file in a folder is skipped, as by one process
  CHECK(count(two.output, "stylize: 5 images") == 1);  // all ranks' count, said once
  CHECK(count(two.output, "skipped") == 1);
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir / "two")) names.insert(entry.path().filename().string());
  CHECK(names.size() == 5);
  for (const auto& name : names) {
    // One thread per rank against two in one process: the float sums may round apart, by a gray level at most.
    const auto a = io::read_image<float>(dir / "one" / name).to_host(),
               b = io::read_image<float>(dir / "two" / name).to_host();
    REQUIRE(a.size() == b.size());
    float most = 0;
    for (std::size_t i = 0; i < a.size(); ++i) most = std::max(most, std::abs(a[i] - b[i]));
    CHECK(most <= 1);
  }
}
