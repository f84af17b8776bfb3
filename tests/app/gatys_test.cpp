// app/gatys.hpp: the Gatys baseline's loop, as the gatys program runs it and the benchmarks time it.
#include "perceptual/app/gatys.hpp"

#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "support/random.hpp"

using namespace perceptual;
using Objective = losses::StyleObjective<nets::AllReluVgg16, Cpu, float>;

namespace {

struct Fixture {
  Objective objective{{.content_layers = {"relu2_1"}, .style_layers = {"relu1_1", "relu1_2"}, .style_weight = 1e-3}};
  Tensor<float, Cpu> content, style;
  explicit Fixture(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (auto& p : objective.loss_network().parameters()) testing::randomize(*p.value, rng, -0.3, 0.3);
    content = testing::random_tensor<float>({1, 3, 12, 10}, rng, 0, 255);
    style = testing::random_tensor<float>({1, 3, 10, 10}, rng, 0, 255);
  }
};

}  // namespace

TEST_CASE("run_gatys with L-BFGS reports every iteration from 0, lowers eq. 5 and keeps the pixels in [0, 255]") {
  const auto seed = testing::test_seed();
  INFO("seed " << seed << " (replay with PERCEPTUAL_SEED=" << seed << ")");
  Fixture f(seed);
  std::vector<app::GatysProgress> seen;
  Tensor<float, Cpu> y;
  const auto run = app::run_gatys(f.objective, f.content, f.style, {.iterations = 5}, y, [&](const auto& p) {
    seen.push_back(p);
    return true;
  });
  CHECK_FALSE(run.stopped_by_callback);
  REQUIRE(seen.size() == static_cast<std::size_t>(run.lbfgs.iterations) + 1);
  for (std::size_t k = 0; k < seen.size(); ++k) CHECK(seen[k].iteration == static_cast<int>(k));
  CHECK(seen.back().terms.total < seen.front().terms.total);
  CHECK(seen.back().evaluations == run.lbfgs.evaluations);
  CHECK(y.shape() == f.content.shape());
  for (float v : y.to_host()) CHECK((v >= 0 && v <= 255));
}

TEST_CASE("run_gatys stops where the callback says, with either optimiser") {
  Fixture f(testing::test_seed());
  for (auto optimizer : {app::GatysOptions::Optimizer::lbfgs, app::GatysOptions::Optimizer::adam}) {
    int last = -1;
    Tensor<float, Cpu> y;
    const auto run = app::run_gatys(f.objective, f.content, f.style, {.iterations = 50, .optimizer = optimizer}, y,
                                    [&](const auto& p) {
                                      last = p.iteration;
                                      return p.iteration < 2;
                                    });
    CHECK(run.stopped_by_callback);
    CHECK(last == 2);
  }
}

TEST_CASE("run_gatys from the content image starts with no content loss, and Adam lowers eq. 5") {
  Fixture f(testing::test_seed());
  std::vector<losses::ObjectiveTerms> terms;
  Tensor<float, Cpu> y;
  const app::GatysOptions options{.iterations = 10,
                                  .optimizer = app::GatysOptions::Optimizer::adam,
                                  .init = app::GatysOptions::Init::content,
                                  .lr = 2};
  app::run_gatys(f.objective, f.content, f.style, options, y, [&](const auto& p) {
    terms.push_back(p.terms);
    return true;
  });
  REQUIRE(terms.size() == 11);
  CHECK(terms.front().content == 0);
  CHECK(terms.back().total < terms.front().total);
}
