// CPU/CUDA parity of instance and batch normalisation: outputs, saved and running statistics,
// input and parameter gradients (added into existing ones, or skipped when frozen), on planes
// from a few values to many chunks of a block each; bf16 with statistics saved in float; and
// results bit-identical from one run to the next; synchronised batch norm against the CPU's.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "cuda/support.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/dist/sync_batch_norm.hpp"
#include "perceptual/layers/norm.hpp"
#include "support/mirror_ranks.hpp"

using namespace perceptual;
using testing::bf16_op_tolerance;
using testing::bf16_rounded;
using testing::norm_relative_error;
using testing::parity_tolerance;
using testing::relative_error;
using testing::to_cpu;
using testing::to_cuda;

namespace {

// Shapes whose groups span many of the kernels' 4096-value chunks, whose chunks cross planes
// (batch norm), and many planes smaller than a block: planes whose size is a multiple of 4 take
// the packed apply pass (16 bytes per access in float), the others one value at a time.
const std::vector<Shape4> instance_shapes = {
    {3, 4, 13, 17},    // the small case the tests began with
    {1, 3, 257, 263},  // 17 chunks, the last one partial; odd planes: one value per access
    {2, 2, 512, 512},  // 64 chunks per plane, packed
    {16, 24, 6, 6},    // 384 planes of 36 values, packed
    {32, 16, 3, 3},    // 512 planes of 9 values
};
const std::vector<Shape4> batch_shapes = {
    {4, 5, 9, 6},      // the small case the tests began with
    {2, 3, 257, 263},  // 34 chunks per channel, one across the two samples' planes
    {1, 2, 512, 512},  // one sample: all of a channel's chunks in one plane
    {3, 1, 600, 601},  // 265 chunks: more than a merging block's 256 threads
    {64, 5, 4, 4},     // planes of 16 values: each thread's steps cross several planes
    {24, 3, 5, 7},     // planes of 35 values
};

// Values drawn from N(mean, sd).
Tensor<float, Cpu> normal_tensor(Shape4 s, std::mt19937_64& rng, double mean, double sd) {
  std::normal_distribution<double> dist(mean, sd);
  std::vector<float> v(s.size());
  for (auto& e : v) e = static_cast<float>(dist(rng));
  return Tensor<float, Cpu>::from_host(s, v);
}

// Instance norm on both backends, inputs uniform in [lo, hi]: forward, backward with gradients
// added into random ones, and backward with the parameters frozen.
void check_instance_norm(Shape4 s, std::mt19937_64& rng, double lo, double hi) {
  INFO("input " << to_string(s) << ", values in [" << lo << ", " << hi << "]");
  const Shape4 p{1, s.c, 1, 1};
  const auto x = testing::random_tensor<float>(s, rng, lo, hi);
  const auto dy = testing::random_tensor<float>(s, rng);
  const auto w = testing::random_tensor<float>(p, rng, 0.5, 1.5);
  const auto b = testing::random_tensor<float>(p, rng);
  auto dw = testing::random_tensor<float>(p, rng), db = testing::random_tensor<float>(p, rng);
  auto cdw = to_cuda(dw), cdb = to_cuda(db);
  const auto cx = to_cuda(x), cdy = to_cuda(dy), cw = to_cuda(w);
  Tensor<float, Cpu> mean, inv_std;
  Tensor<float, Cuda> cmean, cinv_std;
  const auto y = cpu::instance_norm_forward(x, w, b, 1e-5, mean, inv_std);
  const auto cy = cuda::instance_norm_forward(cx, cw, to_cuda(b), 1e-5, cmean, cinv_std);
  CHECK(relative_error(y, cy) < parity_tolerance);
  CHECK(relative_error(mean, cmean) < parity_tolerance);
  CHECK(relative_error(inv_std, cinv_std) < parity_tolerance);
  const auto dx = cpu::instance_norm_backward(x, dy, w, mean, inv_std, &dw, &db);
  const auto cdx = cuda::instance_norm_backward(cx, cdy, cw, cmean, cinv_std, &cdw, &cdb);
  CHECK(relative_error(dx, cdx) < parity_tolerance);
  CHECK(relative_error(dw, cdw) < parity_tolerance);
  CHECK(relative_error(db, cdb) < parity_tolerance);
  // Frozen: no parameter gradients, the same dx.
  CHECK(relative_error(
            dx, cuda::instance_norm_backward(cx, cdy, cw, cmean, cinv_std, static_cast<Tensor<float, Cuda>*>(nullptr),
                                             static_cast<Tensor<float, Cuda>*>(nullptr))) < parity_tolerance);
}

// Batch norm in training on both backends: output, saved and running statistics, gradients.
void check_batch_norm_training(Shape4 s, std::mt19937_64& rng) {
  INFO("input " << to_string(s));
  const Shape4 p{1, s.c, 1, 1};
  const auto x = testing::random_tensor<float>(s, rng, -2, 3);
  const auto dy = testing::random_tensor<float>(s, rng);
  const auto w = testing::random_tensor<float>(p, rng, 0.5, 1.5);
  const auto b = testing::random_tensor<float>(p, rng);
  auto rm = testing::random_tensor<float>(p, rng);
  auto rv = testing::random_tensor<float>(p, rng, 0.5, 2);
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
  Tensor<float, Cpu> dw(p), db(p);
  Tensor<float, Cuda> cdw(p), cdb(p);
  const auto dx = cpu::batch_norm_backward(x, dy, w, mean, inv_std, &dw, &db);
  const auto cdx = cuda::batch_norm_backward(cx, to_cuda(dy), cw, cmean, cinv_std, &cdw, &cdb);
  CHECK(relative_error(dx, cdx) < parity_tolerance);
  CHECK(relative_error(dw, cdw) < parity_tolerance);
  CHECK(relative_error(db, cdb) < parity_tolerance);
}

// Batch norm with running statistics on both backends, forward and backward, frozen included
// (which skips the reductions altogether).
void check_batch_norm_inference(Shape4 s, std::mt19937_64& rng) {
  INFO("input " << to_string(s));
  const Shape4 p{1, s.c, 1, 1};
  const auto x = testing::random_tensor<float>(s, rng);
  const auto dy = testing::random_tensor<float>(s, rng);
  const auto w = testing::random_tensor<float>(p, rng, 0.5, 1.5);
  const auto b = testing::random_tensor<float>(p, rng);
  const auto rm = testing::random_tensor<float>(p, rng);
  const auto rv = testing::random_tensor<float>(p, rng, 0.5, 2);
  const auto cx = to_cuda(x), cdy = to_cuda(dy), cw = to_cuda(w), crm = to_cuda(rm), crv = to_cuda(rv);
  CHECK(relative_error(cpu::batch_norm_forward_inference(x, w, b, rm, rv, 1e-3),
                       cuda::batch_norm_forward_inference(cx, cw, to_cuda(b), crm, crv, 1e-3)) < parity_tolerance);
  Tensor<float, Cpu> dw(p), db(p);
  Tensor<float, Cuda> cdw(p), cdb(p);
  const auto dx = cpu::batch_norm_backward_inference(x, dy, w, rm, rv, 1e-3, &dw, &db);
  const auto cdx = cuda::batch_norm_backward_inference(cx, cdy, cw, crm, crv, 1e-3, &cdw, &cdb);
  CHECK(relative_error(dx, cdx) < parity_tolerance);
  CHECK(relative_error(dw, cdw) < parity_tolerance);
  CHECK(relative_error(db, cdb) < parity_tolerance);
  CHECK(relative_error(dx, cuda::batch_norm_backward_inference(
                               cx, cdy, cw, crm, crv, 1e-3, static_cast<Tensor<float, Cuda>*>(nullptr),
                               static_cast<Tensor<float, Cuda>*>(nullptr))) < parity_tolerance);
}

// Values 100.25 + N(0, 1), rounded to bf16 (a grid of 0.5 there), with dy = 1 + N(0, 1). bf16
// holds 100 and 100.5 but nothing between, and a group's mean lies within 0.1 of 100.25 (1024
// values: three standard errors), so a bf16 mean is off by 0.15 to 0.35, about a quarter of the
// spread, and shifts backward's x_hat by as much. That adds gamma * inv_std * shift * mean(dy)
// * x_hat to dx, about 25% of dx by norm (dx is gamma * inv_std * N(0, 1)): the bf16-statistics
// check below asserts more than 10%. With float statistics the GPU's only error is bf16's
// rounding of each stored result, 2^-9 = 0.2% relative at most, under bf16_op_tolerance (1%).
struct LargeMeanInputs {
  Tensor<float, Cpu> x, dy, w, b;
};

LargeMeanInputs large_mean_inputs(Shape4 s, std::mt19937_64& rng) {
  const Shape4 p{1, s.c, 1, 1};
  return {bf16_rounded(normal_tensor(s, rng, 100.25, 1)), bf16_rounded(normal_tensor(s, rng, 1, 1)),
          bf16_rounded(testing::random_tensor<float>(p, rng, 0.5, 1.5)),
          bf16_rounded(testing::random_tensor<float>(p, rng))};
}

// Every result of one forward and backward, on the host.
struct NormRun {
  std::vector<float> y, mean, inv_std, running_mean, running_var, dx, dw, db;
};

NormRun run_instance_norm(const Tensor<float, Cuda>& x, const Tensor<float, Cuda>& dy, const Tensor<float, Cuda>& w,
                          const Tensor<float, Cuda>& b) {
  Tensor<float, Cuda> mean, inv_std, dw(w.shape()), db(w.shape());
  NormRun r;
  r.y = cuda::instance_norm_forward(x, w, b, 1e-5, mean, inv_std).to_host();
  r.dx = cuda::instance_norm_backward(x, dy, w, mean, inv_std, &dw, &db).to_host();
  r.mean = mean.to_host();
  r.inv_std = inv_std.to_host();
  r.dw = dw.to_host();
  r.db = db.to_host();
  return r;
}

NormRun run_batch_norm(const Tensor<float, Cuda>& x, const Tensor<float, Cuda>& dy, const Tensor<float, Cuda>& w,
                       const Tensor<float, Cuda>& b) {
  Tensor<float, Cuda> mean, inv_std, dw(w.shape()), db(w.shape()), running_mean(w.shape()), running_var(w.shape());
  NormRun r;
  r.y = cuda::batch_norm_forward_training(x, w, b, 1e-5, 0.1, running_mean, running_var, mean, inv_std).to_host();
  r.dx = cuda::batch_norm_backward(x, dy, w, mean, inv_std, &dw, &db).to_host();
  r.mean = mean.to_host();
  r.inv_std = inv_std.to_host();
  r.running_mean = running_mean.to_host();
  r.running_var = running_var.to_host();
  r.dw = dw.to_host();
  r.db = db.to_host();
  return r;
}

void check_identical(const NormRun& a, const NormRun& b) {
  CHECK(a.y == b.y);
  CHECK(a.mean == b.mean);
  CHECK(a.inv_std == b.inv_std);
  CHECK(a.running_mean == b.running_mean);
  CHECK(a.running_var == b.running_var);
  CHECK(a.dx == b.dx);
  CHECK(a.dw == b.dw);
  CHECK(a.db == b.db);
}

// A layer in bf16 on the device against float32 on the CPU, same parameters, large-mean inputs.
template <class Layer>
void check_bf16_layer(const char* layer, Shape4 s, std::mt19937_64& rng) {
  INFO(layer << ", input " << to_string(s));
  Model<Layer, Cpu> cpu_model;
  Model<Layer, Cuda, bf16> cuda_model;
  testing::randomize_parameters(cpu_model, rng);
  testing::round_parameters_to_bf16(cpu_model);
  testing::copy_parameters(cpu_model, cuda_model);
  const auto in = large_mean_inputs(s, rng);
  CHECK(norm_relative_error(cpu_model.forward(in.x), cuda_model.forward(to_cuda<bf16>(in.x))) < bf16_op_tolerance);
  CHECK(norm_relative_error(cpu_model.backward(in.dy), cuda_model.backward(to_cuda<bf16>(in.dy))) < bf16_op_tolerance);
  auto e = cpu_model.parameters();
  auto a = cuda_model.parameters();
  REQUIRE(e.size() == a.size());
  for (std::size_t i = 0; i < e.size(); ++i) {
    INFO(e[i].name);
    CHECK(norm_relative_error(*e[i].value, *a[i].value) < bf16_op_tolerance);  // running statistics
    if (e[i].learnable()) CHECK(norm_relative_error(*e[i].grad, *a[i].grad) < bf16_op_tolerance);
  }
}

}  // namespace

