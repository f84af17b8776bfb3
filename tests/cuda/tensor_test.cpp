// The CUDA buffer: zero-filled, deep-copied, moved, round-tripped through host memory.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "cuda/support.hpp"

using namespace perceptual;

TEST_CASE("a new CUDA tensor is zero-filled") {
  PERCEPTUAL_REQUIRE_DEVICE();
  const Tensor<float, Cuda> t({2, 3, 5, 7});
  for (float v : t.to_host()) CHECK(v == 0.0f);
}

TEST_CASE("a CUDA tensor round-trips host values exactly") {
  PERCEPTUAL_PARITY_CASE(rng);
  const auto x = testing::random_tensor<float>({2, 3, 4, 5}, rng);
  CHECK(testing::to_cuda(x).to_host() == x.to_host());
}

TEST_CASE("copying a CUDA tensor copies its values, and the copies are independent") {
  PERCEPTUAL_PARITY_CASE(rng);
  const auto x = testing::random_tensor<float>({1, 2, 3, 4}, rng);
  auto a = testing::to_cuda(x);
  Tensor<float, Cuda> b = a;  // copy-construct
  Tensor<float, Cuda> c({1, 2, 3, 4});
  c = a;  // copy-assign into a block of the same size
  Tensor<float, Cuda> d({1, 1, 1, 1});
  d = a;  // copy-assign with a new size
  cuda::fill(a, 5.0f);
  CHECK(b.to_host() == x.to_host());
  CHECK(c.to_host() == x.to_host());
  CHECK(d.to_host() == x.to_host());
  CHECK(d.shape() == x.shape());
}

TEST_CASE("moving a CUDA tensor keeps its block and leaves the source empty-handed") {
  PERCEPTUAL_REQUIRE_DEVICE();
  auto a = Tensor<float, Cuda>({1, 1, 4, 4});
  const float* block = a.data();
  Tensor<float, Cuda> b = std::move(a);
  CHECK(b.data() == block);
}

TEST_CASE("the caching allocator hands a freed block to the next tensor of that size class") {
  PERCEPTUAL_REQUIRE_DEVICE();
  const float* first = nullptr;
  {
    Tensor<float, Cuda> t({1, 3, 100, 100});
    first = t.data();
  }
  Tensor<float, Cuda> again({1, 3, 100, 100});
  CHECK(again.data() == first);
  for (float v : again.to_host()) REQUIRE(v == 0.0f);  // reused blocks are zero-filled too
}
