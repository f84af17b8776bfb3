#include "perceptual/dist/communicator.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "perceptual/core/host.hpp"
#include "support/mirror_ranks.hpp"

using namespace perceptual;
using TensorF = Tensor<float, Cpu>;

TEST_CASE("dist::shard: contiguous shares in rank order, the first ranks one image more; none empty") {
  CHECK(dist::shard(4, 0, 2).begin == 0);
  CHECK(dist::shard(4, 0, 2).end == 2);
  CHECK(dist::shard(4, 1, 2).begin == 2);
  CHECK(dist::shard(4, 1, 2).end == 4);
  CHECK(dist::shard(5, 0, 2).size() == 3);
  CHECK(dist::shard(5, 1, 2).begin == 3);
  CHECK(dist::shard(5, 1, 2).end == 5);
  CHECK(dist::shard(3, 2, 3).begin == 2);
  CHECK(dist::shard(7, dist::alone()).size() == 7);
  CHECK_THROWS_WITH_AS(dist::shard(1, 0, 2), doctest::Contains("a global batch of 1 cannot be shared by 2 ranks"),
                       ArgumentError);
  CHECK_THROWS_AS(dist::shard(4, 2, 2), ArgumentError);
  CHECK_THROWS_AS(dist::shard(4, 0, 0), ArgumentError);
}

TEST_CASE("combine_gradients and combine_means weight each rank's mean by its share of the global batch") {
  TensorF w = TensorF::from_host({1, 1, 1, 2}, std::vector<float>{1, 2});
  TensorF gw = TensorF::from_host({1, 1, 1, 2}, std::vector<float>{4, 8});
  TensorF stat = TensorF::from_host({1, 1, 1, 1}, std::vector<float>{5});  // not learnable: untouched
  const Parameters<float, Cpu> params{{"w", &w, &gw}, {"running_mean", &stat, nullptr}};

  // Alone: nothing changes.
  dist::combine_gradients(dist::alone(), params, 4, 4);
  CHECK(gw.to_host() == std::vector<float>{4, 8});

  // Two ranks of 2 images each, with the same means: the global mean is that mean.
  testing::MirrorRanks two;
  dist::combine_gradients(two, params, 2, 4);
  CHECK(gw.to_host() == std::vector<float>{4, 8});
  // 1 image of a batch of 4 on each of the two ranks (a weight of 1/4 each): half of it.
  dist::combine_gradients(two, params, 1, 4);
  CHECK(gw.to_host() == std::vector<float>{2, 4});
  CHECK(stat.to_host() == std::vector<float>{5});

  std::vector<double> terms{3, 6};
  dist::combine_means(two, terms, 2, 4);
  CHECK(terms == std::vector<double>{3, 6});
}
