#pragma once
// The CUDA backend: every operation family, checked here against the backend contract
// (core/backend.hpp). Parses with any compiler. Under nvcc each operation header also includes
// its kernels and definitions (<op>.cuh), so a .cu file needs nothing else; a program compiled by a
// host compiler (g++) gets the declarations only and links their explicit instances for float,
// double and bf16 (instances.cu: CMake's perceptual::cuda_instances, with cudart, cuBLAS, cuDNN).
#include "perceptual/backend/cuda/activation.hpp"
#include "perceptual/backend/cuda/bf16.hpp"
#include "perceptual/backend/cuda/check.hpp"
#include "perceptual/backend/cuda/conv.hpp"
#include "perceptual/backend/cuda/handle.hpp"
#include "perceptual/backend/cuda/loss.hpp"
#include "perceptual/backend/cuda/norm.hpp"
#include "perceptual/backend/cuda/optim.hpp"
#include "perceptual/backend/cuda/pad.hpp"
#include "perceptual/backend/cuda/pointwise.hpp"
#include "perceptual/backend/cuda/pool.hpp"
#include "perceptual/backend/cuda/tensor.hpp"
#include "perceptual/backend/cuda/upsample.hpp"
#include "perceptual/core/backend.hpp"

static_assert(perceptual::concepts::backend<perceptual::Cuda, float> &&
                  perceptual::concepts::backend<perceptual::Cuda, double> &&
                  perceptual::concepts::backend<perceptual::Cuda, perceptual::bf16>,
              "Cuda: the CUDA backend must provide, for float, double and bf16, every operation that "
              "concepts::backend (core/backend.hpp) lists for the layers, losses and optimisers.");
