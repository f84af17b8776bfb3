#include "perceptual/layers/norm.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/backend/cuda/bf16.hpp"
#include "perceptual/dist/sync_batch_norm.hpp"
#include "support/gradcheck.hpp"
#include "support/mirror_ranks.hpp"

using namespace perceptual;
using namespace perceptual::layers;

static_assert(concepts::layer<InstanceNorm<3>>);
static_assert(concepts::layer<InstanceNorm<3, Eps<1e-3>, NoAffine>>);
static_assert(concepts::layer<BatchNorm<3, Momentum<0.01>>>);
static_assert(InstanceNorm<3>::eps == 1e-5 && InstanceNorm<3, Eps<1e-3>>::eps == 1e-3);
static_assert(BatchNorm<3>::momentum == 0.1 && BatchNorm<3, Eps<1e-3>, Momentum<0.3>>::momentum == 0.3);
static_assert(InstanceNorm<3>::affine && !InstanceNorm<3, NoAffine>::affine);
static_assert(InstanceNorm<8>::output_size({5, 7}) == Size2{5, 7});
static_assert(BatchNorm<8>::output_size({5, 7}) == Size2{5, 7});
// Statistics saved for backward are at least float: a bf16 mean would shift backward's x_hat by
// a visible part of the spread (tests/cuda/norm_test.cpp shows how far).
static_assert(std::is_same_v<layers::detail::norm_statistic_t<bf16>, float>);
static_assert(std::is_same_v<layers::detail::norm_statistic_t<float>, float>);
static_assert(std::is_same_v<layers::detail::norm_statistic_t<double>, double>);

namespace {

template <class T>
Tensor<T, Cpu> host(Shape4 shape, std::vector<T> values) {
  return Tensor<T, Cpu>::from_host(shape, values);
}

// The parameter of `model` called `name` (weight, bias, running_mean, running_var).
template <class M>
auto& parameter(M& model, const std::string& name) {
  for (auto& p : model.parameters())
    if (p.name == name) return *p.value;
  FAIL("no parameter " << name);
  throw Error("unreachable");
}

}  // namespace

TEST_CASE("InstanceNorm normalises each sample's channel over H and W with the biased variance") {
  Model<InstanceNorm<2>, Cpu, double> m;
  // Sample 0: channel 0 has mean 2.5 and variance 1.25; channel 1 is constant.
  // Sample 1: channel 0 has mean 1 and variance 1; channel 1 has mean -10 and variance 4.
  const auto x = host<double>({2, 2, 2, 2}, {1, 2, 3, 4, 7, 7, 7, 7, 0, 2, 0, 2, -12, -8, -12, -8});
  const auto y = m.forward(x).to_host();
  const double s = 1 / std::sqrt(1.25 + 1e-5);
  CHECK(y[0] == doctest::Approx(-1.5 * s));
  CHECK(y[1] == doctest::Approx(-0.5 * s));
  CHECK(y[2] == doctest::Approx(0.5 * s));
  CHECK(y[3] == doctest::Approx(1.5 * s));
  CHECK(y[0] == doctest::Approx(-1.341635).epsilon(1e-6));
  for (int i = 4; i < 8; ++i) CHECK(y[i] == 0.0);  // constant: x - mean = 0, whatever eps
  for (int i = 8; i < 12; ++i) CHECK(y[i] == doctest::Approx(i % 2 ? 0.999995 : -0.999995).epsilon(1e-6));
  for (int i = 12; i < 16; ++i) CHECK(y[i] == doctest::Approx(i % 2 ? 0.9999988 : -0.9999988).epsilon(1e-6));
}

TEST_CASE("InstanceNorm scales and shifts each channel by its weight and bias") {
  Model<InstanceNorm<2>, Cpu, double> m;
  parameter(m, "weight") = host<double>({1, 2, 1, 1}, {2, -1});
  parameter(m, "bias") = host<double>({1, 2, 1, 1}, {10, 5});
  const auto y = m.forward(host<double>({1, 2, 1, 2}, {0, 2, 3, 3})).to_host();
  CHECK(y[0] == doctest::Approx(10 - 2 / std::sqrt(1 + 1e-5)));
  CHECK(y[1] == doctest::Approx(10 + 2 / std::sqrt(1 + 1e-5)));
  CHECK(y[2] == 5.0);
  CHECK(y[3] == 5.0);
}

