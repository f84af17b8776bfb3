// The host compiler's route to the CUDA backend, as every file of cuda_tests takes it: the
// operations' declarations, their instances linked from perceptual_cuda_instances (instances.cu).
// header_only_test.cu runs the same check from nvcc and the headers alone.
#include <doctest/doctest.h>

#include "cuda/routes.hpp"
#include "cuda/support.hpp"

#if defined(__CUDACC__)
#error "tests/cuda/host_route_test.cpp checks the host compiler's route: compile it with g++, not nvcc"
#endif

using namespace perceptual;

TEST_CASE("a file compiled by the host compiler runs the backend from the linked instances") {
  PERCEPTUAL_PARITY_CASE(rng);
  testing::check_route(rng);
}
