#pragma once
// VGG-16 and VGG-19 feature extractors (Simonyan & Zisserman), the frozen loss network of
// Johnson et al. and Gatys et al., with the feature taps ("relu2_2", ...) chosen at compile time.
// The net is built only up to the deepest tap; backward takes gradients injected at the taps
// and returns only the input gradient: the weights are frozen.
#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "perceptual/layers/activation.hpp"
#include "perceptual/layers/compose.hpp"
#include "perceptual/layers/conv.hpp"
#include "perceptual/layers/pool.hpp"

namespace perceptual::nets {

namespace vgg_detail {

constexpr int block_convs(int depth, int block) {
  return block < 2 ? 2 : (depth == 16 ? 3 : 4);
}
constexpr int block_channels(int block) {
  return block == 0 ? 64 : block == 1 ? 128 : block == 2 ? 256 : 512;
}

struct StagePos {
  int block;
  int conv;
};

// Stage i is the i-th convolution (with its ReLU, and the pooling before a block's first one).
constexpr StagePos stage_pos(int depth, int stage) {
  int block = 0;
  while (stage >= block_convs(depth, block)) stage -= block_convs(depth, block++);
  return {block, stage};
}
constexpr int stage_in_channels(int depth, int stage) {
  return stage == 0 ? 3 : block_channels(stage_pos(depth, stage - 1).block);
}

// "relu3_3" -> its stage index; -1 when this VGG has no such layer.
constexpr int tap_stage(int depth, std::string_view tap) {
  if (tap.size() != 7 || tap.substr(0, 4) != "relu" || tap[5] != '_') return -1;
  const int block = tap[4] - '1';
  const int conv = tap[6] - '1';
  if (block < 0 || block >= 5 || conv < 0 || conv >= block_convs(depth, block)) return -1;
  int stage = conv;
  for (int b = 0; b < block; ++b) stage += block_convs(depth, b);
  return stage;
}

template <int Depth, int Stage>
struct ConvName {
  static constexpr StagePos pos = stage_pos(Depth, Stage);
  static constexpr char value[8] = {'c', 'o', 'n', 'v', char('1' + pos.block), '_', char('1' + pos.conv), '\0'};
};

template <int Depth, int Stage>
using StageConv =
    layers::Named<ConvName<Depth, Stage>::value,
                  layers::Conv2d<stage_in_channels(Depth, Stage), block_channels(stage_pos(Depth, Stage).block), 3>>;

template <int Depth, int Stage>
using StageNet = std::conditional_t<(Stage > 0 && stage_pos(Depth, Stage).conv == 0),
                                    layers::Sequential<layers::MaxPool2x2, StageConv<Depth, Stage>, layers::ReLU>,
                                    layers::Sequential<StageConv<Depth, Stage>, layers::ReLU>>;

template <int Depth, class Seq>
struct Stages;
template <int Depth, std::size_t... I>
struct Stages<Depth, std::index_sequence<I...>> {
  template <class B, class T>
  using type = std::tuple<typename StageNet<Depth, static_cast<int>(I)>::template impl<B, T>...>;
};

}  // namespace vgg_detail

template <int Depth, layers::detail::FixedString... Taps>
struct Vgg {
  static_assert(Depth == 16 || Depth == 19, "Vgg: the depth must be 16 or 19.");
  static_assert(sizeof...(Taps) > 0, "Vgg: name at least one tap, such as \"relu2_2\".");
  static_assert(((vgg_detail::tap_stage(Depth, Taps.view()) >= 0) && ...),
                "Vgg: every tap must be a reluX_Y layer of this VGG (relu1_1 to relu5_3 for VGG-16, to relu5_4 "
                "for VGG-19).");

  static constexpr int depth = Depth;
  static constexpr int num_taps = sizeof...(Taps);
  static constexpr std::array<int, num_taps> tap_stages{vgg_detail::tap_stage(Depth, Taps.view())...};
  static constexpr int num_stages = *std::max_element(tap_stages.begin(), tap_stages.end()) + 1;

  static std::array<std::string, num_taps> tap_names() { return {Taps.str()...}; }
  static std::string name() { return "Vgg" + std::to_string(Depth); }
  // The tensor names of the convolution feeding stage i ("conv3_3"), for weight files.
  static std::string conv_name(int stage) {
    const auto p = vgg_detail::stage_pos(Depth, stage);
    return "conv" + std::to_string(p.block + 1) + "_" + std::to_string(p.conv + 1);
  }

  template <class B, class T>
  class impl {
   public:
    using net_type = Vgg;
    using TensorT = Tensor<T, B>;
    using Features = std::array<TensorT, num_taps>;

    impl() {
      for_each_stage([](auto& s, int) {
        s.eval();
        s.set_trainable(false);
      });
      set_normalization({123.675, 116.28, 103.53}, {58.395, 57.12, 57.375});
    }

    // Input normalisation on the 0..255 scale: the network sees (x - mean) / std per channel.
    void set_normalization(const std::vector<double>& mean, const std::vector<double>& std) {
      if (mean.size() != 3 || std.size() != 3) throw ArgumentError(name() + ": normalisation needs 3 means and 3 stds");
      for (int c = 0; c < 3; ++c) {
        if (!(std[c] > 0)) throw ArgumentError(name() + ": a normalisation std must be positive");
        scale_[c] = T(1 / std[c]);
        shift_[c] = T(-mean[c] / std[c]);
      }
    }

    // Chooses at run time which taps are computed; forward stops at the deepest active one, so
    // a weights file needs only the layers up to it.
    void set_active_taps(const std::array<bool, num_taps>& active) {
      if (std::none_of(active.begin(), active.end(), [](bool a) { return a; }))
        throw ArgumentError(name() + ": at least one tap must be active");
      active_ = active;
    }
    const std::array<bool, num_taps>& active_taps() const { return active_; }

