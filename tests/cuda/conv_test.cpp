// CPU/CUDA parity of convolution (forward, data and filter gradients) for symmetric and
// asymmetric padding and strides, of bias, and of reflection padding; the plans behind it: cached
// per shape and math, run with the math cuDNN measured, deterministic, exact float32 unless TF32
// is switched on.
#include <doctest/doctest.h>

#include <random>

#include "cuda/support.hpp"

using namespace perceptual;
using testing::conv_geometry;
using testing::parity_tolerance;
using testing::relative_error;
using testing::symmetric_conv_geometry;
using testing::to_cuda;

namespace {

struct ConvCase {
  int n, c, h, w, o, k, stride, pad_top, pad_left, out_h, out_w;
  ConvGeometry geometry() const { return conv_geometry(n, c, h, w, o, k, stride, pad_top, pad_left, out_h, out_w); }
};

// Direct (symmetric) cases and ones that need the zero-padded window: TensorFlow's SAME with
// stride 2 pads 0 before and 1 after; a cropped output reads less than cuDNN would produce.
constexpr ConvCase cases[] = {
    {2, 3, 12, 10, 5, 3, 1, 1, 1, 12, 10},  // same size, symmetric
    {1, 4, 16, 16, 6, 3, 2, 1, 1, 8, 8},    // stride 2, symmetric
    {2, 3, 9, 11, 4, 9, 1, 4, 4, 9, 11},    // Johnson's 9x9
    {1, 3, 8, 8, 4, 3, 2, 0, 0, 4, 4},      // SAME, stride 2: asymmetric (0 before, 1 after)
    {1, 2, 7, 9, 3, 4, 1, 1, 2, 7, 9},      // even kernel, asymmetric
    {2, 2, 10, 10, 3, 3, 1, 1, 1, 6, 7},    // output cropped short
    {1, 8, 5, 6, 4, 1, 1, 0, 0, 5, 6},      // 1x1
};

constexpr cuda::detail::ConvPass passes[] = {cuda::detail::ConvPass::forward, cuda::detail::ConvPass::backward_data,
                                             cuda::detail::ConvPass::backward_filter};

// Sets the TF32 switch for a scope and restores it on leaving, so a failing check cannot leave
// it on for the cases that follow.
struct Tf32Scope {
  bool was = cuda::tf32_enabled();
  explicit Tf32Scope(bool on) { cuda::set_tf32(on); }
  ~Tf32Scope() { cuda::set_tf32(was); }
  Tf32Scope(const Tf32Scope&) = delete;
  Tf32Scope& operator=(const Tf32Scope&) = delete;
};

cublasMath_t cublas_math() {
  cublasMath_t mode{};
  REQUIRE(cublasGetMathMode(cuda::context().cublas(), &mode) == CUBLAS_STATUS_SUCCESS);
  return mode;
}

}  // namespace

TEST_CASE("conv2d_forward and its two adjoints match the CPU backend") {
  PERCEPTUAL_PARITY_CASE(rng);
  for (const ConvCase& g : cases) {
    INFO("x " << g.n << "x" << g.c << "x" << g.h << "x" << g.w << ", k " << g.k << ", stride " << g.stride << ", pad "
              << g.pad_top << "," << g.pad_left << ", out " << g.out_h << "x" << g.out_w);
    const auto x = testing::random_tensor<float>({g.n, g.c, g.h, g.w}, rng);
    const auto w = testing::random_tensor<float>({g.o, g.c, g.k, g.k}, rng);
    const auto dy = testing::random_tensor<float>({g.n, g.o, g.out_h, g.out_w}, rng);
    const auto cx = to_cuda(x), cw = to_cuda(w), cdy = to_cuda(dy);
    const ConvGeometry geometry = g.geometry();
    CHECK(relative_error(cpu::conv2d_forward(x, w, geometry), cuda::conv2d_forward(cx, cw, geometry)) <
          parity_tolerance);
    CHECK(relative_error(cpu::conv2d_backward_data(dy, w, geometry), cuda::conv2d_backward_data(cdy, cw, geometry)) <
          parity_tolerance);
    CHECK(relative_error(cpu::conv2d_backward_filter(x, dy, geometry),
                         cuda::conv2d_backward_filter(cx, cdy, geometry)) < parity_tolerance);
  }
}

