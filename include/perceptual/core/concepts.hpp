#pragma once
// The layer contract. A layer is a type that describes itself at compile time (channel counts,
// output size, name) and, bound to a backend and scalar, gives a module that runs it:
//
//   struct L {
//     static constexpr int in_channels, out_channels;    // any_channels: takes any, keeps it
//     static constexpr Size2 output_size(Size2 input);   // throws ShapeError for sizes it can't take
//     static std::string name();                          // "Conv2d<64,128,3>", for messages
//     template <class Backend, class Scalar> class impl;  // the module, below
//   };
//
// The module (requires / ensures):
//   forward(x)      requires x.c() == in_channels (else ShapeError naming the layer and sizes);
//                   ensures the output has out_channels channels and output_size(x.spatial());
//                   keeps what backward needs while gradients_enabled() (grad_mode.hpp), by
//                   sharing storage with x or with its output, so the caller must not change x
//                   or the output in place while a backward is to come; under NoGrad keeps nothing.
//   backward(dy)    requires a forward with gradients enabled before it and dy of the forward output's shape; returns
//                   dL/dx and adds dL/dparam into each parameter's grad (unless frozen).
//   parameters()    named (value, grad) pairs, names as in weight files ("weight", "0.bias").
//   train(), eval() the mode (batch norm: batch or running statistics).
//   set_trainable(b) false: backward computes no parameter gradients (a frozen loss network).
//   initialize(rng) optional: draws the initial parameters (modules without it need none, or set
//                   them in their constructor); compositions forward it to their elements.
//
// Backend operations are free functions in the backend's namespace, found by argument-dependent
// lookup on Tensor<Scalar, Backend>; so the same layer code compiles for every backend.
#include <concepts>
#include <string>

#include "perceptual/core/grad_mode.hpp"
#include "perceptual/core/shape.hpp"
#include "perceptual/core/tensor.hpp"

namespace perceptual {

// A channel count meaning "whatever comes in": pointwise layers, pooling, padding.
inline constexpr int any_channels = -1;

namespace detail {

// A backend with storage declared but no operations: enough to check a module's interface
// without instantiating any computation.
struct ProbeBackend {
  template <class T>
  struct buffer {
    explicit buffer(Shape4);
    T* data();
    const T* data() const;
    void copy_to_host(T*) const;
    void copy_from_host(const T*);
  };
};

}  // namespace detail

namespace concepts {

template <class M, class B, class T>
concept module = requires(M& m, const Tensor<T, B>& x, bool flag) {
  { m.forward(x) } -> std::same_as<Tensor<T, B>>;
  { m.backward(x) } -> std::same_as<Tensor<T, B>>;
  { m.parameters() } -> std::same_as<Parameters<T, B>>;
  m.train();
  m.eval();
  m.set_trainable(flag);
};

template <class L>
concept layer = requires {
  { L::in_channels } -> std::convertible_to<int>;
  { L::out_channels } -> std::convertible_to<int>;
  { L::output_size(Size2{}) } -> std::same_as<Size2>;
  { L::name() } -> std::convertible_to<std::string>;
  typename L::template impl<detail::ProbeBackend, float>;
}
&&module<typename L::template impl<detail::ProbeBackend, float>, detail::ProbeBackend, float>;

}  // namespace concepts

// State every module shares: the mode and whether its parameters learn. Modules without
// parameters inherit parameters() from here.
template <class B, class T>
class ModuleBase {
 public:
  void train() { training_ = true; }
  void eval() { training_ = false; }
  void set_trainable(bool trainable) { trainable_ = trainable; }
  bool training() const { return training_; }
  bool trainable() const { return trainable_; }
  Parameters<T, B> parameters() { return {}; }

 private:
  bool training_ = true;
  bool trainable_ = true;
};

// Calls module.initialize(rng) where the module has one.
template <class M, class Rng>
void initialize_if_any(M& module, Rng& rng) {
  if constexpr (requires { module.initialize(rng); }) module.initialize(rng);
}

// Throws Error unless a forward pass that kept its tensors (gradients enabled) came before a
// backward pass.
template <class T, class B>
void require_forward(const Tensor<T, B>& cached, const std::string& where) {
  if (cached.empty())
    throw Error(where + ": backward called before forward, or after a forward under NoGrad (which keeps nothing)");
}

}  // namespace perceptual