TEST_CASE("instance_norm forward and backward match the CPU backend, on planes of many chunks and many small planes") {
  PERCEPTUAL_PARITY_CASE(rng);
  for (const Shape4 s : instance_shapes) {
    check_instance_norm(s, rng, -1, 1);
    check_instance_norm(s, rng, 0, 255);  // a large mean, where one-pass variance fails
  }
}

TEST_CASE("batch_norm in training matches the CPU backend: output, statistics, running statistics, gradients") {
  PERCEPTUAL_PARITY_CASE(rng);
  for (const Shape4 s : batch_shapes) check_batch_norm_training(s, rng);
}

TEST_CASE("batch_norm with running statistics matches the CPU backend, forward and backward") {
  PERCEPTUAL_PARITY_CASE(rng);
  for (const Shape4 s : {Shape4{2, 3, 7, 8}, Shape4{2, 3, 257, 263}, Shape4{1, 2, 512, 512}})
    check_batch_norm_inference(s, rng);
}

TEST_CASE("instance and batch norm give bit-identical outputs, statistics and gradients when run twice") {
  PERCEPTUAL_PARITY_CASE(rng);
  // Values in [0, 255]: sums of large values in another order would differ in their last bits.
  for (const Shape4 s : {Shape4{2, 3, 257, 263}, Shape4{3, 1, 600, 601}}) {
    INFO("input " << to_string(s));
    const Shape4 p{1, s.c, 1, 1};
    const auto x = to_cuda(testing::random_tensor<float>(s, rng, 0, 255));
    const auto dy = to_cuda(testing::random_tensor<float>(s, rng));
    const auto w = to_cuda(testing::random_tensor<float>(p, rng, 0.5, 1.5));
    const auto b = to_cuda(testing::random_tensor<float>(p, rng));
    check_identical(run_instance_norm(x, dy, w, b), run_instance_norm(x, dy, w, b));
    check_identical(run_batch_norm(x, dy, w, b), run_batch_norm(x, dy, w, b));
  }
}

