#pragma once
// Whether forward passes keep what backward needs: on by default, off inside a NoGrad scope (per
// thread, as PyTorch's torch.no_grad()). The mode is separate from train()/eval(), which choose
// how a layer computes (batch norm's statistics): a frozen loss network is in eval mode and still
// passes gradients to its input.
//
//   { NoGrad no_grad; y = net.forward(x); }   // keeps nothing: inference memory is one layer's
//
// Layers keep their saved tensors by sharing storage (Tensor::share), never by copying; under
// NoGrad they drop what an earlier forward kept, and a backward after such a forward is an Error.
#include <utility>

#include "perceptual/core/tensor.hpp"

namespace perceptual {

namespace detail {
inline thread_local bool gradients_on = true;
}  // namespace detail

// True unless a NoGrad scope is open on this thread.
inline bool gradients_enabled() noexcept {
  return detail::gradients_on;
}

// Turns gradient bookkeeping off on this thread for its lifetime; scopes nest.
class NoGrad {
 public:
  NoGrad() noexcept : previous_(std::exchange(detail::gradients_on, false)) {}
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;
  ~NoGrad() { detail::gradients_on = previous_; }

 private:
  bool previous_;
};

// What a layer keeps of `x` for its backward: `x`'s storage, shared, while gradients are enabled;
// nothing (an empty tensor, which require_forward reports) under NoGrad.
template <class T, class B>
Tensor<T, B> saved_for_backward(const Tensor<T, B>& x) {
  return gradients_enabled() ? x.share() : Tensor<T, B>{};
}

}  // namespace perceptual
