#pragma once
// What the CPU builds of the benchmarks share: the backend's description for their output.
#include <cblas.h>

#include <string>

#include "style_common.hpp"

namespace perceptual::bench {

// "cpu (OpenBLAS, 2 threads)".
inline std::string cpu_description() {
  return "cpu (OpenBLAS, " + std::to_string(openblas_get_num_threads()) + " threads)";
}

inline BenchBackend cpu_backend(const std::string& program) {
  return {program, cpu_description, [] {}};
}

}  // namespace perceptual::bench