TEST_CASE(
    "a second convolution of one shape reuses the cached plan and gives the same result; another shape builds one") {
  PERCEPTUAL_PARITY_CASE(rng);
  // 1x3x10x10 and 1x3x10x12 are used by no other case of this program, so their plans are new here.
  const auto cx = to_cuda(testing::random_tensor<float>({1, 3, 10, 10}, rng));
  const auto cw = to_cuda(testing::random_tensor<float>({4, 3, 3, 3}, rng));
  const ConvGeometry geometry = symmetric_conv_geometry(1, 3, 10, 10, 4, 3, 1, 1);
  const std::size_t before = cuda::detail::conv_plans_built();
  const auto first = cuda::conv2d_forward(cx, cw, geometry).to_host();
  CHECK(cuda::detail::conv_plans_built() == before + 1);
  CHECK(cuda::conv2d_forward(cx, cw, geometry).to_host() == first);
  CHECK(cuda::detail::conv_plans_built() == before + 1);
  // The plan of that key is the one the calls used: looking it up builds nothing either.
  const auto key = cuda::detail::conv_key<float>(cuda::detail::ConvPass::forward, geometry);
  const cuda::detail::ConvPlan& plan = cuda::detail::conv_plan(key);
  CHECK(&cuda::detail::conv_plan(key) == &plan);
  CHECK(cuda::detail::conv_plans_built() == before + 1);
  const auto wider = to_cuda(testing::random_tensor<float>({1, 3, 10, 12}, rng));
  (void)cuda::conv2d_forward(wider, cw, symmetric_conv_geometry(1, 3, 10, 12, 4, 3, 1, 1));
  CHECK(cuda::detail::conv_plans_built() == before + 2);
}

