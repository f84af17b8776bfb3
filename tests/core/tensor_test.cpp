#include "perceptual/core/tensor.hpp"

#include <doctest/doctest.h>

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "perceptual/backend/cpu/pointwise.hpp"

using namespace perceptual;

TEST_CASE("a new tensor is zero-filled and has the requested shape") {
  Tensor<float, Cpu> t({2, 3, 4, 5});
  CHECK(t.shape() == Shape4{2, 3, 4, 5});
  CHECK(t.size() == 120);
  CHECK(sum(t) == 0.0);
  CHECK(Tensor<float, Cpu>().empty());
}

TEST_CASE("host values round-trip in NCHW order") {
  std::vector<double> v(24);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i) * 0.5;
  const auto t = Tensor<double, Cpu>::from_host({1, 2, 3, 4}, v);
  CHECK(t.to_host() == v);
  CHECK(t.data()[1 * 12 + 2 * 4 + 3] == 11.5);  // (c=1, y=2, x=3)
}

TEST_CASE("from_host rejects a value count that does not match the shape, naming both") {
  const std::vector<float> v(5);
  try {
    (void)Tensor<float, Cpu>::from_host({1, 1, 2, 3}, v);
    FAIL("no exception");
  } catch (const ShapeError& e) {
    CHECK(std::string(e.what()).find("1x1x2x3") != std::string::npos);
    CHECK(std::string(e.what()).find("5 values") != std::string::npos);
  }
}

namespace {

// A second host backend (the CPU's storage under another tag), to see a copy between backends.
struct OtherHost {
  template <class T>
  using buffer = Cpu::buffer<T>;
};

}  // namespace

TEST_CASE("to_backend copies a tensor to another backend and passes one already there on without a copy") {
  const std::vector<float> v{1, 2, 3, 4, 5, 6};
  auto t = Tensor<float, Cpu>::from_host({1, 1, 2, 3}, v);
  const auto other = to_backend<OtherHost>(t);
  static_assert(std::is_same_v<decltype(other), const Tensor<float, OtherHost>>);
  CHECK(other.shape() == t.shape());
  CHECK(other.to_host() == v);
  CHECK(to_backend<Cpu>(other).to_host() == v);

  const Tensor<float, Cpu>& same = to_backend<Cpu>(t);
  CHECK(&same == &t);
  const float* storage = t.data();
  const Tensor<float, Cpu> moved = to_backend<Cpu>(std::move(t));
  CHECK(moved.data() == storage);
}

TEST_CASE("pointwise operations compute the expected values") {
  const std::vector<float> a{1, 2, 3, 4}, b{10, 20, 30, 40};
  auto ta = Tensor<float, Cpu>::from_host({1, 1, 2, 2}, a);
  const auto tb = Tensor<float, Cpu>::from_host({1, 1, 2, 2}, b);
  CHECK(add(ta, tb).to_host() == std::vector<float>{11, 22, 33, 44});
  CHECK(dot(ta, tb) == 300.0);
  axpy(ta, 0.5f, tb);
  CHECK(ta.to_host() == std::vector<float>{6, 12, 18, 24});
  scale(ta, 2.0f);
  CHECK(sum(ta) == 120.0);
  CHECK_THROWS_AS(axpy(ta, 1.0f, Tensor<float, Cpu>({1, 2, 2, 2})), ShapeError);
}

TEST_CASE("channel_affine applies a per-channel scale and shift") {
  const std::vector<double> x{1, 2, 3, 4};
  const auto y = channel_affine(Tensor<double, Cpu>::from_host({1, 2, 1, 2}, x), {2.0, -1.0}, {0.5, 10.0});
  CHECK(y.to_host() == std::vector<double>{2.5, 4.5, 7, 6});
  CHECK_THROWS_AS(channel_affine(Tensor<double, Cpu>({1, 3, 1, 1}), {1.0}, {0.0}), ShapeError);
}

TEST_CASE("copies are deep; share() is the one alias, and is_shared() tells") {
  auto a = Tensor<float, Cpu>::from_host({1, 1, 1, 3}, std::vector<float>{1, 2, 3});
  CHECK_FALSE(a.is_shared());
  Tensor<float, Cpu> copy = a;
  copy.data()[0] = 10;
  CHECK(a.data()[0] == 1);  // a copy never changes the original
  CHECK_FALSE(a.is_shared());
  {
    Tensor<float, Cpu> alias = a.share();
    CHECK(a.is_shared());
    CHECK(alias.data() == a.data());
    alias.data()[1] = 20;
    CHECK(a.data()[1] == 20);
    Tensor<float, Cpu> copy_of_alias = alias;  // copying a share is deep again
    CHECK(copy_of_alias.data() != a.data());
  }
  CHECK_FALSE(a.is_shared());  // the share is gone
}

TEST_CASE("a moved-from tensor is empty, and a tensor asked for uninitialised storage has its shape") {
  Tensor<float, Cpu> a({1, 2, 3, 4});
  Tensor<float, Cpu> b = std::move(a);
  CHECK(b.shape() == Shape4{1, 2, 3, 4});
  CHECK(a.empty());  // NOLINT(bugprone-use-after-move): the state is specified
  CHECK(a.data() == nullptr);
  Tensor<float, Cpu> u({2, 3, 4, 5}, uninitialized);
  CHECK(u.shape() == Shape4{2, 3, 4, 5});
  CHECK(u.data() != nullptr);
  CHECK(Tensor<float, Cpu>({0, 3, 4, 5}, uninitialized).empty());
}
