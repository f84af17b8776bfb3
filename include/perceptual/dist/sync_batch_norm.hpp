#pragma once
// Synchronised batch norm (PyTorch's SyncBatchNorm): while a SyncBatchNorm scope is open on a
// thread, every BatchNorm layer there in training mode normalises its rank's shard with the mean
// and variance of the whole global batch, summed over the communicator's ranks, and its backward
// pass takes the two per-channel sums over the global batch that the gradient of the global
// batch's loss needs. With one rank nothing changes. Every rank must run the same layers in the
// same order (each layer's forward and backward is a collective call).
//
//   { dist::SyncBatchNorm sync(comm); net.forward(shard); ...; net.backward(dy); }
//
// A scope, as NoGrad, rather than a setting on each layer: a network's batch norms sit anywhere in
// its composition, and what decides whether they synchronise is the training step, not the net.
#include <utility>

#include "perceptual/dist/communicator.hpp"

namespace perceptual::dist {

namespace detail {
inline thread_local Communicator* batch_norm_ranks = nullptr;
}  // namespace detail

// The communicator of the innermost SyncBatchNorm scope open on this thread, when it has more
// than one rank; nullptr otherwise.
inline Communicator* synchronized_batch_norm() noexcept {
  Communicator* comm = detail::batch_norm_ranks;
  return comm && comm->size() > 1 ? comm : nullptr;
}

// Scopes nest; the communicator must outlive the scope and the backward passes of the forward
// passes made in it (a layer keeps it from forward to backward).
class SyncBatchNorm {
 public:
  explicit SyncBatchNorm(Communicator& comm) noexcept : previous_(std::exchange(detail::batch_norm_ranks, &comm)) {}
  SyncBatchNorm(const SyncBatchNorm&) = delete;
  SyncBatchNorm& operator=(const SyncBatchNorm&) = delete;
  ~SyncBatchNorm() { detail::batch_norm_ranks = previous_; }

 private:
  Communicator* previous_;
};

}  // namespace perceptual::dist
