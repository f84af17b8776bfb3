#pragma once
// Umbrella header: the whole library with the CPU backend.
#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/core/concepts.hpp"
#include "perceptual/core/error.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/core/shape.hpp"
#include "perceptual/core/tensor.hpp"
#include "perceptual/io/io.hpp"
#include "perceptual/layers/layers.hpp"
#include "perceptual/losses/losses.hpp"
#include "perceptual/nets/vgg.hpp"
#include "perceptual/nets/vgg_weights.hpp"
#include "perceptual/optim/optim.hpp"
