#pragma once
// The CUDA backend: every operation family written so far, for .cu files compiled by nvcc.
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
