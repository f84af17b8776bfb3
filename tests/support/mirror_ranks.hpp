#pragma once
// A communicator of two ranks that hold the same values, in one process: a sum doubles each value.
// What a data-parallel computation does with two identical shards is what one process does with
// one, which is what tests check it against.
#include <span>

#include "perceptual/dist/communicator.hpp"

namespace perceptual::testing {

struct MirrorRanks final : dist::Communicator {
  int size() const override { return 2; }
  void sum(std::span<float> v) override {
    for (float& x : v) x *= 2;
  }
  void sum(std::span<double> v) override {
    for (double& x : v) x *= 2;
  }
};

}  // namespace perceptual::testing