TEST_CASE("InstanceNorm's epsilon matters for low-variance planes, as TensorFlow-trained nets need Eps<1e-3>") {
  // Mean 0.01, variance 1e-4: y = +-0.01 / sqrt(1e-4 + eps).
  const auto x = host<double>({1, 1, 2, 2}, {0, 0.02, 0, 0.02});
  Model<InstanceNorm<1>, Cpu, double> pytorch;
  Model<InstanceNorm<1, Eps<1e-3>>, Cpu, double> tensorflow;
  const auto a = pytorch.forward(x).to_host();
  const auto b = tensorflow.forward(x).to_host();
  CHECK(a[1] == doctest::Approx(1 / std::sqrt(1.1)));   // 0.9535
  CHECK(b[1] == doctest::Approx(1 / std::sqrt(11.0)));  // 0.3015
  CHECK(a[0] == doctest::Approx(-a[1]));
  CHECK(b[0] == doctest::Approx(-b[1]));
}

TEST_CASE("InstanceNorm behaves the same in training and evaluation, in float as in double") {
  std::mt19937_64 rng(testing::test_seed());
  const auto x = testing::random_tensor<float>({2, 3, 4, 5}, rng, 0, 255);
  Model<InstanceNorm<3, Eps<1e-3>>, Cpu> m;
  const auto train = m.train().forward(x).to_host();
  const auto eval = m.eval().forward(x).to_host();
  CHECK(train == eval);
  // Pixel-scale inputs (mean ~128) still give zero mean and unit variance per plane.
  for (int plane = 0; plane < 6; ++plane) {
    double sum = 0, squares = 0;
    for (int i = 0; i < 20; ++i) sum += train[plane * 20 + i];
    for (int i = 0; i < 20; ++i) squares += train[plane * 20 + i] * train[plane * 20 + i];
    CHECK(sum / 20 == doctest::Approx(0).epsilon(1e-5).scale(1));
    CHECK(squares / 20 == doctest::Approx(1).epsilon(1e-4));
  }
}

TEST_CASE("BatchNorm uses the batch's statistics in training and updates the running ones with momentum 0.1") {
  Model<BatchNorm<2>, Cpu, double> m;
  // Channel 0 over the batch: {1, 3, 5, 7}, mean 4, biased variance 5, unbiased 20/3.
  // Channel 1 over the batch: {2, 2, 2, 2}, mean 2, variance 0.
  const auto x = host<double>({2, 2, 1, 2}, {1, 3, 2, 2, 5, 7, 2, 2});
  const auto y = m.train().forward(x).to_host();
  const double s = 1 / std::sqrt(5 + 1e-5);
  CHECK(y[0] == doctest::Approx(-3 * s));
  CHECK(y[1] == doctest::Approx(-1 * s));
  CHECK(y[4] == doctest::Approx(1 * s));
  CHECK(y[5] == doctest::Approx(3 * s));
  CHECK(y[2] == 0.0);
  CHECK(y[7] == 0.0);

  const auto mean = parameter(m, "running_mean").to_host();
  const auto var = parameter(m, "running_var").to_host();
  CHECK(mean[0] == doctest::Approx(0.4));                    // 0.9 * 0 + 0.1 * 4
  CHECK(mean[1] == doctest::Approx(0.2));                    // 0.9 * 0 + 0.1 * 2
  CHECK(var[0] == doctest::Approx(0.9 + 0.1 * 20.0 / 3.0));  // the unbiased variance
  CHECK(var[1] == doctest::Approx(0.9));

  // Evaluation normalises with the running statistics instead, and does not update them.
  const auto z = m.eval().forward(x).to_host();
  CHECK(z[0] == doctest::Approx((1 - 0.4) / std::sqrt(0.9 + 0.1 * 20.0 / 3.0 + 1e-5)));
  CHECK(z[5] == doctest::Approx((7 - 0.4) / std::sqrt(0.9 + 0.1 * 20.0 / 3.0 + 1e-5)));
  CHECK(z[2] == doctest::Approx((2 - 0.2) / std::sqrt(0.9 + 1e-5)));
  CHECK(parameter(m, "running_mean").to_host() == mean);
  CHECK(parameter(m, "running_var").to_host() == var);
}

TEST_CASE("BatchNorm starts as the identity in evaluation: running mean 0, variance 1, weight 1, bias 0") {
  Model<BatchNorm<1, Eps<1e-3>, Momentum<0.5>>, Cpu, double> m;
  const auto y = m.eval().forward(host<double>({1, 1, 1, 3}, {-2, 0, 3})).to_host();
  const double s = 1 / std::sqrt(1 + 1e-3);
  CHECK(y[0] == doctest::Approx(-2 * s));
  CHECK(y[1] == 0.0);
  CHECK(y[2] == doctest::Approx(3 * s));

  m.train().forward(host<double>({1, 1, 1, 2}, {2, 4}));  // mean 3, unbiased variance 2
  CHECK(parameter(m, "running_mean").to_host()[0] == doctest::Approx(1.5));
  CHECK(parameter(m, "running_var").to_host()[0] == doctest::Approx(1.5));
}

