#pragma once
// All layer templates.
#include "perceptual/layers/activation.hpp"
#include "perceptual/layers/compose.hpp"
#include "perceptual/layers/conv.hpp"
#include "perceptual/layers/norm.hpp"
#include "perceptual/layers/pool.hpp"
#include "perceptual/layers/upsample.hpp"
