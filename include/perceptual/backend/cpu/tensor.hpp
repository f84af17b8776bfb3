#pragma once
// The CPU backend's tensors are the host tensors of core/host.hpp (tag Cpu, storage from the
// caching HostPool): the backend adds operations only, so host data reaches it without a copy.
#include "perceptual/core/host.hpp"
