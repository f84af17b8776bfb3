#pragma once
// Data parallelism's contract: the processes of one run (ranks), each with its shard of every
// global batch, and the sum over them that turns each rank's gradients into the global batch's.
// Communicator itself is one process alone (no library, nothing to sum); dist/mpi.hpp is the MPI
// one (mpirun, srun). Nothing here depends on a backend: gradients travel through the host.
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/tensor.hpp"

namespace perceptual::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const { return 0; }
  virtual int size() const { return 1; }
  // Each element of `values` replaced, on every rank, by its sum over the ranks: the same bits on
  // every rank (so that their parameters never drift apart).
  virtual void sum(std::span<float>) {}
  virtual void sum(std::span<double>) {}
  // Returns once every rank has called it.
  virtual void barrier() {}
  // Ends this process and every other rank's with exit status `status`: for an error on one rank,
  // which the others, waiting in a sum, would never learn of.
  [[noreturn]] virtual void abort(int status) { std::exit(status); }

  // The rank that writes files (checkpoints, logs, samples) and prints progress.
  bool root() const { return rank() == 0; }
};

// How many ranks a launcher started, from the environment it gives each process: Open MPI's
// mpirun (OMPI_COMM_WORLD_SIZE), a PMI-2 launcher such as MPICH's or `srun --mpi=pmi2`
// (PMI_SIZE), `srun --mpi=pmix` (PMIX_RANK, with the step's SLURM_STEP_NUM_TASKS). 0 when none
// started this one (a batch script's own SLURM_NTASKS does not count: the script is one process).
inline int launched_ranks() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* value = std::getenv(variable)) return std::max(1, std::atoi(value));
  if (std::getenv("PMIX_RANK"))
    if (const char* value = std::getenv("SLURM_STEP_NUM_TASKS")) return std::max(1, std::atoi(value));
  return 0;
}

// One process alone: what code without a communicator of its own uses.
inline Communicator& alone() {
  static Communicator process;
  return process;
}

// The images [begin, end) of a global batch that one rank takes: contiguous, in rank order, the
// first `batch % size` ranks one image more.
struct Shard {
  int begin = 0, end = 0;
  int size() const { return end - begin; }
};

// ArgumentError when a rank would have no image (a batch smaller than the number of ranks).
inline Shard shard(int batch, int rank, int size) {
  if (size < 1 || rank < 0 || rank >= size)
    throw ArgumentError("dist::shard: rank " + std::to_string(rank) + " of " + std::to_string(size));
  if (batch < size)
    throw ArgumentError("a global batch of " + std::to_string(batch) + " cannot be shared by " + std::to_string(size) +
                        " ranks (each needs an image): use a batch of at least " + std::to_string(size));
  const int base = batch / size, extra = batch % size;
  const int begin = rank * base + std::min(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

inline Shard shard(int batch, const Communicator& comm) {
  return shard(batch, comm.rank(), comm.size());
}

// The global batch's mean from each rank's mean over its shard: every rank's `values` (its means)
// replaced by sum_r (shard_r / batch) * values_r. In place, on every rank alike.
inline void combine_means(Communicator& comm, std::span<double> values, int shard_size, int batch) {
  if (comm.size() == 1) return;
  for (double& v : values) v *= static_cast<double>(shard_size) / batch;
  comm.sum(values);
}

// The gradients of the learnable `parameters` (each rank's, of its shard's mean loss) replaced by
// the global batch's: weighted by shard / batch and summed over the ranks in one call, in
// parameter order. Float and bf16 gradients travel as float, double ones as double.
template <class T, class B>
void combine_gradients(Communicator& comm, const Parameters<T, B>& parameters, int shard_size, int batch) {
  if (comm.size() == 1) return;
  using Wire = std::conditional_t<std::is_same_v<T, double>, double, float>;
  const Wire weight = static_cast<Wire>(static_cast<double>(shard_size) / batch);
  std::vector<Wire> buffer;
  for (const auto& p : parameters)
    if (p.learnable())
      for (const T& g : p.grad->to_host()) buffer.push_back(weight * static_cast<Wire>(g));
  comm.sum(std::span<Wire>(buffer));
  std::size_t at = 0;
  for (const auto& p : parameters) {
    if (!p.learnable()) continue;
    std::vector<T> values(p.grad->size());
    for (T& v : values) v = static_cast<T>(buffer[at++]);
    *p.grad = Tensor<T, B>::from_host(p.grad->shape(), values);
  }
}

}  // namespace perceptual::dist