TEST_CASE("bf16 instance_norm saves its statistics in float, so gradients stay right when the mean dwarfs the spread") {
  PERCEPTUAL_PARITY_CASE(rng);
  PERCEPTUAL_REQUIRE_BF16();
  const Shape4 s{2, 3, 33, 31}, p{1, 3, 1, 1};  // 1023 values per plane: one value per access
  const auto in = large_mean_inputs(s, rng);
  Tensor<float, Cpu> mean, inv_std, dw(p), db(p);
  const auto y = cpu::instance_norm_forward(in.x, in.w, in.b, 1e-5, mean, inv_std);
  const auto dx = cpu::instance_norm_backward(in.x, in.dy, in.w, mean, inv_std, &dw, &db);
  const auto cx = to_cuda<bf16>(in.x), cdy = to_cuda<bf16>(in.dy), cw = to_cuda<bf16>(in.w), cb = to_cuda<bf16>(in.b);
  Tensor<float, Cuda> cmean, cinv_std;
  Tensor<bf16, Cuda> cdw(p), cdb(p);
  CHECK(norm_relative_error(y, cuda::instance_norm_forward(cx, cw, cb, 1e-5, cmean, cinv_std)) < bf16_op_tolerance);
  // Statistics of exactly the same values, both in float: float32 parity.
  CHECK(relative_error(mean, cmean) < parity_tolerance);
  CHECK(relative_error(inv_std, cinv_std) < parity_tolerance);
  CHECK(norm_relative_error(dx, cuda::instance_norm_backward(cx, cdy, cw, cmean, cinv_std, &cdw, &cdb)) <
        bf16_op_tolerance);
  CHECK(norm_relative_error(dw, cdw) < bf16_op_tolerance);
  CHECK(norm_relative_error(db, cdb) < bf16_op_tolerance);
  // The same backward from statistics saved in bf16, as the layers kept them before: the inputs
  // are chosen so that this is visibly wrong, else the checks above would prove nothing.
  Tensor<bf16, Cuda> bf16_mean, bf16_inv_std;
  (void)cuda::instance_norm_forward(cx, cw, cb, 1e-5, bf16_mean, bf16_inv_std);
  const double wrong = norm_relative_error(
      dx, cuda::instance_norm_backward(cx, cdy, cw, bf16_mean, bf16_inv_std, static_cast<Tensor<bf16, Cuda>*>(nullptr),
                                       static_cast<Tensor<bf16, Cuda>*>(nullptr)));
  MESSAGE("dx from bf16 statistics: norm relative error " << wrong);
  CHECK(wrong > 10 * bf16_op_tolerance);
}

