// The whole Gatys / Johnson objective (eq. 5) through the VGG loss network: feature + style + TV.
#include <doctest/doctest.h>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/losses/losses.hpp"
#include "perceptual/nets/vgg.hpp"
#include "support/gradcheck.hpp"

using namespace perceptual;
using namespace perceptual::nets;

TEST_CASE("the gradient of feature + style + TV through VGG matches finite differences") {
  using Net = Vgg16<"relu1_1", "relu1_2", "relu2_1">;
  using TensorD = Tensor<double, Cpu>;
  const auto seed = testing::test_seed();
  INFO("seed " << seed << " (replay with PERCEPTUAL_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  LossNetwork<Net, Cpu, double> vgg;
  for (auto& p : vgg.parameters()) testing::randomize(*p.value, rng, -0.3, 0.3);
  vgg.set_normalization({120, 110, 100}, {60, 50, 40});

  const Shape4 shape{1, 3, 6, 6};
  const auto content = vgg.forward(testing::random_tensor<double>(shape, rng, 0, 255));
  // A style image of another size: the Gram matrices do not depend on it.
  const auto style = vgg.forward(testing::random_tensor<double>({1, 3, 8, 4}, rng, 0, 255));
  const auto target = losses::make_style_target<double, Cpu>({style[0], style[2]});
  const std::vector<double> style_weights{0.7, 1.3};

  auto objective = [&](const TensorD& x, TensorD* dx) {
    const auto f = vgg.forward(x);
    const auto c = losses::feature_loss(f[1], content[1], 2.0);
    const auto s = losses::style_loss<double, Cpu>({f[0], f[2]}, target, style_weights);
    const auto tv = losses::total_variation_loss(x, 0.01);
    if (dx) {
      *dx = vgg.backward({s.grads[0], c.grad, s.grads[1]});
      axpy(*dx, 1.0, tv.grad);
    }
    return c.value + s.value + tv.value;
  };

  std::vector<double> x = testing::random_tensor<double>(shape, rng, 0, 255).to_host();
  TensorD dx;
  objective(TensorD::from_host(shape, x), &dx);
  const std::vector<double> analytic = dx.to_host();
  testing::compare_entries("d(objective)/dx", x, analytic,
                           [&] { return objective(TensorD::from_host(shape, x), nullptr); }, rng,
                           {.step = 1e-4, .atol = 1e-6, .rtol = 1e-5});
}
