#pragma once
// Loops over independent slices (planes, channels) on the OpenMP threads that oneDNN's
// convolutions run on too (Debian builds oneDNN with OpenMP): one pool of threads in the process.
// Compiled without OpenMP (nvcc's host pass over .cu files) the loops run on the calling thread.
#define PERCEPTUAL_PRAGMA(x) _Pragma(#x)
#if defined(_OPENMP)
// The next for loop in parallel where `condition` holds (enough work to pay for waking the threads).
#define PERCEPTUAL_PARALLEL_FOR_IF(condition) PERCEPTUAL_PRAGMA(omp parallel for schedule(static) if (condition))
// The next loop, summing into the named doubles, vectorised (the order of the additions may change).
#define PERCEPTUAL_SIMD_SUM(...) PERCEPTUAL_PRAGMA(omp simd reduction(+ : __VA_ARGS__))
#else
#define PERCEPTUAL_PARALLEL_FOR_IF(condition)
#define PERCEPTUAL_SIMD_SUM(...)
#endif

#include <cstddef>

namespace perceptual::cpu::detail {
// At least this many values before a loop over slices starts threads.
inline constexpr std::size_t parallel_grain = std::size_t{1} << 15;
}  // namespace perceptual::cpu::detail
