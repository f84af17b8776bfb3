// Status checks, device detection, and what a CUDA test case does without a device (skip, or
// fail under PERCEPTUAL_REQUIRE_GPU=1); these run without a device.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "cuda/support.hpp"
#include "perceptual/backend/cuda/check.hpp"
#include "perceptual/backend/cuda/tensor.hpp"
#include "support/program.hpp"

using namespace perceptual;
using testing::device_decision;
using testing::DeviceDecision;

namespace {

// The cases below that only need a device (or bf16 on it), run by the last case in a child
// process of this program with PERCEPTUAL_REQUIRE_GPU set as it chooses.
constexpr const char* device_case = "a case that needs a device runs on one";
constexpr const char* bf16_case = "a case that needs bf16 runs on a device that has it";

// This program run through env(1) with `env_args` ("-u NAME" or "NAME=value") and only the case
// `name` (doctest's --test-case; the names hold no commas, which would split the filter).
testing::ProgramRun run_own_case(const std::string& env_args, const std::string& name) {
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
  return testing::run_program("/usr/bin/env", env_args + " '" + self.string() + "' '--test-case=" + name + "'");
}

// How many test cases the child ran, from doctest's summary ("test cases: 1 | ..."); -1 if none.
int cases_run(const std::string& output) {
  const auto at = output.find("test cases:");
  return at == std::string::npos ? -1 : std::atoi(output.c_str() + at + std::string("test cases:").size());
}

}  // namespace

TEST_CASE("PERCEPTUAL_CUDA_CHECK throws a CudaError naming the call, the file and the error") {
  try {
    PERCEPTUAL_CUDA_CHECK(cudaErrorInvalidValue);
    FAIL("no exception");
  } catch (const CudaError& e) {
    const std::string what = e.what();
    CHECK(what.find("cudaErrorInvalidValue") != std::string::npos);
    CHECK(what.find("check_test.cpp") != std::string::npos);
  }
}

TEST_CASE("PERCEPTUAL_CUDNN_CHECK and PERCEPTUAL_CUBLAS_CHECK report the library's status") {
  CHECK_THROWS_WITH_AS(PERCEPTUAL_CUDNN_CHECK(CUDNN_STATUS_BAD_PARAM), doctest::Contains("CUDNN_STATUS_BAD_PARAM"),
                       CudaError);
  CHECK_THROWS_WITH_AS(PERCEPTUAL_CUBLAS_CHECK(CUBLAS_STATUS_INVALID_VALUE),
                       doctest::Contains("CUBLAS_STATUS_INVALID_VALUE"), CudaError);
  CHECK_NOTHROW(PERCEPTUAL_CUDA_CHECK(cudaSuccess));
}

TEST_CASE("a CudaError is a perceptual::Error") {
  CHECK_THROWS_AS(PERCEPTUAL_CUDA_CHECK(cudaErrorMemoryAllocation), Error);
}

TEST_CASE("device_available answers without throwing, and empty CUDA tensors need no device") {
  bool available = false;
  CHECK_NOTHROW(available = cuda::device_available());
  MESSAGE("CUDA device available: " << (available ? "yes" : "no"));
  Tensor<float, Cuda> empty;
  Tensor<float, Cuda> copy = empty;
  Tensor<float, Cuda> moved = std::move(copy);
  CHECK(moved.empty());
  CHECK(moved.to_host().empty());
  using CudaTensor = Tensor<float, Cuda>;
  if (!available) CHECK_THROWS_AS(CudaTensor({1, 1, 2, 2}), CudaError);
}

TEST_CASE(
    "device_decision runs with a device, skips without one, and fails without one under PERCEPTUAL_REQUIRE_GPU=1") {
  CHECK(device_decision(true, nullptr) == DeviceDecision::run);
  CHECK(device_decision(true, "0") == DeviceDecision::run);
  CHECK(device_decision(true, "1") == DeviceDecision::run);
  CHECK(device_decision(false, nullptr) == DeviceDecision::skip);
  CHECK(device_decision(false, "0") == DeviceDecision::skip);
  CHECK(device_decision(false, "1") == DeviceDecision::fail);
}

TEST_CASE("PERCEPTUAL_REQUIRE_GPU accepts 1, 0 or no value, and any other value is an error naming it") {
  CHECK(testing::gpu_required("1"));
  CHECK_FALSE(testing::gpu_required("0"));
  CHECK_FALSE(testing::gpu_required(nullptr));
  for (const char* bad : {"", "yes", "true", "on", "2", "01", " 1", "1 ", "ON"}) {
    INFO("PERCEPTUAL_REQUIRE_GPU=\"" << bad << "\"");
    const std::string expected = "PERCEPTUAL_REQUIRE_GPU is \"" + std::string(bad) + "\"";
    CHECK_THROWS_WITH_AS(testing::gpu_required(bad), doctest::Contains(expected.c_str()), ArgumentError);
    for (const bool present : {true, false}) CHECK_THROWS_AS(device_decision(present, bad), ArgumentError);
  }
}

TEST_CASE("a case that needs a device runs on one") {
  PERCEPTUAL_REQUIRE_DEVICE();
  CHECK(cuda::device_available());
}

TEST_CASE("a case that needs bf16 runs on a device that has it") {
  PERCEPTUAL_REQUIRE_BF16();
  CHECK(cuda::bf16_supported());
}

// The macros end to end, as ctest runs them: the two cases above in a child process.
TEST_CASE("PERCEPTUAL_REQUIRE_DEVICE and PERCEPTUAL_REQUIRE_BF16 skip or fail as PERCEPTUAL_REQUIRE_GPU says") {
  for (const bool bf16 : {false, true}) {
    const std::string name = bf16 ? bf16_case : device_case;
    const bool present = bf16 ? cuda::bf16_supported() : cuda::device_available();
    INFO("case \"" << name << "\", " << (present ? "present" : "absent") << " here");
    for (const std::string env :
         {"-u PERCEPTUAL_REQUIRE_GPU", "PERCEPTUAL_REQUIRE_GPU=0", "PERCEPTUAL_REQUIRE_GPU=1"}) {
      const auto r = run_own_case(env, name);
      INFO("env " << env << ":\n" << r.output);
      const bool required = env.ends_with("=1");
      // Exactly one case ran (a filter that matched nothing would pass too).
      CHECK(cases_run(r.output) == 1);
      if (present) {
        CHECK(r.status == 0);
      } else if (required) {
        CHECK(r.status != 0);
        CHECK(r.output.find("but PERCEPTUAL_REQUIRE_GPU=1 asks for one") != std::string::npos);
      } else {
        CHECK(r.status == 0);
        CHECK(r.output.find("skipped: ") != std::string::npos);
      }
    }
    const auto r = run_own_case("PERCEPTUAL_REQUIRE_GPU=yes", name);
    INFO("env PERCEPTUAL_REQUIRE_GPU=yes:\n" << r.output);
    CHECK(r.status != 0);
    CHECK(cases_run(r.output) == 1);
    CHECK(r.output.find("PERCEPTUAL_REQUIRE_GPU is \"yes\"; expected 1") != std::string::npos);
  }
}
