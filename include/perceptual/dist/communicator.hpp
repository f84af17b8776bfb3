#pragma once
// Data parallelism's contract: the processes of one run (ranks), each with its shard of every
// global batch, and the sum over them that turns each rank's gradients into the global batch's.
// Communicator itself is one process alone (no library, nothing to sum); dist/mpi.hpp is the MPI
// one (mpirun, srun), dist/nccl.hpp the NCCL one (the CUDA programs). Nothing here depends on a
// backend: gradients travel through the host, or stay on their device where the communicator
// offers a DeviceSum (NCCL's) and their backend's storage names its device (the CUDA backend's).
#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdlib>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/tensor.hpp"

namespace perceptual::dist {

// `count` values of one scalar type in a device's memory, for DeviceSum.
struct DeviceBuffer {
  enum class Scalar { f32, f64, bf16 };
  void* data = nullptr;
  std::size_t count = 0;
  Scalar scalar = Scalar::f32;
  int device = 0;  // the device whose memory holds them
};

// Sums over device memory, which a communicator may offer (Communicator::device_sum).
class DeviceSum {
 public:
  // Each buffer replaced, on every rank, by its sum over the ranks, in place: all of them in one
  // call, in the order given, queued on the backend's stream of their device (after the work that
  // wrote them, before the work that reads them), with the same bits on every rank. Every rank
  // passes the same counts and scalars in the same order. Error when a buffer is on another
  // device than this rank's.
  virtual void sum(std::span<const DeviceBuffer> buffers) = 0;
  // The library and its version ("NCCL 2.28.9"), for a program's opening line.
  virtual std::string name() const = 0;

 protected:
  ~DeviceSum() = default;  // owned by its communicator, never deleted through this
};

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
  // The sums over device memory this communicator offers, or nullptr: then gradients on a device
  // travel through the host (sum above). Owned by the communicator.
  virtual DeviceSum* device_sum() const { return nullptr; }

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

// This process's rank among those the launcher started on its machine, from the launcher's
// environment: Open MPI's mpirun (OMPI_COMM_WORLD_LOCAL_RANK), MPICH's and Intel MPI's
// (MPI_LOCALRANKID), srun's (SLURM_LOCALID); -1 when none set one. The launchers' own first:
// mpirun inside a Slurm allocation starts every rank with the allocation's SLURM_LOCALID (0).
inline int launched_local_rank() {
  for (const char* variable : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"})
    if (const char* value = std::getenv(variable)) return std::max(0, std::atoi(value));
  return -1;
}

// The device this process uses out of the `devices` it sees: one per rank of a machine, its local
// rank's modulo the count (all of a machine's ranks on distinct devices while there are enough;
// under srun --gpus-per-task each sees one, device 0); -1 without a launcher's local rank, or
// without a device.
inline int launched_device(int devices) {
  const int local = launched_local_rank();
  return local < 0 || devices < 1 ? -1 : local % devices;
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

namespace detail {

// Backend storage in a device's memory, which names that device (the CUDA backend's).
template <class B, class T>
concept device_storage = requires(const typename B::template buffer<T>& b) {
  { b.device() } -> std::convertible_to<int>;
};

// How DeviceSum reads T: float, double, or the backends' one 2-byte scalar, bf16 (named by its
// size: this header depends on no backend).
template <class T>
constexpr DeviceBuffer::Scalar device_scalar() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> ||
                    (sizeof(T) == 2 && std::is_trivially_copyable_v<T> && !std::is_integral_v<T>),
                "combine_gradients: gradients on a device must be float, double or bf16.");
  if constexpr (std::is_same_v<T, float>) return DeviceBuffer::Scalar::f32;
  if constexpr (std::is_same_v<T, double>) return DeviceBuffer::Scalar::f64;
  return DeviceBuffer::Scalar::bf16;
}

}  // namespace detail

// The gradients of the learnable `parameters` (each rank's, of its shard's mean loss) replaced by
// the global batch's: weighted by shard / batch and summed over the ranks in one call, in
// parameter order. Through the host, float and bf16 gradients travel as float, double ones as
// double. On a device whose communicator offers a DeviceSum, they stay there: weighted in their
// own type (the backend's scale), summed in it (bf16 as bf16, so within bf16 rounding of the host
// path), and also for one rank, so that `mpirun -np 1` takes the path that many ranks take.
template <class T, class B>
void combine_gradients(Communicator& comm, const Parameters<T, B>& parameters, int shard_size, int batch) {
  if constexpr (detail::device_storage<B, T>) {
    if (DeviceSum* device = comm.device_sum()) {
      const T weight = static_cast<T>(static_cast<double>(shard_size) / batch);
      std::vector<DeviceBuffer> buffers;
      for (const auto& p : parameters) {
        if (!p.learnable() || p.grad->empty()) continue;
        // Changed in place: a gradient sharing its storage gets its own first, as the host path's
        // new tensors do, so that nothing else changes with it.
        if (p.grad->is_shared()) *p.grad = Tensor<T, B>(*p.grad);
        if (shard_size != batch) scale(*p.grad, weight);  // the backend's, found by its namespace
        buffers.push_back({p.grad->data(), p.grad->size(), detail::device_scalar<T>(), p.grad->buffer().device()});
      }
      device->sum(buffers);
      return;
    }
  }
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
