// StyleObjective (include/perceptual/losses/objective.hpp): Johnson eq. 5 through a VGG with
// layers chosen by name, against its terms computed separately and finite differences.
#include "perceptual/losses/objective.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "support/gradcheck.hpp"
#include "support/random.hpp"

using namespace perceptual;
using TensorD = Tensor<double, Cpu>;
using Objective = losses::StyleObjective<nets::AllReluVgg16, Cpu, double>;

namespace {

losses::StyleObjectiveOptions small_options() {
  losses::StyleObjectiveOptions o;
  o.content_layers = {"relu1_2", "relu2_1"};
  o.style_layers = {"relu1_1", "relu2_1"};  // relu2_1 serves both: gradients add at one tap
  o.content_weight = 2.0;
  o.style_weight = 0.7;
  o.tv_weight = 0.01;
  return o;
}

void randomize_vgg(Objective& objective, std::mt19937_64& rng) {
  for (auto& p : objective.loss_network().parameters()) testing::randomize(*p.value, rng, -0.3, 0.3);
  objective.loss_network().set_normalization({120, 110, 100}, {60, 50, 40});
}

}  // namespace

TEST_CASE("StyleObjective's value is the sum of the feature, style and TV losses computed separately") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed << " (replay with PERCEPTUAL_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  Objective objective(small_options());
  randomize_vgg(objective, rng);
  const Shape4 shape{2, 3, 8, 6};  // a batch: each term is the mean over its images
  const TensorD content = testing::random_tensor<double>(shape, rng, 0, 255);
  const TensorD style = testing::random_tensor<double>({1, 3, 10, 7}, rng, 0, 255);
  const TensorD y = testing::random_tensor<double>(shape, rng, 0, 255);
  objective.set_content(content);
  objective.set_style(style);
  const auto r = objective.evaluate(y);

  // The same network, all four taps relu1_1, relu1_2, relu2_1 (indices 0, 1, 2) computed by hand.
  auto& vgg = objective.loss_network();
  std::array<bool, nets::AllReluVgg16::num_taps> active{};
  active[0] = active[1] = active[2] = true;
  vgg.set_active_taps(active);
  const auto fc = vgg.forward(content), fs = vgg.forward(style), fy = vgg.forward(y);
  const double content_term =
      losses::feature_loss(fy[1], fc[1], 2.0).value + losses::feature_loss(fy[2], fc[2], 2.0).value;
  const auto target = losses::make_style_target<double, Cpu>({fs[0], fs[2]});
  const double style_term = losses::style_loss<double, Cpu>({fy[0], fy[2]}, target, {0.7, 0.7}).value;
  const double tv_term = losses::total_variation_loss(y, 0.01).value;

  CHECK(r.terms.content == doctest::Approx(content_term).epsilon(1e-12));
  CHECK(r.terms.style == doctest::Approx(style_term).epsilon(1e-12));
  CHECK(r.terms.tv == doctest::Approx(tv_term).epsilon(1e-12));
  CHECK(r.terms.total == doctest::Approx(content_term + style_term + tv_term).epsilon(1e-12));
  CHECK(r.grad.shape() == shape);

  // value() gives the same terms without the backward pass.
  Objective same(small_options());
  std::mt19937_64 replay(seed);
  randomize_vgg(same, replay);
  same.set_content(content);
  same.set_style(style);
  const auto v = same.value(y);
  CHECK(v.total == doctest::Approx(r.terms.total).epsilon(1e-12));
  CHECK(v.style == doctest::Approx(r.terms.style).epsilon(1e-12));
}

TEST_CASE("StyleObjective's gradient with respect to the image matches finite differences") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed << " (replay with PERCEPTUAL_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  Objective objective(small_options());
  randomize_vgg(objective, rng);
  const Shape4 shape{1, 3, 6, 6};
  objective.set_content(testing::random_tensor<double>(shape, rng, 0, 255));
  objective.set_style(testing::random_tensor<double>({1, 3, 8, 4}, rng, 0, 255));

  std::vector<double> x = testing::random_tensor<double>(shape, rng, 0, 255).to_host();
  const std::vector<double> analytic = objective.evaluate(TensorD::from_host(shape, x)).grad.to_host();
  testing::compare_entries("d(objective)/dy", x, analytic,
                           [&] { return objective.value(TensorD::from_host(shape, x)).total; }, rng,
                           {.step = 1e-4, .atol = 1e-6, .rtol = 1e-5});
}

TEST_CASE("StyleObjective with a zero weight skips that term and needs no target for it") {
  std::mt19937_64 rng(1);
  auto o = small_options();
  o.content_weight = 0;
  o.tv_weight = 0;
  Objective texture(o);
  randomize_vgg(texture, rng);
  texture.set_style(testing::random_tensor<double>({1, 3, 8, 8}, rng, 0, 255));
  const auto r = texture.evaluate(testing::random_tensor<double>({1, 3, 8, 8}, rng, 0, 255));
  CHECK(r.terms.content == 0);
  CHECK(r.terms.tv == 0);
  CHECK(r.terms.style > 0);
  CHECK(r.terms.total == r.terms.style);
}

TEST_CASE("StyleObjective names what is missing or wrong") {
  auto o = small_options();
  o.content_layers = {"relu9_9"};
  CHECK_THROWS_WITH_AS(Objective{o}, doctest::Contains("content layers: VGG-16 has no layer \"relu9_9\""),
                       ArgumentError);
  o = small_options();
  o.style_layers.clear();
  CHECK_THROWS_AS(Objective{o}, ArgumentError);

  Objective objective(small_options());
  const TensorD y({1, 3, 8, 8});
  CHECK_THROWS_WITH_AS(objective.evaluate(y), doctest::Contains("set_style"), Error);
  objective.set_style(y);
  CHECK_THROWS_WITH_AS(objective.evaluate(y), doctest::Contains("set_content"), Error);
  objective.set_content(TensorD({1, 3, 8, 6}));
  CHECK_THROWS_WITH_AS(objective.evaluate(y), doctest::Contains("1x3x8x8"), ShapeError);
}

TEST_CASE("white_noise_image is reproducible from its seed and stays in [0, 255]") {
  const auto a = losses::white_noise_image<float, Cpu>({1, 3, 5, 7}, 4).to_host();
  const auto b = losses::white_noise_image<float, Cpu>({1, 3, 5, 7}, 4).to_host();
  const auto c = losses::white_noise_image<float, Cpu>({1, 3, 5, 7}, 5).to_host();
  CHECK(a == b);
  CHECK(a != c);
  CHECK(*std::min_element(a.begin(), a.end()) >= 0);
  CHECK(*std::max_element(a.begin(), a.end()) <= 255);
}