TEST_CASE("BatchNorm in training refuses a single value per channel") {
  Model<BatchNorm<2>, Cpu> m;
  CHECK_THROWS_WITH_AS(m.forward(Tensor<float, Cpu>({1, 2, 1, 1})), doctest::Contains("BatchNorm<2>"), ShapeError);
  CHECK_NOTHROW(m.eval().forward(Tensor<float, Cpu>({1, 2, 1, 1})));
}

TEST_CASE("normalisation layers name their parameters as PyTorch does, running statistics as state") {
  Model<InstanceNorm<4>, Cpu> in;
  const auto p = in.parameters();
  REQUIRE(p.size() == 2);
  CHECK(p[0].name == "weight");
  CHECK(p[1].name == "bias");
  CHECK(p[0].value->to_host() == std::vector<float>(4, 1.0f));
  CHECK(p[1].value->to_host() == std::vector<float>(4, 0.0f));
  CHECK((p[0].learnable() && p[1].learnable()));

  Model<InstanceNorm<4, NoAffine>, Cpu> plain;
  CHECK(plain.parameters().empty());

  Model<BatchNorm<4>, Cpu> bn;
  const auto q = bn.parameters();
  REQUIRE(q.size() == 4);
  CHECK(q[0].name == "weight");
  CHECK(q[1].name == "bias");
  CHECK(q[2].name == "running_mean");
  CHECK(q[3].name == "running_var");
  CHECK((q[0].learnable() && q[1].learnable()));
  CHECK((!q[2].learnable() && !q[3].learnable()));
  CHECK(q[2].value->to_host() == std::vector<float>(4, 0.0f));
  CHECK(q[3].value->to_host() == std::vector<float>(4, 1.0f));
  CHECK(Model<BatchNorm<4, NoAffine>, Cpu>().parameters().size() == 2);
}

TEST_CASE("normalisation layers name themselves with their channels and options") {
  CHECK(InstanceNorm<64>::name() == "InstanceNorm<64>");
  CHECK(InstanceNorm<64, Eps<1e-3>>::name() == "InstanceNorm<64,Eps<0.001>>");
  CHECK(InstanceNorm<3, NoAffine>::name() == "InstanceNorm<3,NoAffine>");
  CHECK(BatchNorm<32>::name() == "BatchNorm<32>");
  CHECK(BatchNorm<32, Momentum<0.01>>::name() == "BatchNorm<32,Momentum<0.01>>");
}

TEST_CASE("a wrong channel count is a ShapeError naming the layer and both sizes") {
  Model<InstanceNorm<3>, Cpu> in;
  CHECK_THROWS_WITH_AS(in.forward(Tensor<float, Cpu>({1, 4, 2, 2})),
                       "InstanceNorm<3>: input 1x4x2x2, expected 3 channels", ShapeError);
  Model<BatchNorm<8>, Cpu> bn;
  CHECK_THROWS_WITH_AS(bn.forward(Tensor<float, Cpu>({2, 3, 2, 2})), doctest::Contains("BatchNorm<8>"), ShapeError);
}

TEST_CASE("backward checks that a forward came first and that the gradient has the output's shape") {
  Model<InstanceNorm<2>, Cpu> in;
  CHECK_THROWS_AS(in.backward(Tensor<float, Cpu>({1, 2, 2, 2})), Error);
  in.forward(Tensor<float, Cpu>({1, 2, 2, 2}));
  CHECK_THROWS_AS(in.backward(Tensor<float, Cpu>({1, 2, 2, 3})), ShapeError);
  Model<BatchNorm<2>, Cpu> bn;
  CHECK_THROWS_AS(bn.backward(Tensor<float, Cpu>({1, 2, 2, 2})), Error);
}

TEST_CASE("parameter gradients accumulate across backward passes and stay zero when frozen") {
  std::mt19937_64 rng(testing::test_seed());
  const auto x = testing::random_tensor<double>({2, 3, 3, 3}, rng);
  const auto dy = testing::random_tensor<double>({2, 3, 3, 3}, rng);
  Model<BatchNorm<3>, Cpu, double> m;
  m.zero_grad();
  m.forward(x);
  const auto dx = m.backward(dy).to_host();
  const auto once = m.parameters()[0].grad->to_host();
  m.forward(x);
  m.backward(dy);
  const auto twice = m.parameters()[0].grad->to_host();
  for (int c = 0; c < 3; ++c) CHECK(twice[c] == doctest::Approx(2 * once[c]));

  Model<InstanceNorm<3>, Cpu, double> frozen;
  frozen.zero_grad();
  frozen.set_trainable(false);
  frozen.forward(x);
  CHECK(frozen.backward(dy).to_host() != std::vector<double>(x.size(), 0.0));
  for (const auto& p : frozen.parameters()) CHECK(p.grad->to_host() == std::vector<double>(3, 0.0));
  CHECK(dx != std::vector<double>(x.size(), 0.0));
}

