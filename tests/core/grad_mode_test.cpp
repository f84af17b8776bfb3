#include "perceptual/core/grad_mode.hpp"

#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "perceptual/backend/cpu/tensor.hpp"

using namespace perceptual;

TEST_CASE("gradients are on by default, off inside NoGrad, and scopes nest") {
  CHECK(gradients_enabled());
  {
    NoGrad outer;
    CHECK_FALSE(gradients_enabled());
    {
      NoGrad inner;
      CHECK_FALSE(gradients_enabled());
    }
    CHECK_FALSE(gradients_enabled());  // the inner scope restores the outer's state, not "on"
  }
  CHECK(gradients_enabled());
}

TEST_CASE("the mode belongs to the thread that opened the scope") {
  NoGrad no_grad;
  bool other_thread = false;
  std::thread([&] { other_thread = gradients_enabled(); }).join();
  CHECK(other_thread);
  CHECK_FALSE(gradients_enabled());
}

TEST_CASE("saved_for_backward shares the storage with gradients on and keeps nothing under NoGrad") {
  const auto x = Tensor<float, Cpu>::from_host({1, 1, 2, 2}, std::vector<float>{1, 2, 3, 4});
  const Tensor<float, Cpu> kept = saved_for_backward(x);
  CHECK(kept.data() == x.data());
  NoGrad no_grad;
  CHECK(saved_for_backward(x).empty());
}
