#pragma once
// The CUDA backend: every operation family, for .cu files compiled by nvcc, checked here against
// the backend contract (core/backend.hpp).
// (bf16.hpp, check.hpp, handle.hpp, tensor.hpp and plan_cache.hpp also parse with a host compiler.)
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
