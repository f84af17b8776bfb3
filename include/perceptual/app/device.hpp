#pragma once
// What a program asks of the backend it runs on, once its options are parsed (so --help works
// anywhere): Device<B>::start(instead) checks that B can run here (else Error saying what to run
// `instead`) and describes it for the program's output; Device<B>::synchronize() waits for B's
// queued work (for timings). Device<Cpu> is here; Device<Cuda> in app/cuda_device.hpp.
#include <cblas.h>

#include <string>

#include "perceptual/backend/cpu/cpu.hpp"

namespace perceptual::app {

// How a program wants its backend: `reproducible` results from run to run (the programs), or the
// `fastest` algorithms a backend can measure (the benchmarks; cuDNN's timed choice).
enum class DeviceUse { reproducible, fastest };

template <class B>
struct Device;

template <>
struct Device<Cpu> {
  // "cpu (OpenBLAS, 2 threads)"; the CPU is always there.
  static std::string start(const std::string& /*instead*/ = "", DeviceUse /*use*/ = DeviceUse::reproducible) {
    return std::string(Cpu::name) + " (OpenBLAS, " + std::to_string(openblas_get_num_threads()) + " threads)";
  }
  static void synchronize() {}
};

}  // namespace perceptual::app
