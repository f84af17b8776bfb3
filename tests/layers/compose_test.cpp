#include "perceptual/layers/compose.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/layers/activation.hpp"
#include "perceptual/layers/conv.hpp"
#include "perceptual/layers/norm.hpp"
#include "perceptual/layers/pool.hpp"
#include "support/gradcheck.hpp"
#include "support/random.hpp"

using namespace perceptual;
using namespace perceptual::layers;

static_assert(concepts::layer<Sequential<ReLU, ScaledTanh<>>>);
static_assert(concepts::layer<Residual<ReLU>>);
static_assert(concepts::layer<Repeat<3, ReLU>>);
static_assert(concepts::layer<Named<"act", ReLU>>);
static_assert(Sequential<ReLU>::in_channels == any_channels);

TEST_CASE("Residual adds its input to its body's output") {
  Model<Residual<ReLU>, Cpu> m;
  const std::vector<float> x{-2, 3};
  const auto y = m.forward(Tensor<float, Cpu>::from_host({1, 1, 1, 2}, x)).to_host();
  CHECK(y == std::vector<float>{-2, 6});
}

TEST_CASE("Repeat runs its element N times") {
  Model<Repeat<2, Residual<ReLU>>, Cpu> m;  // x -> x + relu(x), twice
  const std::vector<float> x{1, -1};
  const auto y = m.forward(Tensor<float, Cpu>::from_host({1, 1, 1, 2}, x)).to_host();
  CHECK(y == std::vector<float>{4, -1});
}

TEST_CASE("compositions pass gradients through every element") {
  testing::check_gradients<Sequential<ScaledTanh<>, Residual<ReLU, ScaledTanh<1.0, 0.0>>, Repeat<2, ReLU>>>(
      {2, 2, 3, 3});
}

TEST_CASE("Residual leaves alone a body output that its last layer keeps for backward (ReLU)") {
  // ReLU keeps its output by sharing it; an add in place would change that saved output and so
  // ReLU's mask. The gradients stay exact only if the residual adds into a new tensor.
  testing::check_gradients<Residual<Conv2d<2, 2, 1>, ReLU>>({2, 2, 3, 3});
}

TEST_CASE("a composition under NoGrad gives the same output, keeps nothing, and refuses backward") {
  using Net = Sequential<Conv2d<2, 3, 3, Reflect>, InstanceNorm<3>, ReLU, MaxPool2x2, Residual<ScaledTanh<1.0, 0.0>>,
                         ConvTranspose2d<3, 2, 3, Stride<2>>, BatchNorm<2>, ScaledTanh<>>;
  Model<Net, Cpu, double> m;
  m.initialize(3);
  std::mt19937_64 rng(4);
  const auto x = testing::random_tensor<double>({2, 2, 6, 6}, rng);
  const auto with_grad = m.forward(x).to_host();
  Tensor<double, Cpu> y;
  {
    NoGrad no_grad;
    y = m.forward(x);
  }
  CHECK(y.to_host() == with_grad);
  try {
    (void)m.backward(y);
    FAIL("no exception");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("NoGrad") != std::string::npos);
  }
  (void)m.forward(x);  // gradients on again: backward works
  CHECK(m.backward(y).shape() == x.shape());
}

TEST_CASE("a layer keeps its tensors by sharing them, and under NoGrad not at all") {
  Model<Sequential<Conv2d<1, 2, 3>, ReLU>, Cpu> m;
  const Tensor<float, Cpu> x({1, 1, 4, 4});
  CHECK(m.forward(x).is_shared());  // ReLU holds its output for backward: no copy
  CHECK(x.is_shared());             // and the convolution its input
  NoGrad no_grad;
  CHECK_FALSE(m.forward(x).is_shared());
  CHECK_FALSE(x.is_shared());  // the earlier forward's saved input is dropped too
}

namespace {

// A ReLU that counts how it was run: its own forward, or an output kept for it by the layer
// before (a normalisation that applied it in its own pass).
struct CountingReLU {
  static constexpr int in_channels = any_channels;
  static constexpr int out_channels = any_channels;
  static constexpr Size2 output_size(Size2 s) { return s; }
  static std::string name() { return "CountingReLU"; }
  static inline int forwards = 0, kept = 0;

  template <class B, class T>
  class impl : public ReLU::impl<B, T> {
   public:
    Tensor<T, B> forward(const Tensor<T, B>& x) {
      ++forwards;
      return ReLU::impl<B, T>::forward(x);
    }
    void keep_output(const Tensor<T, B>& y) {
      ++kept;
      ReLU::impl<B, T>::keep_output(y);
    }
  };
};

}  // namespace

