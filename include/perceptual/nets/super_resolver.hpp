#pragma once
// SuperResolver: loads any SuperResolutionNet<4|8> file (nets/super_resolution.hpp says what one
// holds) and upscales images with it on the CPU. Values are RGB in [0, 255] in and out (the net
// ends in the scaled tanh 127.5 * tanh + 127.5), like the style network's.
#include <filesystem>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/core/error.hpp"
#include "perceptual/core/grad_mode.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/io/safetensors.hpp"
#include "perceptual/nets/super_resolution.hpp"
#include "perceptual/nets/transform.hpp"

namespace perceptual::nets {

// Any SuperResolutionNet<4|8> file (the model train_sr writes, or one of its checkpoints), in
// evaluation mode.
class SuperResolver {
 public:
  using TensorF = Tensor<float, Cpu>;

  explicit SuperResolver(const std::filesystem::path& path) {
    const io::SafetensorsFile file(path);
    info_ = sr_model_info(file);
    if (info_.factor == 4)
      info_.batch_norm ? load<4, BatchNormDefault>(file) : load<4, InstanceNormDefault>(file);
    else
      info_.batch_norm ? load<8, BatchNormDefault>(file) : load<8, InstanceNormDefault>(file);
  }

  int factor() const { return info_.factor; }
  const SrModelInfo& info() const { return info_; }

  // Nx3xHxW in [0, 255], H and W >= sr_min_input -> Nx3x(f H)x(f W) in [0, 255].
  // f(model) with the Model<SuperResolutionNet<F, Norm>, Cpu, float> the file holds.
  template <class F>
  decltype(auto) visit(F&& f) {
    using R = decltype(f(std::declval<Net<4, InstanceNormDefault>&>()));
    return std::visit(
        [&](auto& net) -> R {
          if constexpr (std::is_same_v<std::decay_t<decltype(net)>, std::monostate>)
            throw Error("SuperResolver: no network");
          else
            return f(net);
        },
        net_);
  }

  TensorF upscale(const TensorF& lr) {
    if (lr.c() != 3 || lr.h() < sr_min_input || lr.w() < sr_min_input)
      throw ShapeError("SuperResolver: input " + to_string(lr.shape()) +
                       ", expected Nx3xHxW with H, W >= " + std::to_string(sr_min_input));
    NoGrad no_grad;
    return std::visit(
        [&](auto& net) -> TensorF {
          if constexpr (std::is_same_v<std::decay_t<decltype(net)>, std::monostate>)
            throw Error("SuperResolver: no network");
          else
            return net.forward(lr);
        },
        net_);
  }

 private:
  template <int F, template <int> class Norm>
  using Net = Model<SuperResolutionNet<F, Norm>, Cpu, float>;

  template <int F, template <int> class Norm>
  void load(const io::SafetensorsFile& file) {
    auto& net = net_.emplace<Net<F, Norm>>();
    io::load_parameters(net, file, {.context = "a x" + std::to_string(F) + " super-resolution network"});
    net.eval();
  }

  SrModelInfo info_;
  std::variant<std::monostate, Net<4, InstanceNormDefault>, Net<4, BatchNormDefault>, Net<8, InstanceNormDefault>,
               Net<8, BatchNormDefault>>
      net_;
};

}  // namespace perceptual::nets
