#pragma once
// All losses (backend-generic; include a backend's loss kernels, e.g. backend/cpu/loss.hpp).
#include "perceptual/losses/feature.hpp"
#include "perceptual/losses/loss.hpp"
#include "perceptual/losses/pixel.hpp"
#include "perceptual/losses/style.hpp"
#include "perceptual/losses/tv.hpp"