TEST_CASE("InstanceNorm gradients match finite differences, with the default and TensorFlow's epsilon") {
  testing::check_gradients<InstanceNorm<3>>({2, 3, 3, 4});
  testing::check_gradients<InstanceNorm<3, Eps<1e-3>>>({2, 3, 3, 4});
  testing::check_gradients<InstanceNorm<2, NoAffine>>({1, 2, 4, 3});
}

TEST_CASE("BatchNorm gradients match finite differences in training and in evaluation") {
  testing::check_gradients<BatchNorm<3>>({3, 3, 2, 3});
  testing::check_gradients<BatchNorm<3>>({3, 3, 2, 3}, {.train_mode = false});
  testing::check_gradients<BatchNorm<2, Eps<1e-3>>>({4, 2, 1, 1});
}

// Synchronised batch norm (dist/sync_batch_norm.hpp) with two ranks that hold the same shard: the
// global batch is the shard twice, which has the shard's mean and biased variance, so the output,
// dx and the shard's sums are one process's; the running variance's unbiased correction counts
// both copies. The MPI tests (tests/dist/mpi_test.cpp) take unequal shards on two real ranks.
TEST_CASE("BatchNorm under SyncBatchNorm: two ranks with the same shard give one process's values") {
  std::mt19937_64 rng(testing::test_seed());
  const Shape4 shape{3, 2, 2, 3};
  const auto x = testing::random_tensor<double>(shape, rng, -2, 5);
  const auto dy = testing::random_tensor<double>(shape, rng);
  const auto gamma = testing::random_tensor<double>({1, 2, 1, 1}, rng, 0.5, 2);
  const auto beta = testing::random_tensor<double>({1, 2, 1, 1}, rng);
  Model<BatchNorm<2>, Cpu, double> alone, synced;
  for (auto* m : {&alone, &synced}) {
    parameter(*m, "weight") = gamma;
    parameter(*m, "bias") = beta;
    m->zero_grad();
  }
  const NormEpilogue<double, Cpu> relu{.relu = true};
  const auto y = alone.module().forward(x, relu).to_host();
  const auto dx = alone.backward(dy).to_host();
  testing::MirrorRanks two;
  std::vector<double> y2, dx2;
  {
    const dist::SyncBatchNorm sync(two);
    y2 = synced.module().forward(x, relu).to_host();
    dx2 = synced.backward(dy).to_host();
  }
  const auto close = [](const std::vector<double>& a, const std::vector<double>& b) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(b[i]).epsilon(1e-12).scale(1));
  };
  close(y2, y);
  close(dx2, dx);
  for (const auto* name : {"weight", "bias"}) {
    INFO(name);
    const auto grad = [&](auto& m) {
      for (auto& p : m.parameters())
        if (p.name == name) return p.grad->to_host();
      return std::vector<double>{};
    };
    close(grad(synced), grad(alone));  // this shard's sums, for combine_gradients to weight
  }
  close(parameter(synced, "running_mean").to_host(), parameter(alone, "running_mean").to_host());
  // running_var = 0.9 + 0.1 * var * m / (m - 1), of 18 values per channel alone and 36 synchronised.
  const auto var_alone = parameter(alone, "running_var").to_host(),
             var_synced = parameter(synced, "running_var").to_host();
  for (int c = 0; c < 2; ++c) {
    const double variance = (var_alone[c] - 0.9) / 0.1 * 17 / 18;
    CHECK(var_synced[c] == doctest::Approx(0.9 + 0.1 * variance * 36 / 35).epsilon(1e-12));
  }

  // One rank, or no scope: batch norm as ever (the same bits as a layer never synchronised).
  Model<BatchNorm<2>, Cpu, double> one;
  parameter(one, "weight") = gamma;
  parameter(one, "bias") = beta;
  {
    const dist::SyncBatchNorm sync(dist::alone());
    CHECK(one.module().forward(x, relu).to_host() == y);
  }
}

TEST_CASE("BatchNorm under SyncBatchNorm: gradients match finite differences") {
  testing::MirrorRanks two;
  const dist::SyncBatchNorm sync(two);
  testing::check_gradients<BatchNorm<3>>({3, 3, 2, 3});
  testing::check_gradients<BatchNorm<2, Eps<1e-3>>>({2, 2, 1, 2});
}
