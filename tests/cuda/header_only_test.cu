// nvcc's route to the CUDA backend, as README promises a .cu file: the headers alone, each
// operation header bringing its kernels and definitions (<op>.cuh); this executable does not link
// perceptual_cuda_instances. host_route_test.cpp runs the same check from the host compiler.
#include <doctest/doctest.h>

#include "cuda/routes.hpp"
#include "cuda/support.hpp"

#if !defined(__CUDACC__)
#error "tests/cuda/header_only_test.cu checks nvcc's header-only route: compile it with nvcc"
#endif

using namespace perceptual;

TEST_CASE("a .cu file compiled by nvcc runs the backend from the headers alone") {
  PERCEPTUAL_PARITY_CASE(rng);
  testing::check_route(rng);
}
