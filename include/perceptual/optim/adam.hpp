#pragma once
// Adam (Kingma & Ba 2015), the optimiser Johnson et al. train the transformation networks with
// (lr 1e-3). Backend-generic: the update is the backend's adam_update, found by ADL.
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/tensor.hpp"

namespace perceptual::optim {

// The type Adam keeps a parameter's moments in: a built-in floating type's own; float for any
// other scalar (bf16), since with 8 significant bits 0.999 v rounds back to v, so the second
// moment could never decay and the step size would stay at what the largest gradient set.
template <class T>
using moment_t = std::conditional_t<std::is_floating_point_v<T>, T, float>;

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

// Updates the learnable parameters of a list (grad != nullptr; the others are ignored) from their
// gradients, with bias-corrected moments. The parameters' tensors must outlive the optimiser.
//
//   optim::Adam<float, Cpu> adam(model.parameters(), {.lr = 1e-3});
//   model.zero_grad(); ...backward...; adam.step();
//
// Checkpointing: step_count() and state() (per parameter m and v, named "<name>.exp_avg" and
// "<name>.exp_avg_sq" by state_tensors(), PyTorch's names) are the whole state; restore them with
// set_step_count() and by writing into state_tensors()' values. The moments are moment_t<T>
// (float for bf16 parameters), so a bf16 run's checkpoint holds them exactly, as float32.
template <class T, class B>
class Adam {
 public:
  using Moment = moment_t<T>;

  struct State {
    std::string name;     // the parameter's
    Tensor<Moment, B> m;  // first moment, the parameter's shape
    Tensor<Moment, B> v;  // second (uncentred) moment
  };

  explicit Adam(const Parameters<T, B>& parameters, AdamOptions options = {}) : options_(options) {
    check_options();
    for (const auto& p : parameters) {
      if (!p.learnable()) continue;
      if (p.value->shape() != p.grad->shape())
        throw ShapeError("Adam: parameter " + p.name + " " + to_string(p.value->shape()) + " has a gradient " +
                         to_string(p.grad->shape()));
      params_.push_back(p);
      state_.push_back({p.name, Tensor<Moment, B>(p.value->shape()), Tensor<Moment, B>(p.value->shape())});
    }
  }

  // One update of every learnable parameter from its current gradient.
  void step() {
    check_options();
    ++step_;
    for (std::size_t i = 0; i < params_.size(); ++i)
      adam_update(*params_[i].value, *params_[i].grad, state_[i].m, state_[i].v, options_.lr, options_.beta1,
                  options_.beta2, options_.eps, step_);
  }

  void zero_grad() {
    for (auto& p : params_) fill(*p.grad, T(0));
  }

  // Mutable so that a schedule can change the learning rate between steps.
  AdamOptions& options() { return options_; }
  const AdamOptions& options() const { return options_; }

  // Updates taken so far; the bias correction of the next is 1 - beta^(step_count() + 1).
  std::int64_t step_count() const { return step_; }
  void set_step_count(std::int64_t step) {
    if (step < 0) throw ArgumentError("Adam: step count " + std::to_string(step) + " is negative");
    step_ = step;
  }

  // Per learnable parameter, in the order of the list given to the constructor.
  std::vector<State>& state() { return state_; }
  const std::vector<State>& state() const { return state_; }

  // The moments as named, non-learnable parameters (grad nullptr), for a weights-file writer or
  // reader: "<name>.exp_avg" (m) and "<name>.exp_avg_sq" (v).
  Parameters<Moment, B> state_tensors() {
    Parameters<Moment, B> out;
    for (auto& s : state_) {
      out.push_back({s.name + ".exp_avg", &s.m, nullptr});
      out.push_back({s.name + ".exp_avg_sq", &s.v, nullptr});
    }
    return out;
  }

 private:
  void check_options() const {
    const auto& o = options_;
    if (!(o.lr >= 0) || !(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1) || !(o.eps >= 0))
      throw ArgumentError("Adam: options lr " + std::to_string(o.lr) + ", beta1 " + std::to_string(o.beta1) +
                          ", beta2 " + std::to_string(o.beta2) + ", eps " + std::to_string(o.eps) +
                          "; expected lr >= 0, betas in [0, 1), eps >= 0");
  }

  Parameters<T, B> params_;
  std::vector<State> state_;
  AdamOptions options_;
  std::int64_t step_ = 0;
};

}  // namespace perceptual::optim
