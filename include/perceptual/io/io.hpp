#pragma once
// Files and image processing: safetensors weights, images through stb, resampling and colour.
#include "perceptual/io/color.hpp"
#include "perceptual/io/dtype.hpp"
#include "perceptual/io/image.hpp"
#include "perceptual/io/metrics.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/io/resample.hpp"
#include "perceptual/io/safetensors.hpp"
