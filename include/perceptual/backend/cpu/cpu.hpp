#pragma once
// The CPU backend: every operation family, for code that uses the whole library, checked here
// against the backend contract (core/backend.hpp).
#include "perceptual/backend/cpu/activation.hpp"
#include "perceptual/backend/cpu/conv.hpp"
#include "perceptual/backend/cpu/loss.hpp"
#include "perceptual/backend/cpu/norm.hpp"
#include "perceptual/backend/cpu/optim.hpp"
#include "perceptual/backend/cpu/pointwise.hpp"
#include "perceptual/backend/cpu/pool.hpp"
#include "perceptual/backend/cpu/tensor.hpp"
#include "perceptual/backend/cpu/upsample.hpp"
#include "perceptual/core/backend.hpp"

static_assert(perceptual::concepts::backend<perceptual::Cpu, float> &&
                  perceptual::concepts::backend<perceptual::Cpu, double>,
              "Cpu: the CPU backend must provide, for float and double, every operation that concepts::backend "
              "(core/backend.hpp) lists for the layers, losses and optimisers.");
