#pragma once
// The processes of a program's run: when a launcher (mpirun, srun) started it, MPI's ranks (a
// CPU program built with MPI: CMake's perceptual::mpi defines PERCEPTUAL_WITH_MPI) or NCCL's (a
// CUDA program built with NCCL and MPI: perceptual::nccl defines PERCEPTUAL_WITH_NCCL), else this
// process alone. A single-machine run never touches MPI or NCCL.
#include <memory>
#include <string>

#include "perceptual/core/error.hpp"
#include "perceptual/dist/communicator.hpp"
#if defined(PERCEPTUAL_WITH_NCCL)
#include "perceptual/dist/nccl.hpp"
#elif defined(PERCEPTUAL_WITH_MPI)
#include "perceptual/dist/mpi.hpp"
#endif

namespace perceptual::app {

// This process's communicator, made on the first call (in a CUDA program, after Device<Cuda>::start
// has chosen this rank's device). ArgumentError when a launcher started several ranks of a program
// built without them: each would run the whole job and write the same files.
inline dist::Communicator& world() {
#if defined(PERCEPTUAL_WITH_NCCL)
  static const std::unique_ptr<dist::Communicator> world = dist::nccl_world();
  return *world;
#elif defined(PERCEPTUAL_WITH_MPI)
  static const std::unique_ptr<dist::Communicator> world = dist::world();
  return *world;
#else
  if (const int ranks = dist::launched_ranks(); ranks > 1)
    throw ArgumentError("started as " + std::to_string(ranks) +
                        " ranks, but this program was built without MPI: each rank would run the whole job. Install "
                        "libopenmpi-dev and rebuild (CMake's PERCEPTUAL_MPI; the CUDA programs also need NCCL, which "
                        "comes with the CUDA toolkit: PERCEPTUAL_NCCL)");
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
