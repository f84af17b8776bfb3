#pragma once
// The NCCL communicator (NCCL: the GPU collectives library that ships with the CUDA toolkit) for
// the CUDA programs: the ranks mpirun or srun started, one GPU each, bootstrapped over MPI (rank
// 0's ncclUniqueId sent to every rank by MPI_Bcast, then ncclCommInitRank). Gradients are summed
// on their device by grouped ncclAllReduce calls (its DeviceSum); the host sums (loss terms, batch
// norm statistics) and barriers go through MPI. Link CMake's perceptual::nccl (it brings
// perceptual::mpi). As with dist/mpi.hpp, a program started without a launcher runs alone and
// initialises neither. Parses with a host compiler: no device code here.
#include <nccl.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "perceptual/backend/cuda/check.hpp"
#include "perceptual/backend/cuda/handle.hpp"
#include "perceptual/core/error.hpp"
#include "perceptual/dist/communicator.hpp"
#include "perceptual/dist/mpi.hpp"

namespace perceptual::dist {

namespace detail {

// Error naming the call, its file and line, NCCL's text for the status and its last message.
inline void check_nccl(ncclResult_t status, const char* call, const char* file, int line) {
  if (status == ncclSuccess) return;
  std::string text = std::string("NCCL error ") + ncclGetErrorString(status) + " in " + call + " at " + file + ":" +
                     std::to_string(line);
  if (const char* last = ncclGetLastError(nullptr); last && *last) text += " (" + std::string(last) + ")";
  throw Error(text);
}

inline ncclDataType_t nccl_type(DeviceBuffer::Scalar scalar) {
  switch (scalar) {
    case DeviceBuffer::Scalar::f32:
      return ncclFloat32;
    case DeviceBuffer::Scalar::f64:
      return ncclFloat64;
    case DeviceBuffer::Scalar::bf16:
      return ncclBfloat16;
  }
  throw Error("NcclCommunicator: unknown scalar type");
}

}  // namespace detail

}  // namespace perceptual::dist

#define PERCEPTUAL_NCCL_CHECK(call) ::perceptual::dist::detail::check_nccl((call), #call, __FILE__, __LINE__)

namespace perceptual::dist {

class NcclCommunicator final : public Communicator {
 public:
  // Initialises MPI (unless the caller did; MpiCommunicator) and one NCCL communicator over its
  // ranks on the current device, which must differ from every other rank's on this machine
  // (app::Device<Cuda>::start chooses it by local rank: launched_device). Error naming the call
  // when NCCL fails; on every rank alike when rank 0 cannot make the unique id (instead of the
  // others waiting for it), on the rank that met it otherwise (its launcher ends the others when
  // it exits non-zero: mpirun does, srun with --kill-on-bad-exit).
  NcclCommunicator() : device_(cuda::current_device()) {
    struct {
      ncclResult_t status = ncclSuccess;
      ncclUniqueId id{};
    } root;
    if (mpi_.root()) root.status = ncclGetUniqueId(&root.id);
    mpi_.broadcast(std::as_writable_bytes(std::span(&root, 1)), 0);
    detail::check_nccl(root.status, "ncclGetUniqueId (on rank 0)", __FILE__, __LINE__);
    ncclComm_t comm = nullptr;
    PERCEPTUAL_NCCL_CHECK(ncclCommInitRank(&comm, mpi_.size(), root.id, mpi_.rank()));
    sum_.comm = Comm(comm);
    sum_.device = device_;
  }

  int rank() const override { return mpi_.rank(); }
  int size() const override { return mpi_.size(); }
  void sum(std::span<float> values) override { mpi_.sum(values); }
  void sum(std::span<double> values) override { mpi_.sum(values); }
  void barrier() override { mpi_.barrier(); }
  // MPI_Abort: this process ends, and NCCL's resources with it.
  [[noreturn]] void abort(int status) override { mpi_.abort(status); }
  DeviceSum* device_sum() const override { return &sum_; }

  // The device this rank's sums run on.
  int device() const { return device_; }

 private:
  // ncclCommDestroy ignores a failure, as destructors must (handle.hpp); it is collective among a
  // machine's ranks, which all destroy theirs as they exit.
  using Comm = cuda::UniqueHandle<ncclComm_t, ncclCommDestroy>;

  struct Sum final : DeviceSum {
    Comm comm;
    int device = 0;

    // One group of ncclAllReduce calls, in place, on the backend's stream: NCCL fuses them into
    // few launches, and every rank's result is the same (the reduced values are broadcast).
    void sum(std::span<const DeviceBuffer> buffers) override {
      for (const DeviceBuffer& b : buffers)
        if (b.device != device)
          throw Error("NcclCommunicator: a buffer on device " + std::to_string(b.device) +
                      ", but this rank's NCCL communicator is on device " + std::to_string(device));
      const cudaStream_t stream = cuda::context(device).stream();
      PERCEPTUAL_NCCL_CHECK(ncclGroupStart());
      ncclResult_t status = ncclSuccess;
      for (const DeviceBuffer& b : buffers) {
        status = ncclAllReduce(b.data, b.data, b.count, detail::nccl_type(b.scalar), ncclSum, comm.get(), stream);
        if (status != ncclSuccess) break;
      }
      const ncclResult_t ended = ncclGroupEnd();  // always: a group left open would take the next calls
      detail::check_nccl(status, "ncclAllReduce", __FILE__, __LINE__);
      detail::check_nccl(ended, "ncclGroupEnd", __FILE__, __LINE__);
    }

    std::string name() const override {
      int version = 0;
      PERCEPTUAL_NCCL_CHECK(ncclGetVersion(&version));  // major * 10000 + minor * 100 + patch
      return "NCCL " + std::to_string(version / 10000) + "." + std::to_string(version / 100 % 100) + "." +
             std::to_string(version % 100);
    }
  };

  // Declared first, destroyed last: MPI is finalised after NCCL's communicator is gone.
  MpiCommunicator mpi_;
  int device_;
  mutable Sum sum_;
};

// The communicator of a CUDA program: NCCL's when a launcher started it (also as one rank, so
// that `mpirun -np 1` runs what many ranks run), else one process alone, touching neither MPI nor
// NCCL.
inline std::unique_ptr<Communicator> nccl_world() {
  if (launched_ranks() > 0) return std::make_unique<NcclCommunicator>();
  return std::make_unique<Communicator>();
}

}  // namespace perceptual::dist
