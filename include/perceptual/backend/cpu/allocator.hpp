#pragma once
// The caching host allocator moved to core/host_pool.hpp (host tensors use it without the backend);
// this header remains for the backend headers that still include it by this name.
#include "perceptual/core/host_pool.hpp"
