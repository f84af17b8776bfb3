#pragma once
// The CPU backend: every operation family, for code that uses the whole library.
#include "perceptual/backend/cpu/activation.hpp"
#include "perceptual/backend/cpu/conv.hpp"
#include "perceptual/backend/cpu/loss.hpp"
#include "perceptual/backend/cpu/norm.hpp"
#include "perceptual/backend/cpu/optim.hpp"
#include "perceptual/backend/cpu/pointwise.hpp"
#include "perceptual/backend/cpu/pool.hpp"
#include "perceptual/backend/cpu/tensor.hpp"
#include "perceptual/backend/cpu/upsample.hpp"
