#pragma once
// The processes of a program's run: MPI's ranks when the program is built with MPI (CMake's
// perceptual::mpi defines PERCEPTUAL_WITH_MPI) and a launcher (mpirun, srun) started it, else this
// process alone. A single-machine run never touches MPI.
#include <memory>
#include <string>

#include "perceptual/core/error.hpp"
#include "perceptual/dist/communicator.hpp"
#if defined(PERCEPTUAL_WITH_MPI)
#include "perceptual/dist/mpi.hpp"
#endif

namespace perceptual::app {

// This process's communicator, made on the first call. ArgumentError when a launcher started
// several ranks of a program built without MPI: each would run the whole job and write the same files.
inline dist::Communicator& world() {
#if defined(PERCEPTUAL_WITH_MPI)
  static const std::unique_ptr<dist::Communicator> world = dist::world();
  return *world;
#else
  if (const int ranks = dist::launched_ranks(); ranks > 1)
    throw ArgumentError("started as " + std::to_string(ranks) +
                        " ranks, but this program was built without MPI (the CUDA programs are, until they sum over "
                        "NCCL): each rank would run the whole job. For the CPU programs, install libopenmpi-dev and "
                        "rebuild (CMake's PERCEPTUAL_MPI)");
  return dist::alone();
#endif
}

// ", 2 ranks" for a program's opening line (what it runs on), ", 1 rank over NCCL 2.28.9" where
// the sums run on the device; empty for one process alone.
inline std::string ranks_text(const dist::Communicator& comm) {
  const dist::DeviceSum* device = comm.device_sum();
  if (comm.size() == 1 && !device) return "";
  return ", " + std::to_string(comm.size()) + (comm.size() == 1 ? " rank" : " ranks") +
         (device ? " over " + device->name() : "");
}

}  // namespace perceptual::app
