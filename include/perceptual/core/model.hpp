#pragma once
// Model<Net, Backend, Scalar>: a layer type bound to a backend and scalar, owning its parameters.
#include <cstdint>
#include <random>
#include <string>

#include "perceptual/core/concepts.hpp"

namespace perceptual {

template <concepts::layer Net, class Backend, class Scalar = float>
class Model {
 public:
  using net_type = Net;
  using tensor_type = Tensor<Scalar, Backend>;

  tensor_type forward(const tensor_type& x) { return module_.forward(x); }
  tensor_type backward(const tensor_type& dy) { return module_.backward(dy); }
  Parameters<Scalar, Backend> parameters() { return module_.parameters(); }

  Model& train() {
    module_.train();
    return *this;
  }
  Model& eval() {
    module_.eval();
    return *this;
  }
  Model& set_trainable(bool trainable) {
    module_.set_trainable(trainable);
    return *this;
  }
  void zero_grad() {
    for (auto& p : parameters())
      if (p.learnable()) fill(*p.grad, Scalar(0));
  }
  // Draws every layer's initial parameters from one seed (reproducible).
  Model& initialize(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    initialize_if_any(module_, rng);
    return *this;
  }

  static constexpr Size2 output_size(Size2 s) { return Net::output_size(s); }
  static std::string name() { return Net::name(); }

  typename Net::template impl<Backend, Scalar>& module() { return module_; }

 private:
  typename Net::template impl<Backend, Scalar> module_;
};

}  // namespace perceptual