TEST_CASE("bf16 batch_norm saves its statistics in float, so gradients stay right when the mean dwarfs the spread") {
  PERCEPTUAL_PARITY_CASE(rng);
  PERCEPTUAL_REQUIRE_BF16();
  const Shape4 s{4, 3, 16, 16}, p{1, 3, 1, 1};  // 1024 values per channel, planes packed 8 to an access
  const auto in = large_mean_inputs(s, rng);
  const auto rm = bf16_rounded(testing::random_tensor<float>(p, rng, 99, 101));
  const auto rv = bf16_rounded(testing::random_tensor<float>(p, rng, 0.5, 2));
  Tensor<float, Cpu> mean, inv_std, dw(p), db(p), cpu_rm = rm, cpu_rv = rv;
  const auto y = cpu::batch_norm_forward_training(in.x, in.w, in.b, 1e-5, 0.1, cpu_rm, cpu_rv, mean, inv_std);
  const auto dx = cpu::batch_norm_backward(in.x, in.dy, in.w, mean, inv_std, &dw, &db);
  const auto cx = to_cuda<bf16>(in.x), cdy = to_cuda<bf16>(in.dy), cw = to_cuda<bf16>(in.w), cb = to_cuda<bf16>(in.b);
  auto crm = to_cuda<bf16>(rm), crv = to_cuda<bf16>(rv);
  Tensor<float, Cuda> cmean, cinv_std;
  Tensor<bf16, Cuda> cdw(p), cdb(p);
  CHECK(norm_relative_error(y, cuda::batch_norm_forward_training(cx, cw, cb, 1e-5, 0.1, crm, crv, cmean, cinv_std)) <
        bf16_op_tolerance);
  CHECK(relative_error(mean, cmean) < parity_tolerance);
  CHECK(relative_error(inv_std, cinv_std) < parity_tolerance);
  CHECK(norm_relative_error(cpu_rm, crm) < bf16_op_tolerance);
  CHECK(norm_relative_error(cpu_rv, crv) < bf16_op_tolerance);
  CHECK(norm_relative_error(dx, cuda::batch_norm_backward(cx, cdy, cw, cmean, cinv_std, &cdw, &cdb)) <
        bf16_op_tolerance);
  CHECK(norm_relative_error(dw, cdw) < bf16_op_tolerance);
  CHECK(norm_relative_error(db, cdb) < bf16_op_tolerance);
  Tensor<bf16, Cuda> bf16_mean, bf16_inv_std;
  auto crm2 = to_cuda<bf16>(rm), crv2 = to_cuda<bf16>(rv);
  (void)cuda::batch_norm_forward_training(cx, cw, cb, 1e-5, 0.1, crm2, crv2, bf16_mean, bf16_inv_std);
  const double wrong = norm_relative_error(
      dx, cuda::batch_norm_backward(cx, cdy, cw, bf16_mean, bf16_inv_std, static_cast<Tensor<bf16, Cuda>*>(nullptr),
                                    static_cast<Tensor<bf16, Cuda>*>(nullptr)));
  MESSAGE("dx from bf16 statistics: norm relative error " << wrong);
  CHECK(wrong > 10 * bf16_op_tolerance);
}

