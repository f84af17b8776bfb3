#include "perceptual/core/backend.hpp"

#include <doctest/doctest.h>

#include "perceptual/backend/cpu/cpu.hpp"
#include "support/stub_backend.hpp"

using namespace perceptual;
using testing::stub::Lacks;

namespace {

template <Lacks L>
using Stub = testing::stub::Backend<L>;

}  // namespace

static_assert(concepts::backend<Cpu> && concepts::backend<Cpu, double>,
              "Cpu: the CPU backend satisfies concepts::backend for float and double.");
static_assert(concepts::tensor_on<Tensor<double, Cpu>, Cpu> &&
                  !concepts::tensor_on<Tensor<double, Cpu>, Stub<Lacks::nothing>>,
              "tensor_on: a tensor is on its own backend, not on another.");

TEST_CASE("a backend that declares every operation satisfies the contract; one that lacks one does not") {
  CHECK(concepts::backend<Stub<Lacks::nothing>>);
  CHECK(concepts::backend<Stub<Lacks::nothing>, double>);
  CHECK_FALSE(concepts::backend<Stub<Lacks::relu_backward_into>>);
  CHECK_FALSE(concepts::activation_ops<Stub<Lacks::relu_backward_into>, float>);
  CHECK(concepts::conv_ops<Stub<Lacks::relu_backward_into>, float>);
  // Storage without operations (the probe concepts::layer checks layers with) is no backend.
  CHECK_FALSE(concepts::backend<perceptual::detail::ProbeBackend>);
}

TEST_CASE("a backend whose convolutions still take seven integers instead of a ConvGeometry is not a backend") {
  CHECK_FALSE(concepts::conv_ops<Stub<Lacks::geometry>, float>);
  CHECK_FALSE(concepts::backend<Stub<Lacks::geometry>>);
  CHECK(concepts::activation_ops<Stub<Lacks::geometry>, float>);
}
