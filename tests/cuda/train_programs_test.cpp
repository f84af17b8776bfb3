// Runs the GPU builds of the training programs (examples/train_style_cuda, train_sr_cuda) on tiny
// generated data: without a device they must say so and exit 1; with one, they must write what the
// CPU builds write from the same options (the same tensors and metadata, values within float
// rounding), and the CPU build must resume their checkpoints.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "cuda/support.hpp"
#include "perceptual/backend/cuda/check.hpp"
#include "perceptual/io/image.hpp"
#include "perceptual/io/safetensors.hpp"
#include "support/norm_fed.hpp"
#include "support/program.hpp"
#include "support/random.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_vgg.hpp"

using namespace perceptual;
namespace fs = std::filesystem;

namespace {

fs::path program(const std::string& name) {
  return testing::find_program("PERCEPTUAL_EXAMPLES_DIR", name);
}

struct Fixture {
  testing::TempDir dir;
  Fixture() {
    testing::write_tiny_vgg(dir / "vgg.safetensors");
    fs::create_directories(dir / "data");
    std::mt19937_64 rng(3);
    for (int i = 0; i < 4; ++i)
      io::write_image(testing::random_tensor<float>({1, 3, 30 + i, 34}, rng, 0, 255),
                      dir / "data" / ("img" + std::to_string(i) + ".png"));
    io::write_image(testing::random_tensor<float>({1, 3, 20, 24}, rng, 0, 255), dir / "style.png");
  }
};

// The two model files hold the same tensors and metadata (but the command line); the values of
// all but the norm-fed biases (support/norm_fed.hpp) agree by norm within 2e-2: two Adam steps of lr 1e-3 from the same
// start, where an entry whose gradient is within rounding of zero may move the other way (2e-3
// after one step when the CPU is run against itself on inputs 1e-6 apart); a device that did not
// train at all would be some 5e-2 away. tests/cuda/trainer_test.cpp checks the numbers closely.
void check_same_model(const fs::path& cpu_file, const fs::path& cuda_file) {
  const io::SafetensorsFile e(cpu_file), a(cuda_file);
  auto me = e.metadata(), ma = a.metadata();
  me.erase("command_line");
  ma.erase("command_line");
  CHECK(me == ma);
  REQUIRE(e.names() == a.names());
  double diff = 0, norm = 0;
  for (const auto& name : e.names()) {
    INFO(name);
    REQUIRE(e.shape(name) == a.shape(name));
    if (testing::feeds_norm(name, [&](const std::string& n) { return e.has(n); })) continue;
    const auto x = e.read<float>(name), y = a.read<float>(name);
    for (std::size_t i = 0; i < x.size(); ++i) {
      diff += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
      norm += double(x[i]) * x[i];
    }
  }
  const double error = std::sqrt(diff / norm);
  CHECK(error < 2e-2);
  MESSAGE("measured: the GPU's model against the CPU's, norm-relative " << error);
}

// `name`_cuda with `args` (plus -o, -n 2 and a checkpoint at 2): the no-device message, or a run
// whose files match `name`'s, and whose checkpoint `name` resumes.
void check_cuda_program(const std::string& name, const std::string& args, const Fixture& f) {
  const fs::path cuda = program(name + "_cuda"), cpu = program(name);
  if (!testing::program_available(cuda, "PERCEPTUAL_EXAMPLES_DIR")) return;
  const std::string common = args + " -n 2 --checkpoint-every 2 --seed 5 --threads 2 ";
  // The GPU builds compute in TF32 by default; NVIDIA's own switch, which they obey, asks for the
  // exact float32 arithmetic the CPU build does.
  ::setenv("NVIDIA_TF32_OVERRIDE", "0", 1);
  auto r = testing::run_program(cuda, common + "-o " + testing::quoted(f.dir / "cuda.safetensors"));
  INFO(r.output);
  if (!cuda::device_available()) {
    CHECK(r.status == 1);
    CHECK(r.output.find(name + "_cuda: error: no CUDA device is available (" + name + " trains on the CPU)") !=
          std::string::npos);
    CHECK_FALSE(fs::exists(f.dir / "cuda.safetensors"));
    if (testing::device_decision(false) == testing::DeviceDecision::fail)
      FAIL("no CUDA device is visible, but PERCEPTUAL_REQUIRE_GPU=1 asks for one");
    MESSAGE("no CUDA device: checked the message (the training runs on a device only)");
    return;
  }
  REQUIRE(r.status == 0);
  CHECK(r.output.find(", on cuda (") != std::string::npos);
  CHECK(r.output.find(", exact float32)") != std::string::npos);
  if (!testing::program_available(cpu, "PERCEPTUAL_EXAMPLES_DIR")) return;
  r = testing::run_program(cpu, common + "-o " + testing::quoted(f.dir / "cpu.safetensors"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  check_same_model(f.dir / "cpu.safetensors", f.dir / "cuda.safetensors");

  r = testing::run_program(cpu, args + " -n 3 --seed 5 --resume " + testing::quoted(f.dir / "cuda.ckpt.safetensors") +
                                    " -o " + testing::quoted(f.dir / "resumed.safetensors"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find(name + ": resumed") != std::string::npos);
  CHECK(io::SafetensorsFile(f.dir / "resumed.safetensors").metadata().at("iterations") == "3");
}

// train_style's options for the fixture's data.
std::string train_style_args(const Fixture& f) {
  return "--style " + testing::quoted(f.dir / "style.png") + " --weights " +
         testing::quoted(f.dir / "vgg.safetensors") + " --data " + testing::quoted(f.dir / "data") +
         " --style-layers relu1_2,relu2_2 --style-weight 1e-2 --image-size 16 --batch-size 2";
}

// Whether two model files hold the same bits in every tensor.
bool same_bits(const fs::path& a, const fs::path& b) {
  const io::SafetensorsFile x(a), y(b);
  if (x.names() != y.names()) return false;
  for (const auto& name : x.names())
    if (x.read<float>(name) != y.read<float>(name)) return false;
  return true;
}

}  // namespace

TEST_CASE("train_style_cuda trains as train_style does, or says that there is no device") {
  Fixture f;
  check_cuda_program("train_style", train_style_args(f), f);
}

// What a GPU lease checks of NCCL in a training program (scripts/device_check.sh): launched by
// mpirun as one rank, train_style_cuda sums its gradients over NCCL, which for one rank changes
// no bit of the GPU's run alone; and so it trains as train_style does.
TEST_CASE("train_style_cuda as one rank of mpirun sums over NCCL: the GPU's model alone, bit for bit") {
  PERCEPTUAL_REQUIRE_DEVICE();
  if (!PERCEPTUAL_PROGRAMS_NCCL) {
    MESSAGE("skipped: the CUDA programs are built without NCCL (CMake's PERCEPTUAL_NCCL)");
    return;
  }
  const char* launcher = std::getenv("PERCEPTUAL_MPIEXEC");
  if (!launcher) {
    MESSAGE("skipped: PERCEPTUAL_MPIEXEC is not set (ctest sets it with MPI; device_check.sh to the bundle's mpirun)");
    return;
  }
  Fixture f;
  const fs::path cuda = program("train_style_cuda"), cpu = program("train_style");
  if (!testing::program_available(cuda, "PERCEPTUAL_EXAMPLES_DIR") ||
      !testing::program_available(cpu, "PERCEPTUAL_EXAMPLES_DIR"))
    return;
  ::setenv("NVIDIA_TF32_OVERRIDE", "0", 1);  // exact float32, as the CPU computes
  const std::string common = train_style_args(f) + " -n 3 --seed 5 --threads 2 ";
  auto r = testing::run_program(
      launcher, "-np 1 " + testing::quoted(cuda) + " " + common + "-o " + testing::quoted(f.dir / "nccl.safetensors"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find(", 1 rank over NCCL ") != std::string::npos);
  r = testing::run_program(cuda, common + "-o " + testing::quoted(f.dir / "cuda.safetensors"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find(", 1 rank") == std::string::npos);  // alone: neither MPI nor NCCL
  CHECK(same_bits(f.dir / "cuda.safetensors", f.dir / "nccl.safetensors"));
  r = testing::run_program(cpu, common + "-o " + testing::quoted(f.dir / "cpu.safetensors"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  check_same_model(f.dir / "cpu.safetensors", f.dir / "nccl.safetensors");
}

TEST_CASE("train_sr_cuda trains as train_sr does, or says that there is no device") {
  Fixture f;
  check_cuda_program("train_sr",
                     "--data " + testing::quoted(f.dir / "data") + " --factor 4 --loss feature --weights " +
                         testing::quoted(f.dir / "vgg.safetensors") + " --tv-weight 1e-4 --crop-size 24 --batch-size 2",
                     f);
}