    // How many stages the active taps need.
    int stages_needed() const {
      int n = 0;
      for (int t = 0; t < num_taps; ++t)
        if (active_[t]) n = std::max(n, tap_stages[t] + 1);
      return n;
    }

    // Features at the taps, in the order the taps were named; inactive taps are empty.
    Features forward(const TensorT& x) {
      require_channels(x, 3, name());
      TensorT h = channel_affine(x, scale_, shift_);
      Features out;
      const int needed = stages_needed();
      for_each_stage([&](auto& s, int i) {
        if (i >= needed) return;
        h = s.forward(std::move(h));
        for (int t = 0; t < num_taps; ++t)
          if (active_[t] && tap_stages[t] == i) out[t] = h.share();  // no copy; callers only read features
      });
      return out;
    }

    // dL/dx (the raw 0..255 input) from dL/d(feature) at each tap; an empty tensor counts as zero.
    TensorT backward(const Features& grads) { return run_backward(grads); }
    // The same, consuming the gradients: each tap's is freed (or becomes the running gradient) once
    // the backward pass reaches its stage, so the shallow taps' large ones are not all held to the end.
    TensorT backward(Features&& grads) { return run_backward(std::move(grads)); }

    // The convolution weights the active taps need ("conv1_1.weight", ...), for loading; frozen,
    // so none carries a gradient.
    Parameters<T, B> parameters() {
      Parameters<T, B> out;
      const int needed = stages_needed();
      for_each_stage([&](auto& s, int i) {
        if (i >= needed) return;
        for (auto& p : s.parameters()) out.push_back({p.name, p.value, nullptr});
      });
      return out;
    }

   private:
    template <class G>
    TensorT run_backward(G&& grads) {
      constexpr bool consume = !std::is_lvalue_reference_v<G>;
      TensorT g;
      const int needed = stages_needed();
      for_each_stage_reversed([&](auto& s, int i) {
        if (i >= needed) return;
        for (int t = 0; t < num_taps; ++t) {
          if (!active_[t] || tap_stages[t] != i || grads[t].empty()) continue;
          if (!g.empty())
            axpy(g, T(1), grads[t]);
          else if constexpr (consume)
            g = std::move(grads[t]);
          else
            g = grads[t];
          if constexpr (consume) grads[t] = TensorT{};
        }
        if (!g.empty()) g = s.backward(std::move(g));
      });
      if (g.empty()) throw Error(name() + ": backward needs a gradient at one active tap at least");
      return channel_affine(g, scale_, std::vector<T>(3, T(0)));
    }

    template <class F>
    void for_each_stage(F&& f) {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        (f(std::get<I>(stages_), static_cast<int>(I)), ...);
      }
      (std::make_index_sequence<num_stages>{});
    }
    template <class F>
    void for_each_stage_reversed(F&& f) {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        (f(std::get<num_stages - 1 - I>(stages_), static_cast<int>(num_stages - 1 - I)), ...);
      }
      (std::make_index_sequence<num_stages>{});
    }

    typename vgg_detail::Stages<Depth, std::make_index_sequence<num_stages>>::template type<B, T> stages_;
    std::vector<T> scale_ = std::vector<T>(3), shift_ = std::vector<T>(3);
    std::array<bool, num_taps> active_ = [] {
      std::array<bool, num_taps> a{};
      a.fill(true);
      return a;
    }();
  };
};

// pass_name: see layers/compose.hpp (nvcc needs the taps passed on as copies).
template <layers::detail::FixedString... Taps>
using Vgg16 = Vgg<16, layers::detail::pass_name(Taps)...>;
template <layers::detail::FixedString... Taps>
using Vgg19 = Vgg<19, layers::detail::pass_name(Taps)...>;

// The paper's loss network for style transfer: VGG-16 at relu1_2, relu2_2, relu3_3, relu4_3.
using JohnsonStyleVgg = Vgg16<"relu1_2", "relu2_2", "relu3_3", "relu4_3">;

// Every ReLU of each VGG as a tap, so that loss layers can be chosen by name at run time; only the
// active taps are computed, and the network stops at the deepest (see tap_indices).
using AllReluVgg16 = Vgg16<"relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu3_3", "relu4_1",
                           "relu4_2", "relu4_3", "relu5_1", "relu5_2", "relu5_3">;
using AllReluVgg19 = Vgg19<"relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu3_3", "relu3_4",
                           "relu4_1", "relu4_2", "relu4_3", "relu4_4", "relu5_1", "relu5_2", "relu5_3", "relu5_4">;

// Indices of the named layers ("relu2_2") among Net's taps, in the given order; ArgumentError
// starting with `what` and listing the valid names when one is not a tap of Net.
template <class Net>
std::vector<int> tap_indices(const std::vector<std::string>& layers, const std::string& what) {
  const auto names = Net::tap_names();
  std::vector<int> out;
  for (const auto& layer : layers) {
    const auto it = std::find(names.begin(), names.end(), layer);
    if (it == names.end()) {
      std::string valid;
      for (const auto& n : names) valid += " " + n;
      throw ArgumentError(what + ": VGG-" + std::to_string(Net::depth) + " has no layer \"" + layer +
                          "\"; valid:" + valid);
    }
    out.push_back(static_cast<int>(it - names.begin()));
  }
  return out;
}

// A loss network bound to a backend and scalar.
template <class Net, class Backend, class Scalar = float>
using LossNetwork = typename Net::template impl<Backend, Scalar>;

}  // namespace perceptual::nets