TEST_CASE("Sequential runs a normalisation and the ReLU after it in one pass, the ReLU keeping its output") {
  CountingReLU::forwards = CountingReLU::kept = 0;
  Model<Sequential<Conv2d<2, 3, 3>, InstanceNorm<3>, CountingReLU, Conv2d<3, 3, 1>, CountingReLU>, Cpu> m;
  m.initialize(1);
  std::mt19937_64 rng(2);
  const auto x = testing::random_tensor<float>({2, 2, 5, 5}, rng);
  const auto y = m.forward(x);
  CHECK(CountingReLU::kept == 1);      // after the norm: fused
  CHECK(CountingReLU::forwards == 1);  // after the convolution: run on its own
  CHECK(m.backward(y).shape() == x.shape());
}

TEST_CASE("fused normalisations give what the layers give one by one, with gradients, in every mode") {
  using Block = Residual<Conv2d<3, 3, 3, Reflect>, InstanceNorm<3>, ReLU, Conv2d<3, 3, 3, Reflect>, InstanceNorm<3>>;
  using Net = Sequential<Conv2d<2, 3, 3, Reflect>, BatchNorm<3>, ReLU, Block>;
  Model<Net, Cpu, double> fused;
  // The same layers one by one, each on its own, so that nothing is fused.
  Model<Conv2d<2, 3, 3, Reflect>, Cpu, double> c1;
  Model<BatchNorm<3>, Cpu, double> n1;
  Model<Conv2d<3, 3, 3, Reflect>, Cpu, double> c2, c3;
  Model<InstanceNorm<3>, Cpu, double> n2, n3;
  Model<ReLU, Cpu, double> r1, r2;
  auto parameters = fused.parameters();
  const auto seed = testing::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (auto& p : parameters) testing::randomize(*p.value, rng, 0.5, 1.5);
  std::size_t i = 0;  // fused's parameters in order: c1's, n1's (running statistics too), then the block's
  const auto copy_into = [&](auto& model) {
    for (auto& p : model.parameters()) *p.value = *parameters[i++].value;
  };
  copy_into(c1);
  copy_into(n1);
  copy_into(c2);
  copy_into(n2);
  copy_into(c3);
  copy_into(n3);
  REQUIRE(i == parameters.size());
  const auto x = testing::random_tensor<double>({2, 2, 6, 6}, rng);
  const auto one_by_one = [&](const Tensor<double, Cpu>& in) {
    const auto h = r1.forward(n1.forward(c1.forward(in)));
    auto y = n3.forward(c3.forward(r2.forward(n2.forward(c2.forward(h)))));
    axpy(y, 1.0, h);
    return y;
  };
  for (const bool training : {true, false}) {
    INFO("training " << training);
    if (!training) {
      fused.eval();
      n1.eval();
    }
    CHECK(fused.forward(x).to_host() == one_by_one(x).to_host());  // each moves batch norm's running statistics once
    NoGrad no_grad;
    CHECK(fused.forward(x).to_host() == one_by_one(x).to_host());
  }
  testing::check_gradients<Net>({2, 2, 6, 6});
  testing::check_gradients<Net>({2, 2, 6, 6}, {.train_mode = false});
}

TEST_CASE("layers overwrite a temporary nobody else holds, and never one that is held") {
  std::mt19937_64 rng(5);
  const auto x = testing::random_tensor<float>({1, 2, 4, 4}, rng);
  ReLU::impl<Cpu, float> relu;
  InstanceNorm<2>::impl<Cpu, float> norm;
  Conv2d<2, 2, 3, Reflect>::impl<Cpu, float> conv;
  {
    auto t = x;
    const float* storage = t.data();
    CHECK(relu.forward(std::move(t)).data() == storage);  // ReLU: in place, even with gradients on
    auto held = x;
    const auto copy = held.share();
    CHECK(relu.forward(std::move(held)).data() != copy.data());
    CHECK(copy.to_host() == x.to_host());
  }
  {
    auto t = x;
    const float* storage = t.data();
    CHECK(norm.forward(std::move(t)).data() != storage);  // backward reads the input: a new output
    NoGrad no_grad;
    auto u = x;
    storage = u.data();
    CHECK(norm.forward(std::move(u)).data() == storage);
  }
  {
    auto t = x;
    (void)conv.forward(std::move(t));
    CHECK(t.empty());  // freed once padded
    (void)conv.forward(x);
    CHECK(x.is_shared());  // kept for backward as it is, not as the padded copy
  }
}
