// CPU/CUDA parity of instance and batch normalisation: outputs, saved and running statistics,
// input and parameter gradients (added into existing ones, or skipped when frozen).
#include <doctest/doctest.h>

#include <random>

#include "cuda/support.hpp"

using namespace perceptual;
using testing::parity_tolerance;
using testing::relative_error;
using testing::to_cpu;
using testing::to_cuda;

TEST_CASE("instance_norm forward and backward match the CPU backend, pixel-valued inputs included") {
  PERCEPTUAL_PARITY_CASE(rng);
  for (double lo : {-1.0, 0.0}) {
    const double hi = lo == 0 ? 255 : 1;  // [0, 255]: a large mean, where one-pass variance fails
    INFO("inputs in [" << lo << ", " << hi << "]");
    const Shape4 s{3, 4, 13, 17};
    const auto x = testing::random_tensor<float>(s, rng, lo, hi);
    const auto dy = testing::random_tensor<float>(s, rng);
    const auto w = testing::random_tensor<float>({1, 4, 1, 1}, rng, 0.5, 1.5);
    const auto b = testing::random_tensor<float>({1, 4, 1, 1}, rng);
    auto dw = testing::random_tensor<float>({1, 4, 1, 1}, rng), db = testing::random_tensor<float>({1, 4, 1, 1}, rng);
    auto cdw = to_cuda(dw), cdb = to_cuda(db);
    const auto cx = to_cuda(x), cw = to_cuda(w);
    Tensor<float, Cpu> mean, inv_std;
    Tensor<float, Cuda> cmean, cinv_std;
    const auto y = cpu::instance_norm_forward(x, w, b, 1e-5, mean, inv_std);
    const auto cy = cuda::instance_norm_forward(cx, cw, to_cuda(b), 1e-5, cmean, cinv_std);
    CHECK(relative_error(y, cy) < parity_tolerance);
    CHECK(relative_error(mean, cmean) < parity_tolerance);
    CHECK(relative_error(inv_std, cinv_std) < parity_tolerance);
    const auto dx = cpu::instance_norm_backward(x, dy, w, mean, inv_std, &dw, &db);
    const auto cdx = cuda::instance_norm_backward(cx, to_cuda(dy), cw, cmean, cinv_std, &cdw, &cdb);
    CHECK(relative_error(dx, cdx) < parity_tolerance);
    CHECK(relative_error(dw, cdw) < parity_tolerance);
    CHECK(relative_error(db, cdb) < parity_tolerance);
    // Frozen: no parameter gradients, the same dx.
    CHECK(relative_error(dx, cuda::instance_norm_backward(
                                 cx, to_cuda(dy), cw, cmean, cinv_std, static_cast<Tensor<float, Cuda>*>(nullptr),
                                 static_cast<Tensor<float, Cuda>*>(nullptr))) < parity_tolerance);
  }
}

TEST_CASE("batch_norm in training matches the CPU backend: output, statistics, running statistics, gradients") {
  PERCEPTUAL_PARITY_CASE(rng);
  const Shape4 s{4, 5, 9, 6};
  const auto x = testing::random_tensor<float>(s, rng, -2, 3);
  const auto dy = testing::random_tensor<float>(s, rng);
  const auto w = testing::random_tensor<float>({1, 5, 1, 1}, rng, 0.5, 1.5);
  const auto b = testing::random_tensor<float>({1, 5, 1, 1}, rng);
  auto rm = testing::random_tensor<float>({1, 5, 1, 1}, rng);
  auto rv = testing::random_tensor<float>({1, 5, 1, 1}, rng, 0.5, 2);
  auto crm = to_cuda(rm), crv = to_cuda(rv);
  Tensor<float, Cpu> mean, inv_std;
  Tensor<float, Cuda> cmean, cinv_std;
  const auto cx = to_cuda(x), cw = to_cuda(w);
  const auto y = cpu::batch_norm_forward_training(x, w, b, 1e-5, 0.1, rm, rv, mean, inv_std);
  const auto cy = cuda::batch_norm_forward_training(cx, cw, to_cuda(b), 1e-5, 0.1, crm, crv, cmean, cinv_std);
  CHECK(relative_error(y, cy) < parity_tolerance);
  CHECK(relative_error(mean, cmean) < parity_tolerance);
  CHECK(relative_error(inv_std, cinv_std) < parity_tolerance);
  CHECK(relative_error(rm, crm) < parity_tolerance);
  CHECK(relative_error(rv, crv) < parity_tolerance);
  Tensor<float, Cpu> dw({1, 5, 1, 1}), db({1, 5, 1, 1});
  Tensor<float, Cuda> cdw({1, 5, 1, 1}), cdb({1, 5, 1, 1});
  const auto dx = cpu::batch_norm_backward(x, dy, w, mean, inv_std, &dw, &db);
  const auto cdx = cuda::batch_norm_backward(cx, to_cuda(dy), cw, cmean, cinv_std, &cdw, &cdb);
  CHECK(relative_error(dx, cdx) < parity_tolerance);
  CHECK(relative_error(dw, cdw) < parity_tolerance);
  CHECK(relative_error(db, cdb) < parity_tolerance);
}

TEST_CASE("batch_norm with running statistics matches the CPU backend, forward and backward") {
  PERCEPTUAL_PARITY_CASE(rng);
  const Shape4 s{2, 3, 7, 8};
  const auto x = testing::random_tensor<float>(s, rng);
  const auto dy = testing::random_tensor<float>(s, rng);
  const auto w = testing::random_tensor<float>({1, 3, 1, 1}, rng, 0.5, 1.5);
  const auto b = testing::random_tensor<float>({1, 3, 1, 1}, rng);
  const auto rm = testing::random_tensor<float>({1, 3, 1, 1}, rng);
  const auto rv = testing::random_tensor<float>({1, 3, 1, 1}, rng, 0.5, 2);
  const auto cx = to_cuda(x), cw = to_cuda(w), crm = to_cuda(rm), crv = to_cuda(rv);
  CHECK(relative_error(cpu::batch_norm_forward_inference(x, w, b, rm, rv, 1e-3),
                       cuda::batch_norm_forward_inference(cx, cw, to_cuda(b), crm, crv, 1e-3)) < parity_tolerance);
  Tensor<float, Cpu> dw({1, 3, 1, 1}), db({1, 3, 1, 1});
  Tensor<float, Cuda> cdw({1, 3, 1, 1}), cdb({1, 3, 1, 1});
  const auto dx = cpu::batch_norm_backward_inference(x, dy, w, rm, rv, 1e-3, &dw, &db);
  const auto cdx = cuda::batch_norm_backward_inference(cx, to_cuda(dy), cw, crm, crv, 1e-3, &cdw, &cdb);
  CHECK(relative_error(dx, cdx) < parity_tolerance);
  CHECK(relative_error(dw, cdw) < parity_tolerance);
  CHECK(relative_error(db, cdb) < parity_tolerance);
}
