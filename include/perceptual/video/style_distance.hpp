#pragma once
// How strongly a frame carries a style: the Gram distance of Johnson et al. 2016 (eqs. 3-4) to the
// style image at a few layers of a VGG loss network. Beside the warping error (video/flow.hpp) it
// keeps stability from being bought by fading the style: a blurred or washed-out video flickers
// less and lies farther from the style.
#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/losses/style.hpp"
#include "perceptual/nets/vgg.hpp"
#include "perceptual/nets/vgg_weights.hpp"

namespace perceptual::video {

// The layers the shared VGG-19 (to conv3_4) serves, one per block it has.
inline const std::vector<std::string> default_style_layers{"relu1_2", "relu2_2", "relu3_4"};

// distance(y) = sum over the layers of ||G(y) - G(style)||_F^2, G as in Johnson eq. 3 (divided by
// C*H*W, so frames and the style image may differ in size); the mean over a video's frames is
// what flicker reports.
// requires: layers are taps of VggNet (else ArgumentError listing the valid ones); images 1x3xHxW.
template <class VggNet = nets::AllReluVgg19>
class StyleDistance {
 public:
  using Vgg = nets::LossNetwork<VggNet, Cpu, float>;

  // Loads the weights the layers need (nets::load_vgg_weights) and the style's Gram matrices.
  StyleDistance(const std::filesystem::path& vgg_weights, const Tensor<float, Cpu>& style,
                const std::vector<std::string>& layers = default_style_layers)
      : taps_(nets::tap_indices<VggNet>(layers, "style distance layers")) {
    if (taps_.empty()) throw ArgumentError("StyleDistance: name at least one layer");
    std::array<bool, VggNet::num_taps> active{};
    for (int t : taps_) active[t] = true;
    vgg_.set_active_taps(active);
    nets::load_vgg_weights(vgg_, vgg_weights);
    for (auto& f : features(style)) style_grams_.push_back(losses::gram_matrix(f));
  }

  double operator()(const Tensor<float, Cpu>& image) {
    double sum = 0;
    const auto f = features(image);
    for (std::size_t j = 0; j < f.size(); ++j) sum += squared_distance(losses::gram_matrix(f[j]), style_grams_[j]);
    return sum;
  }

 private:
  std::vector<Tensor<float, Cpu>> features(const Tensor<float, Cpu>& image) {
    NoGrad no_grad;  // measuring only: the network keeps nothing for a backward pass
    auto all = vgg_.forward(image);
    std::vector<Tensor<float, Cpu>> out;
    for (int t : taps_) out.push_back(std::move(all[t]));
    return out;
  }

  std::vector<int> taps_;
  Vgg vgg_;
  std::vector<Tensor<float, Cpu>> style_grams_;
};

}  // namespace perceptual::video
