#pragma once
// All optimisers (backend-generic; include a backend's optimiser kernels, e.g. backend/cpu/optim.hpp).
#include "perceptual/optim/adam.hpp"
#include "perceptual/optim/lbfgs.hpp"
