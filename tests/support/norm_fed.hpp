#pragma once
// The parameters of the transformation nets whose exact gradient is 0, for comparisons between
// backends: a convolution's bias that feeds a norm layer (instance norm, or batch norm in
// training), which subtracts each channel's mean and with it the bias. Either backend's gradient is
// rounding noise, Adam's first step moves it by lr * sign(noise), and its value changes nothing
// downstream.
#include <string>

namespace perceptual::testing {

// Whether `name` is such a bias: "conv1.bias" where `has("conv1.norm.weight")`.
template <class Has>
bool feeds_norm(const std::string& name, Has has) {
  const std::string suffix = ".bias";
  return name.ends_with(suffix) && has(name.substr(0, name.size() - suffix.size()) + ".norm.weight");
}

}  // namespace perceptual::testing
