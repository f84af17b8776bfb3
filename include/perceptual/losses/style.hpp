#pragma once
// Style reconstruction loss (Johnson et al. 2016, eqs. 3-4; Gatys et al. 2016): squared Frobenius
// distance between Gram matrices of the loss network's features, summed over a set of layers.
// Gram matrices are C x C whatever the spatial size, so style image and output may differ in size.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "perceptual/losses/loss.hpp"

namespace perceptual::losses {

// The tensor type of a Gram matrix of T features on B: the backend's gram_forward decides. The
// CPU keeps T; the GPU keeps bf16 features' Grams in float, since G(y) - G_s cancels the digits
// the two share (backend/cuda/loss.hpp), so style targets and the loss's Grams are float there.
template <class T, class B>
using gram_t = decltype(gram_forward(std::declval<const Tensor<T, B>&>()));

// Johnson eq. 3, per image: G = F F^T / (C*H*W), F the C x (H*W) view of the N x C x H x W
// features. Returns N x 1 x C x C. The 1/(C*H*W) makes the style weight independent of the layer's
// size (Gatys instead divides the loss by 4 N_l^2 M_l^2; the two differ by a per-layer constant).
template <class T, class B>
gram_t<T, B> gram_matrix(const Tensor<T, B>& features) {
  if (features.empty()) throw ShapeError("gram_matrix: empty features " + to_string(features.shape()));
  return gram_forward(features);
}

// dL/dF = (dL/dG + dL/dG^T) F / (C*H*W) from dL/dG (N x 1 x C x C), per image.
template <class T, class B>
Tensor<T, B> gram_matrix_backward(const Tensor<T, B>& features, const gram_t<T, B>& dgram) {
  detail::require_same("gram_matrix_backward", "Gram gradient", dgram.shape(), "Gram of features",
                       Shape4{features.n(), 1, features.c(), features.c()});
  return gram_backward(features, dgram);
}

// The Gram matrices of a style image's features, one per tap, computed once and compared with
// every output. grams[j] is N_s x 1 x C_j x C_j; N_s = 1 (one style image, the usual case) is
// compared with every image of a batch, otherwise N_s must equal the batch.
template <class T, class B>
struct StyleTarget {
  std::vector<gram_t<T, B>> grams;
  std::size_t size() const { return grams.size(); }
};

// The style target of a style image from its features at each tap (any spatial size).
template <class T, class B>
StyleTarget<T, B> make_style_target(const std::vector<Tensor<T, B>>& features) {
  StyleTarget<T, B> target;
  target.grams.reserve(features.size());
  for (const auto& f : features) target.grams.push_back(gram_matrix(f));
  return target;
}

// One layer of the style loss (Johnson eq. 4): weight * mean over the batch of ||G(y) - G_s||_F^2,
// with G_s = target_gram (batch 1 or N); grad = dL/d features, the features' shape.
// requires: target_gram is 1 x 1 x C x C or N x 1 x C x C, C = features.c() (else ShapeError).
template <class T, class B>
LossResult<T, B> style_layer_loss(const Tensor<T, B>& features, const gram_t<T, B>& target_gram, double weight = 1,
                                  const std::string& where = "style_loss") {
  const Shape4 gs = target_gram.shape();
  if (features.empty() || gs.c != 1 || gs.h != features.c() || gs.w != features.c() ||
      (gs.n != 1 && gs.n != features.n()))
    throw ShapeError(where + ": features " + to_string(features.shape()) + " against target Gram " + to_string(gs) +
                     ", expected 1x1x" + std::to_string(features.c()) + "x" + std::to_string(features.c()) +
                     " (or batch " + std::to_string(features.n()) + ")");
  const gram_t<T, B> gram = gram_forward(features);
  const double factor = weight / features.n();  // mean over the batch
  // d/dG of factor * ||G - G_s||^2 is 2 * factor * (G - G_s), taken in the Gram's type.
  using G = typename gram_t<T, B>::value_type;
  return {factor * squared_distance(gram, target_gram),
          gram_backward(features, scaled_difference(gram, target_gram, static_cast<G>(2 * factor)))};
}

template <class T, class B>
struct StyleLossResult {
  double value = 0;                  // sum_j weights[j] * layer_values[j]
  std::vector<double> layer_values;  // each layer's unweighted loss, for logging
  std::vector<Tensor<T, B>> grads;   // d value / d features[j], weighted, features[j]'s shape
};

// Johnson eq. 4 summed over layers: sum_j weights[j] * mean_n ||G(features[j]_n) - target.grams[j]||_F^2.
// features[j] is the output's N x C_j x H_j x W_j features at tap j (any spatial size).
// requires: features, target and weights of one length (else ArgumentError); each layer's
//           shapes as in style_layer_loss (else ShapeError naming the layer).
template <class T, class B>
StyleLossResult<T, B> style_loss(const std::vector<Tensor<T, B>>& features, const StyleTarget<T, B>& target,
                                 const std::vector<double>& weights) {
  if (features.size() != target.size() || weights.size() != features.size())
    throw ArgumentError("style_loss: " + std::to_string(features.size()) + " feature layers, " +
                        std::to_string(target.size()) + " target Grams and " + std::to_string(weights.size()) +
                        " weights; expected one of each per layer");
  StyleLossResult<T, B> r;
  r.layer_values.reserve(features.size());
  r.grads.reserve(features.size());
  for (std::size_t j = 0; j < features.size(); ++j) {
    auto layer = style_layer_loss(features[j], target.grams[j], 1.0, "style_loss layer " + std::to_string(j));
    r.layer_values.push_back(layer.value);
    r.value += weights[j] * layer.value;
    scale(layer.grad, static_cast<T>(weights[j]));
    r.grads.push_back(std::move(layer.grad));
  }
  return r;
}

}  // namespace perceptual::losses
