#pragma once
// Helpers for CPU/CUDA parity tests: the start every case shares (skip without a device, or fail
// with PERCEPTUAL_REQUIRE_GPU=1; seed, generator), moving tensors and whole models between the
// backends, and comparing them.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/backend/cuda/cuda.hpp"
#include "perceptual/core/conv_geometry.hpp"
#include "perceptual/core/error.hpp"
#include "support/conv_geometry.hpp"
#include "support/norm_fed.hpp"
#include "support/random.hpp"

// Ends the test case, saying why, when no CUDA device is present (CI machines have none); with
// PERCEPTUAL_REQUIRE_GPU=1 (the GPU machine's runs) a missing device fails it instead, so a run
// meant to test the device cannot pass by skipping everything (testing::device_decision).
#define PERCEPTUAL_REQUIRE_DEVICE()                                                                    \
  do {                                                                                                 \
    switch (::perceptual::testing::device_decision(::perceptual::cuda::device_available())) {          \
      case ::perceptual::testing::DeviceDecision::run:                                                 \
        break;                                                                                         \
      case ::perceptual::testing::DeviceDecision::skip:                                                \
        MESSAGE("skipped: no CUDA device");                                                            \
        return;                                                                                        \
      case ::perceptual::testing::DeviceDecision::fail:                                                \
        FAIL(                                                                                          \
            "no CUDA device is visible, but PERCEPTUAL_REQUIRE_GPU=1 asks for one (check the driver, " \
            "CUDA_VISIBLE_DEVICES and nvidia-smi)");                                                   \
    }                                                                                                  \
  } while (false)

// Ends the test case, saying why, when the device cannot run the bf16 path (before Ampere); with
// PERCEPTUAL_REQUIRE_GPU=1 that fails it instead, as PERCEPTUAL_REQUIRE_DEVICE does.
#define PERCEPTUAL_REQUIRE_BF16()                                                                \
  do {                                                                                           \
    switch (::perceptual::testing::device_decision(::perceptual::cuda::bf16_supported())) {      \
      case ::perceptual::testing::DeviceDecision::run:                                           \
        break;                                                                                   \
      case ::perceptual::testing::DeviceDecision::skip:                                          \
        MESSAGE("skipped: bf16 needs a CUDA device of compute capability 8.0 or newer");         \
        return;                                                                                  \
      case ::perceptual::testing::DeviceDecision::fail:                                          \
        FAIL(                                                                                    \
            "bf16 needs a CUDA device of compute capability 8.0 or newer, none is visible, but " \
            "PERCEPTUAL_REQUIRE_GPU=1 asks for one");                                            \
    }                                                                                            \
  } while (false)

