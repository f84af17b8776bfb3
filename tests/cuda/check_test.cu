// Status checks and device detection; these run without a device.
#include <doctest/doctest.h>

#include <string>

#include "perceptual/backend/cuda/check.hpp"
#include "perceptual/backend/cuda/tensor.hpp"

using namespace perceptual;

TEST_CASE("PERCEPTUAL_CUDA_CHECK throws a CudaError naming the call, the file and the error") {
  try {
    PERCEPTUAL_CUDA_CHECK(cudaErrorInvalidValue);
    FAIL("no exception");
  } catch (const CudaError& e) {
    const std::string what = e.what();
    CHECK(what.find("cudaErrorInvalidValue") != std::string::npos);
    CHECK(what.find("check_test.cu") != std::string::npos);
  }
}

TEST_CASE("PERCEPTUAL_CUDNN_CHECK and PERCEPTUAL_CUBLAS_CHECK report the library's status") {
  CHECK_THROWS_WITH_AS(PERCEPTUAL_CUDNN_CHECK(CUDNN_STATUS_BAD_PARAM), doctest::Contains("CUDNN_STATUS_BAD_PARAM"),
                       CudaError);
  CHECK_THROWS_WITH_AS(PERCEPTUAL_CUBLAS_CHECK(CUBLAS_STATUS_INVALID_VALUE),
                       doctest::Contains("CUBLAS_STATUS_INVALID_VALUE"), CudaError);
  CHECK_NOTHROW(PERCEPTUAL_CUDA_CHECK(cudaSuccess));
}

TEST_CASE("a CudaError is a perceptual::Error") {
  CHECK_THROWS_AS(PERCEPTUAL_CUDA_CHECK(cudaErrorMemoryAllocation), Error);
}

TEST_CASE("device_available answers without throwing, and empty CUDA tensors need no device") {
  bool available = false;
  CHECK_NOTHROW(available = cuda::device_available());
  MESSAGE("CUDA device available: " << (available ? "yes" : "no"));
  Tensor<float, Cuda> empty;
  Tensor<float, Cuda> copy = empty;
  Tensor<float, Cuda> moved = std::move(copy);
  CHECK(moved.empty());
  CHECK(moved.to_host().empty());
  using CudaTensor = Tensor<float, Cuda>;
  if (!available) CHECK_THROWS_AS(CudaTensor({1, 1, 2, 2}), CudaError);
}
