#pragma once
// The MPI communicator (Open MPI: Debian's libopenmpi-dev): the ranks mpirun or srun started,
// sums by MPI_Allreduce. Link MPI::MPI_CXX (CMake: perceptual::mpi). A program started without a
// launcher runs alone and never initialises MPI (launched_ranks), so a single-machine run needs
// no mpirun and behaves as it does without MPI support.
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>

#include "perceptual/core/error.hpp"
#include "perceptual/dist/communicator.hpp"

namespace perceptual::dist {

class MpiCommunicator final : public Communicator {
 public:
  // Initialises MPI (unless the caller did) and finalises it at destruction if it initialised it.
  // Errors come back as Error naming the call, instead of MPI's default abort.
  MpiCommunicator() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      owns_ = true;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  }
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;
  ~MpiCommunicator() override {
    if (owns_) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void sum(std::span<float> values) override { allreduce(values, MPI_FLOAT); }
  void sum(std::span<double> values) override { allreduce(values, MPI_DOUBLE); }
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  // Rank `root`'s bytes, on every rank (dist/nccl.hpp sends NCCL's unique id so).
  void broadcast(std::span<std::byte> bytes, int root) {
    check(MPI_Bcast(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
  }

  [[noreturn]] void abort(int status) override {
    MPI_Abort(MPI_COMM_WORLD, status);
    std::exit(status);
  }

 private:
  // MPI_Allreduce's algorithms for a given number of ranks and size give every rank the same sum.
  // In chunks of at most INT_MAX values (MPI's count is an int).
  template <class T>
  void allreduce(std::span<T> values, MPI_Datatype type) {
    for (std::size_t at = 0; at < values.size(); at += INT_MAX) {
      const int n = static_cast<int>(std::min<std::size_t>(INT_MAX, values.size() - at));
      check(MPI_Allreduce(MPI_IN_PLACE, values.data() + at, n, type, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    }
  }

  static void check(int code, const char* call) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw Error(std::string(call) + ": " + std::string(text, static_cast<std::size_t>(length)));
  }

  int rank_ = 0, size_ = 1;
  bool owns_ = false;
};

// The communicator of this process: MPI's when a launcher started it, else one process alone.
inline std::unique_ptr<Communicator> world() {
  if (launched_ranks() > 0) return std::make_unique<MpiCommunicator>();
  return std::make_unique<Communicator>();
}

}  // namespace perceptual::dist