// The start of a parity test case: ends it without a device (PERCEPTUAL_REQUIRE_DEVICE), else
// draws a seed, shown on failure and replayed with PERCEPTUAL_SEED=<n>, and declares the
// generator `rng` seeded with it. INFO must sit in the case's own scope, hence a macro.
#define PERCEPTUAL_PARITY_CASE(rng)                                                     \
  PERCEPTUAL_REQUIRE_DEVICE();                                                          \
  const std::uint64_t rng##_seed = ::perceptual::testing::test_seed();                  \
  INFO("seed " << rng##_seed << " (replay with PERCEPTUAL_SEED=" << rng##_seed << ")"); \
  std::mt19937_64 rng(rng##_seed)

namespace perceptual::testing {

// What a CUDA test case does about the device it needs: run, skip (saying why) or fail.
enum class DeviceDecision { run, skip, fail };

// PERCEPTUAL_REQUIRE_GPU's value (nullptr when unset): "1" requires a device, unset or "0" does
// not. Anything else ("true", "yes", "", " 1") throws ArgumentError naming the variable: a typo on
// the GPU machine must not quietly turn the requirement off.
inline bool gpu_required(const char* value) {
  const std::string v = value ? value : "0";
  if (v == "1") return true;
  if (v == "0") return false;
  throw ArgumentError("PERCEPTUAL_REQUIRE_GPU is \"" + v +
                      "\"; expected 1 (fail CUDA tests without a device) or 0 or unset (skip them)");
}

// Given whether what the case needs is there (a device, or bf16 on it) and the variable's value:
// run when present, else skip, or fail when the variable requires a device. The value is checked
// even when a device is present, so a bad one fails everywhere.
inline DeviceDecision device_decision(bool present, const char* require_gpu) {
  const bool required = gpu_required(require_gpu);
  if (present) return DeviceDecision::run;
  return required ? DeviceDecision::fail : DeviceDecision::skip;
}

// The same, reading PERCEPTUAL_REQUIRE_GPU from the environment.
inline DeviceDecision device_decision(bool present) {
  return device_decision(present, std::getenv("PERCEPTUAL_REQUIRE_GPU"));
}

inline constexpr double parity_tolerance = 1e-4;  // float32, CPU vs CUDA, one operation

// Whole networks' gradients in float32, by norm_relative_error. A ReLU input within rounding of
// zero (about 1e-6 here) takes the other branch on one backend: that entry's gradient passes on
// one side only, an error of about 1/sqrt(entries in the layer), 4e-3 for 2x32x32x36; with some
// 3e5 ReLU inputs in a style net, about one such flip per run is expected.
inline constexpr double float_net_gradient_tolerance = 2e-2;

// bf16 on the device against float32 on the CPU, from the same bf16-representable inputs and
// weights, by norm_relative_error. bf16 keeps 8 significant bits: each stored value is off by up
// to 2^-9 (0.2%) relative. One operation: 1e-2. A whole network compounds one rounding per
// layer: 3e-2 for outputs. Its gradients also take the other branch at every ReLU input within
// rounding of zero, about 0.2% of them at bf16's precision, each layer adding about
// sqrt(0.002) = 4% in quadrature: 3e-1 for a style net or VGG (a wrong index gives 1 or more).
// These are estimates made before any run on a device; the tests print what they measure.
inline constexpr double bf16_op_tolerance = 1e-2;
inline constexpr double bf16_net_tolerance = 3e-2;
inline constexpr double bf16_gradient_tolerance = 3e-1;

// A CPU tensor on the device, its values converted to U (the same type by default).
template <class U = void, class T>
auto to_cuda(const Tensor<T, Cpu>& x) {
  using V = std::conditional_t<std::is_void_v<U>, T, U>;
  const std::vector<T> v = x.to_host();
  return Tensor<V, Cuda>::from_host(x.shape(), std::vector<V>(v.begin(), v.end()));
}

// A device tensor on the CPU, its values converted to U (the same type by default).
template <class U = void, class T>
auto to_cpu(const Tensor<T, Cuda>& x) {
  using V = std::conditional_t<std::is_void_v<U>, T, U>;
  const std::vector<T> v = x.to_host();
  std::vector<V> out(v.size());
  std::transform(v.begin(), v.end(), out.begin(), [](T e) { return static_cast<V>(e); });
  return Tensor<V, Cpu>::from_host(x.shape(), out);
}

// max |expected - actual| / max |expected|: relative to the tensor's scale, so entries that
// are sums of many terms cancelling to near zero do not dominate.
template <class T, class U>
double relative_error(const Tensor<T, Cpu>& expected, const Tensor<U, Cuda>& actual) {
  REQUIRE(expected.shape() == actual.shape());
  const std::vector<T> e = expected.to_host();
  const std::vector<U> a = actual.to_host();
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < e.size(); ++i) {
    const double ei = static_cast<double>(e[i]);
    diff = std::max(diff, std::abs(ei - static_cast<double>(a[i])));
    scale = std::max(scale, std::abs(ei));
  }
  return scale > 0 ? diff / scale : diff;
}

// ||expected - actual||_2 / ||expected||_2: the measure for whole networks and reduced
// precision, where a single entry may move further (a ReLU or max-pool decision flipped by
// rounding) without the result being wrong.
template <class T, class U>
double norm_relative_error(const Tensor<T, Cpu>& expected, const Tensor<U, Cuda>& actual) {
  REQUIRE(expected.shape() == actual.shape());
  const std::vector<T> e = expected.to_host();
  const std::vector<U> a = actual.to_host();
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < e.size(); ++i) {
    const double ei = static_cast<double>(e[i]), d = ei - static_cast<double>(a[i]);
    diff += d * d;
    norm += ei * ei;
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

// x with every value rounded to the nearest bf16: values a bf16 tensor holds exactly, so that a
// bf16 comparison measures only the rounding inside the computation.
template <class T>
Tensor<T, Cpu> bf16_rounded(const Tensor<T, Cpu>& x) {
  std::vector<T> v = x.to_host();
  for (auto& e : v) e = static_cast<T>(static_cast<float>(bf16(e)));
  return Tensor<T, Cpu>::from_host(x.shape(), v);
}

// Rounds every parameter of a CPU model to bf16 (see bf16_rounded).
template <class CpuModel>
void round_parameters_to_bf16(CpuModel& model) {
  for (auto& p : model.parameters()) *p.value = bf16_rounded(*p.value);
}

// |expected - actual| / |expected| for scalars (loss values, norms).
inline double relative_error(double expected, double actual) {
  return std::abs(expected - actual) / std::max(std::abs(expected), 1e-30);
}

// Gives the CUDA model the CPU model's parameters and state, by position (the same net, so the
// same names in the same order).
template <class CpuModel, class CudaModel>
void copy_parameters(CpuModel& from, CudaModel& to) {
  auto src = from.parameters();
  auto dst = to.parameters();
  REQUIRE(src.size() == dst.size());
  for (std::size_t i = 0; i < src.size(); ++i) {
    REQUIRE(src[i].name == dst[i].name);
    using V = typename std::remove_reference_t<decltype(*dst[i].value)>::value_type;
    *dst[i].value = to_cuda<V>(*src[i].value);
  }
}

// Draws every parameter of a CPU model (learnable or not) uniformly from [-bound, bound], with
// bound = sqrt(6 / fan_in) (He et al.'s uniform), so activations keep their scale through deep
// ReLU stacks; a 1xCx1x1 parameter (bias, norm) is drawn from [0.5, 1.5] or [-0.5, 0.5].
template <class CpuModel>
void randomize_parameters(CpuModel& model, std::mt19937_64& rng) {
  for (auto& p : model.parameters()) {
    const Shape4 s = p.value->shape();
    const bool per_channel = s.n == 1 && s.h == 1 && s.w == 1;
    const bool scale_like = per_channel && (p.name.ends_with("weight") || p.name.ends_with("running_var"));
    if (per_channel)
      randomize(*p.value, rng, scale_like ? 0.5 : -0.5, scale_like ? 1.5 : 0.5);
    else
      randomize(*p.value, rng, -std::sqrt(6.0 / (s.c * s.h * s.w)), std::sqrt(6.0 / (s.c * s.h * s.w)));
  }
}

// The largest error of any learnable parameter's gradient, by `error` (relative_error or
// norm_relative_error); `worst` names that parameter. The biases that feed a norm layer are left
// out (support/norm_fed.hpp): their exact gradient is 0, so both backends give rounding noise.
template <class CpuModel, class CudaModel, class Error>
double worst_gradient_error(CpuModel& cpu_model, CudaModel& cuda_model, Error error, std::string& worst) {
  auto e = cpu_model.parameters();
  auto a = cuda_model.parameters();
  REQUIRE(e.size() == a.size());
  const auto has = [&](const std::string& name) {
    return std::any_of(e.begin(), e.end(), [&](const auto& p) { return p.name == name; });
  };
  double result = 0;
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (!e[i].learnable() || feeds_norm(e[i].name, has)) continue;
    const double err = error(*e[i].grad, *a[i].grad);
    if (err >= result) {
      result = err;
      worst = e[i].name;
    }
  }
  return result;
}

// The same with `pad` on every side and the output cuDNN gives for it: a geometry that conv2d_*
// hands to its plan as it is (cuda::detail::cudnn_geometry), so the key of the plan such a call uses.
inline ConvGeometry symmetric_conv_geometry(int n, int c, int h, int w, int o, int k, int stride, int pad) {
  return conv_geometry(n, c, h, w, o, k, stride, pad, pad, (h + 2 * pad - k) / stride + 1,
                       (w + 2 * pad - k) / stride + 1);
}

}  // namespace perceptual::testing