TEST_CASE("every float plan runs with the math type cuDNN measured, FMA without TF32, and a deterministic algorithm") {
  PERCEPTUAL_REQUIRE_DEVICE();
  int differing = 0, plans = 0;
  for (const bool tf32 : {false, true}) {
    const Tf32Scope scope(tf32);
    for (const ConvCase& g : cases)
      for (const auto pass : passes) {
        const auto key = cuda::detail::conv_key<float>(
            pass, symmetric_conv_geometry(g.n, g.c, g.h, g.w, g.o, g.k, g.stride, g.pad_top));
        INFO(cuda::detail::to_string(key));
        const cuda::detail::ConvPlan& plan = cuda::detail::conv_plan(key);
        INFO("algorithm " << plan.algorithm() << ", measured with math " << plan.algorithm_math());
        CHECK(plan.descriptor_math() == plan.algorithm_math());
        CHECK(plan.determinism() == CUDNN_DETERMINISTIC);
        CHECK(key.math == (tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
        if (!tf32) CHECK(plan.descriptor_math() == CUDNN_FMA_MATH);
        CHECK(plan.descriptor_math() != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION);
        differing += plan.algorithm_math() != key.math;
        ++plans;
      }
  }
  // Without setting the winner's math the descriptor keeps the requested one: the checks above
  // fail for every plan counted here.
  MESSAGE(differing << " of " << plans << " plans chose an algorithm measured with a math other than requested");
}

TEST_CASE("convolution's backward passes repeat bit for bit where cuDNN has atomics-based algorithms") {
  PERCEPTUAL_PARITY_CASE(rng);
  // Batch 4, 64 channels, 64x64: large enough that backward filter's ALGO_0 and ALGO_3 and
  // backward data's ALGO_0, which accumulate with atomics in any order, are among the fast ones.
  const auto cx = to_cuda(testing::random_tensor<float>({4, 64, 64, 64}, rng));
  const auto cw = to_cuda(testing::random_tensor<float>({64, 64, 3, 3}, rng));
  const auto cdy = to_cuda(testing::random_tensor<float>({4, 64, 64, 64}, rng));
  const ConvGeometry geometry = symmetric_conv_geometry(4, 64, 64, 64, 64, 3, 1, 1);
  const auto dx = cuda::conv2d_backward_data(cdy, cw, geometry).to_host();
  const auto dw = cuda::conv2d_backward_filter(cx, cdy, geometry).to_host();
  for (int run = 0; run < 3; ++run) {
    INFO("repeat " << run);
    CHECK(cuda::conv2d_backward_data(cdy, cw, geometry).to_host() == dx);
    CHECK(cuda::conv2d_backward_filter(cx, cdy, geometry).to_host() == dw);
  }
  using cuda::detail::ConvPass;
  for (const auto pass : {ConvPass::backward_data, ConvPass::backward_filter}) {
    const auto& plan = cuda::detail::conv_plan(cuda::detail::conv_key<float>(pass, geometry));
    INFO(cuda::detail::to_string(plan.key()) << ": algorithm " << plan.algorithm());
    CHECK(plan.determinism() == CUDNN_DETERMINISTIC);
  }
}

TEST_CASE("the default heuristic search picks the same algorithms whenever a plan is built; measured has its own") {
  PERCEPTUAL_REQUIRE_DEVICE();
  REQUIRE(cuda::conv_search() == cuda::ConvSearch::heuristic);
  for (const auto pass : passes) {
    const ConvGeometry geometry = symmetric_conv_geometry(4, 64, 64, 64, 64, 3, 1, 1);
    const auto key = cuda::detail::conv_key<float>(pass, geometry);
    CHECK(key.search == cuda::ConvSearch::heuristic);
    // Built directly, outside the cache: each is a fresh choice, as in a new process resuming a run.
    const cuda::detail::ConvPlan first(key);
    INFO(cuda::detail::to_string(key) << ": algorithm " << first.algorithm());
    for (int build = 0; build < 3; ++build) {
      const cuda::detail::ConvPlan again(key);
      CHECK(again.algorithm() == first.algorithm());
      CHECK(again.algorithm_math() == first.algorithm_math());
    }
    cuda::set_conv_search(cuda::ConvSearch::measured);
    const auto measured = cuda::detail::conv_key<float>(pass, geometry);
    cuda::set_conv_search(cuda::ConvSearch::heuristic);
    CHECK(measured.search == cuda::ConvSearch::measured);
    CHECK(&cuda::detail::conv_plan(measured) != &cuda::detail::conv_plan(key));
    CHECK(cuda::detail::conv_plan(measured).determinism() == CUDNN_DETERMINISTIC);
  }
}

TEST_CASE("TF32 is off by default; switching it changes the plans' math and cuBLAS's, and off float stays exact") {
  PERCEPTUAL_PARITY_CASE(rng);
  REQUIRE_FALSE(cuda::tf32_enabled());
  CHECK(cublas_math() == CUBLAS_DEFAULT_MATH);
  // Wide enough for TF32 tensor cores to be worth choosing; a shape of this case only.
  const int n = 2, c = 48, h = 20, w = 20, o = 48;
  const auto x = testing::random_tensor<float>({n, c, h, w}, rng);
  const auto wt = testing::random_tensor<float>({o, c, 3, 3}, rng);
  const auto cx = to_cuda(x), cw = to_cuda(wt);
  const ConvGeometry geometry = symmetric_conv_geometry(n, c, h, w, o, 3, 1, 1);
  const auto expected = cpu::conv2d_forward(x, wt, geometry);
  using cuda::detail::ConvPass;
  const auto key_of = [&] { return cuda::detail::conv_key<float>(ConvPass::forward, geometry); };

  const std::size_t before = cuda::detail::conv_plans_built();
  const cuda::detail::ConvPlan* on_plan = nullptr;
  {
    const Tf32Scope scope(true);
    CHECK(cublas_math() == CUBLAS_TF32_TENSOR_OP_MATH);
    const auto key = key_of();
    CHECK(key.math == CUDNN_DEFAULT_MATH);
    // Only float changes: bf16 always uses tensor cores, double never rounds.
    CHECK(cuda::detail::conv_key<bf16>(ConvPass::forward, geometry).math == CUDNN_TENSOR_OP_MATH);
    CHECK(cuda::detail::conv_key<double>(ConvPass::forward, geometry).math == CUDNN_FMA_MATH);
    const auto y = cuda::conv2d_forward(cx, cw, geometry);
    CHECK(cuda::detail::conv_plans_built() == before + 1);
    on_plan = &cuda::detail::conv_plan(key);
    CHECK(on_plan->descriptor_math() == on_plan->algorithm_math());
    MESSAGE("with TF32: algorithm " << on_plan->algorithm() << ", math " << on_plan->descriptor_math()
                                    << ", error against the CPU " << relative_error(expected, y));
  }
  CHECK_FALSE(cuda::tf32_enabled());
  CHECK(cublas_math() == CUBLAS_DEFAULT_MATH);
  const auto key = key_of();
  CHECK(key.math == CUDNN_FMA_MATH);
  // The same shape without TF32 is another plan, built now, never the TF32 one.
  const auto y = cuda::conv2d_forward(cx, cw, geometry);
  CHECK(cuda::detail::conv_plans_built() == before + 2);
  const cuda::detail::ConvPlan& off_plan = cuda::detail::conv_plan(key);
  CHECK(&off_plan != on_plan);
  CHECK(off_plan.descriptor_math() == CUDNN_FMA_MATH);
  CHECK(relative_error(expected, y) < parity_tolerance);
}

TEST_CASE("convolution on CUDA rejects the shapes the CPU backend rejects") {
  PERCEPTUAL_REQUIRE_DEVICE();
  const Tensor<float, Cuda> x({1, 3, 8, 8}), w({4, 2, 3, 3}), w3({4, 3, 3, 3});
  CHECK_THROWS_AS(cuda::conv2d_forward(x, w, conv_geometry(1, 3, 8, 8, 4, 3, 1, 1, 1, 8, 8)), ShapeError);
  CHECK_THROWS_AS(cuda::conv2d_forward(x, w3, conv_geometry(1, 3, 8, 8, 4, 3, 0, 1, 1, 8, 8)), ArgumentError);
  CHECK_THROWS_AS(cuda::conv2d_forward(x, w3, conv_geometry(1, 3, 8, 8, 4, 3, 1, -1, 1, 8, 8)), ArgumentError);
}

TEST_CASE("add_bias and bias_backward match the CPU backend") {
  PERCEPTUAL_PARITY_CASE(rng);
  auto y = testing::random_tensor<float>({2, 5, 7, 9}, rng);
  const auto bias = testing::random_tensor<float>({1, 5, 1, 1}, rng);
  auto cy = to_cuda(y);
  cpu::add_bias(y, bias);
  cuda::add_bias(cy, to_cuda(bias));
  CHECK(relative_error(y, cy) < parity_tolerance);
  CHECK(relative_error(cpu::bias_backward(y), cuda::bias_backward(cy)) < parity_tolerance);
  CHECK_THROWS_AS(cuda::add_bias(cy, Tensor<float, Cuda>({1, 4, 1, 1})), ShapeError);
}

TEST_CASE("bias_backward over planes of many chunks matches the CPU backend, the same bits every run") {
  PERCEPTUAL_PARITY_CASE(rng);
  // 301 x 257 = 77357 values a plane: 19 chunks of 4096, the last partial; 3 samples: 57 parts.
  const auto dy = testing::random_tensor<float>({3, 6, 301, 257}, rng, -1, 2);
  const auto cdy = to_cuda(dy);
  const auto db = cuda::bias_backward(cdy);
  CHECK(relative_error(cpu::bias_backward(dy), db) < parity_tolerance);
  CHECK(cuda::bias_backward(cdy).to_host() == db.to_host());
}

TEST_CASE("reflect_pad and reflect_pad_backward match the CPU backend, asymmetric padding included") {
  PERCEPTUAL_PARITY_CASE(rng);
  const int pads[][4] = {{1, 1, 1, 1}, {4, 4, 4, 4}, {0, 2, 3, 1}, {5, 0, 0, 6}};
  for (const auto& p : pads) {
    INFO("pad top " << p[0] << ", bottom " << p[1] << ", left " << p[2] << ", right " << p[3]);
    const auto x = testing::random_tensor<float>({2, 3, 6, 7}, rng);
    const auto dy = testing::random_tensor<float>({2, 3, 6 + p[0] + p[1], 7 + p[2] + p[3]}, rng);
    CHECK(relative_error(cpu::reflect_pad(x, p[0], p[1], p[2], p[3]),
                         cuda::reflect_pad(to_cuda(x), p[0], p[1], p[2], p[3])) < parity_tolerance);
    CHECK(relative_error(cpu::reflect_pad_backward(dy, p[0], p[1], p[2], p[3]),
                         cuda::reflect_pad_backward(to_cuda(dy), p[0], p[1], p[2], p[3])) < parity_tolerance);
  }
  CHECK_THROWS_AS(cuda::reflect_pad(Tensor<float, Cuda>({1, 1, 3, 3}), 3, 0, 0, 0), ShapeError);
}
