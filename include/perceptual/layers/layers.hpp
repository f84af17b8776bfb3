#pragma once
// All layer templates.
#include "perceptual/layers/activation.hpp"
#include "perceptual/layers/compose.hpp"
