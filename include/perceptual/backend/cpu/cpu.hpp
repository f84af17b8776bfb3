#pragma once
// The CPU backend: every operation family, for code that uses the whole library.
#include "perceptual/backend/cpu/activation.hpp"
#include "perceptual/backend/cpu/pointwise.hpp"
#include "perceptual/backend/cpu/tensor.hpp"
