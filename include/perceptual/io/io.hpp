#pragma once
// Files and image processing: safetensors weights, images through stb (whole) and libpng and
// libjpeg (by rows), resampling, colour, histogram matching and quality metrics.
#include "perceptual/io/color.hpp"
#include "perceptual/io/dtype.hpp"
#include "perceptual/io/histogram.hpp"
#include "perceptual/io/image.hpp"
#include "perceptual/io/metrics.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/io/resample.hpp"
#include "perceptual/io/safetensors.hpp"
#include "perceptual/io/stream_image.hpp"