TEST_CASE("InstanceNorm and BatchNorm in bf16 keep float statistics: outputs and gradients match the CPU's float32") {
  PERCEPTUAL_PARITY_CASE(rng);
  PERCEPTUAL_REQUIRE_BF16();
  check_bf16_layer<layers::InstanceNorm<3>>("InstanceNorm<3>", {2, 3, 33, 31}, rng);
  check_bf16_layer<layers::BatchNorm<3>>("BatchNorm<3>", {4, 3, 16, 16}, rng);
}

TEST_CASE("BatchNorm synchronised over two ranks matches the CPU's: output, gradients, running statistics") {
  PERCEPTUAL_PARITY_CASE(rng);
  const Shape4 s{4, 3, 16, 16};
  const auto x = testing::random_tensor<float>(s, rng, -2, 5), dy = testing::random_tensor<float>(s, rng);
  Model<layers::BatchNorm<3>, Cpu, float> on_cpu;
  Model<layers::BatchNorm<3>, Cuda, float> on_cuda;
  on_cpu.zero_grad();
  on_cuda.zero_grad();
  testing::MirrorRanks two;  // the host sums of the batch norm's statistics, as over MPI
  const dist::SyncBatchNorm sync(two);
  CHECK(relative_error(on_cpu.forward(x), on_cuda.forward(to_cuda(x))) < parity_tolerance);
  CHECK(relative_error(on_cpu.backward(dy), on_cuda.backward(to_cuda(dy))) < parity_tolerance);
  const auto p = on_cpu.parameters();
  const auto q = on_cuda.parameters();
  for (std::size_t i = 0; i < p.size(); ++i) {
    INFO(p[i].name);
    CHECK(relative_error(*p[i].value, *q[i].value) < parity_tolerance);
    if (p[i].learnable()) CHECK(relative_error(*p[i].grad, *q[i].grad) < parity_tolerance);
  }
  if (cuda::bf16_supported()) {  // the layer's type holds the global statistics: too coarse in bf16
    Model<layers::BatchNorm<3>, Cuda, bf16> coarse;
    CHECK_THROWS_WITH_AS(coarse.forward(to_cuda<bf16>(x)), doctest::Contains("bf16"), ArgumentError);
  }
}
