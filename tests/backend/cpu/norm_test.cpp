#include "perceptual/backend/cpu/norm.hpp"

#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "perceptual/backend/cpu/activation.hpp"
#include "perceptual/backend/cpu/pointwise.hpp"
#include "support/random.hpp"

using namespace perceptual;
using namespace perceptual::cpu;

namespace {

using T = float;
using TensorT = Tensor<T, Cpu>;

// relu(y) where `relu`, then + residual where not null: the epilogue as separate operations.
TensorT apart(TensorT y, bool relu, const TensorT* residual) {
  if (relu) y = relu_forward(y);
  if (residual) axpy(y, T(1), *residual);
  return y;
}

struct Case {
  bool relu;
  bool residual;
};
const std::vector<Case> cases{{false, false}, {true, false}, {false, true}, {true, true}};

}  // namespace

// Large enough (3 x 5 x 96 x 96) for the groups to run on several threads.
TEST_CASE("the norms apply their epilogue (ReLU, residual add) in their own pass, in place or not, bit for bit") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  const Shape4 shape{3, 5, 96, 96};
  const TensorT x = testing::random_tensor<T>(shape, rng, -3, 5);
  const TensorT r = testing::random_tensor<T>(shape, rng);
  const TensorT w = testing::random_tensor<T>({1, 5, 1, 1}, rng, 0.5, 2);
  const TensorT b = testing::random_tensor<T>({1, 5, 1, 1}, rng);
  const TensorT running_mean = testing::random_tensor<T>({1, 5, 1, 1}, rng);
  const TensorT running_var = testing::random_tensor<T>({1, 5, 1, 1}, rng, 0.5, 2);
  for (const Case c : cases) {
    INFO("relu " << c.relu << ", residual " << c.residual);
    const NormEpilogue<T, Cpu> e{c.relu, c.residual ? &r : nullptr};
    TensorT mean, inv_std, mean2, inv_std2;
    {
      const TensorT expected = apart(instance_norm_forward(x, w, b, 1e-5, mean, inv_std), c.relu, e.residual);
      TensorT y(shape);
      instance_norm_forward(x, w, b, 1e-5, mean2, inv_std2, y, e);
      CHECK(y.to_host() == expected.to_host());
      CHECK(mean2.to_host() == mean.to_host());
      CHECK(inv_std2.to_host() == inv_std.to_host());
      TensorT in_place = x;
      instance_norm_forward(in_place, w, b, 1e-5, mean2, inv_std2, in_place, e);
      CHECK(in_place.to_host() == expected.to_host());
    }
    {
      TensorT rm = running_mean, rv = running_var, rm2 = running_mean, rv2 = running_var;
      const TensorT expected =
          apart(batch_norm_forward_training(x, w, b, 1e-5, 0.1, rm, rv, mean, inv_std), c.relu, e.residual);
      TensorT y = x;
      batch_norm_forward_training(y, w, b, 1e-5, 0.1, rm2, rv2, mean2, inv_std2, y, e);
      CHECK(y.to_host() == expected.to_host());
      CHECK(rm2.to_host() == rm.to_host());
      CHECK(rv2.to_host() == rv.to_host());
    }
    {
      const TensorT expected =
          apart(batch_norm_forward_inference(x, w, b, running_mean, running_var, 1e-3), c.relu, e.residual);
      TensorT y = x;
      batch_norm_forward_inference(y, w, b, running_mean, running_var, 1e-3, y, e);
      CHECK(y.to_host() == expected.to_host());
    }
  }
}

TEST_CASE("a norm's output or residual of another shape is a ShapeError") {
  const TensorT x({1, 2, 3, 3}), w({1, 2, 1, 1}), b({1, 2, 1, 1}), small({1, 2, 3, 2});
  TensorT mean, inv_std, y(x.shape()), wrong(small.shape());
  CHECK_THROWS_AS(instance_norm_forward(x, w, b, 1e-5, mean, inv_std, wrong, {}), ShapeError);
  CHECK_THROWS_AS(instance_norm_forward(x, w, b, 1e-5, mean, inv_std, y, {false, &small}), ShapeError);
  CHECK_THROWS_AS(batch_norm_forward_inference(x, w, b, w, w, 1e-5, y, {true, &small}), ShapeError);
}
