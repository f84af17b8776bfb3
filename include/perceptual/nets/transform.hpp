#pragma once
// Johnson et al.'s image transformation networks as compositions: StyleTransformNet<Norm> (their
// supplementary Table 1, with reflection padding and instance norm as in their later code) and
// SuperResolutionNet<Factor, Norm> (Table 2). Parameter names follow "conv1.weight",
// "conv1.norm.weight", "res1.conv1.weight", ... so that weight files stay readable and stable.
#include <type_traits>

#include "perceptual/layers/activation.hpp"
#include "perceptual/layers/compose.hpp"
#include "perceptual/layers/conv.hpp"
#include "perceptual/layers/norm.hpp"
#include "perceptual/layers/options.hpp"

namespace perceptual::nets {

// The normalisation policies: a template of the channel count. Instance norm (Ulyanov et al.) is
// the default: it is what makes feed-forward stylisation look right; batch norm is the paper's.
template <int C>
using InstanceNormDefault = layers::InstanceNorm<C>;
template <int C>
using BatchNormDefault = layers::BatchNorm<C>;

// conv3x3-norm-ReLU-conv3x3-norm plus the input, reflection-padded so the size is kept (Johnson
// et al. crop a valid convolution's input instead; padding keeps any size working).
template <int C, template <int> class Norm = InstanceNormDefault>
using TransformResidualBlock = layers::Residual<layers::Named<"conv1", layers::Conv2d<C, C, 3, layers::Reflect>>,
                                                layers::Named<"conv1.norm", Norm<C>>, layers::ReLU,
                                                layers::Named<"conv2", layers::Conv2d<C, C, 3, layers::Reflect>>,
                                                layers::Named<"conv2.norm", Norm<C>>>;

// Sizes: each stride-2 convolution gives ceil(n / 2), each transposed convolution 2n, so the output
// is 4 * ceil(n / 4): exactly the input's size when n is a multiple of 4 (pad other inputs to one,
// with reflection, and crop the output back; see examples/stylize.cpp).
template <template <int> class Norm = InstanceNormDefault>
using StyleTransformNet = layers::Sequential<
    layers::Named<"conv1", layers::Conv2d<3, 32, 9, layers::Reflect>>, layers::Named<"conv1.norm", Norm<32>>,
    layers::ReLU, layers::Named<"conv2", layers::Conv2d<32, 64, 3, layers::Reflect, layers::Stride<2>>>,
    layers::Named<"conv2.norm", Norm<64>>, layers::ReLU,
    layers::Named<"conv3", layers::Conv2d<64, 128, 3, layers::Reflect, layers::Stride<2>>>,
    layers::Named<"conv3.norm", Norm<128>>, layers::ReLU, layers::Named<"res1", TransformResidualBlock<128, Norm>>,
    layers::Named<"res2", TransformResidualBlock<128, Norm>>, layers::Named<"res3", TransformResidualBlock<128, Norm>>,
    layers::Named<"res4", TransformResidualBlock<128, Norm>>, layers::Named<"res5", TransformResidualBlock<128, Norm>>,
    layers::Named<"deconv1", layers::ConvTranspose2d<128, 64, 3, layers::Stride<2>>>,
    layers::Named<"deconv1.norm", Norm<64>>, layers::ReLU,
    layers::Named<"deconv2", layers::ConvTranspose2d<64, 32, 3, layers::Stride<2>>>,
    layers::Named<"deconv2.norm", Norm<32>>, layers::ReLU,
    layers::Named<"conv_out", layers::Conv2d<32, 3, 9, layers::Reflect>>, layers::ScaledTanh<>>;

// The style net's inputs must be multiples of this for the output to have the input's size.
inline constexpr int style_transform_multiple = 4;

static_assert(concepts::layer<StyleTransformNet<>>);
static_assert(concepts::layer<StyleTransformNet<BatchNormDefault>>);
static_assert(StyleTransformNet<>::in_channels == 3 && StyleTransformNet<>::out_channels == 3);
static_assert(StyleTransformNet<>::output_size({256, 256}) == Size2{256, 256},
              "StyleTransformNet: a 256x256 input must give a 256x256 output.");
static_assert(StyleTransformNet<>::output_size({255, 257}) == Size2{256, 260},
              "StyleTransformNet: other sizes come out as 4 * ceil(n / 4).");

namespace detail {

template <class... Seqs>
struct sequential_cat;
template <class... A>
struct sequential_cat<layers::Sequential<A...>> {
  using type = layers::Sequential<A...>;
};
template <class... A, class... B, class... Rest>
struct sequential_cat<layers::Sequential<A...>, layers::Sequential<B...>, Rest...> {
  using type = typename sequential_cat<layers::Sequential<A..., B...>, Rest...>::type;
};

// One x2 upsampling stage of the super-resolution net: fractionally strided conv, norm, ReLU.
// The names go on as copies (pass_name, see layers/compose.hpp: nvcc needs it).
template <layers::detail::FixedString Name, layers::detail::FixedString NormName, template <int> class Norm>
using SrUpsample = layers::Sequential<
    layers::Named<layers::detail::pass_name(Name), layers::ConvTranspose2d<64, 64, 3, layers::Stride<2>>>,
    layers::Named<layers::detail::pass_name(NormName), Norm<64>>, layers::ReLU>;

template <int Factor, template <int> class Norm>
struct super_resolution_net {
  static_assert(Factor == 4 || Factor == 8, "SuperResolutionNet: the upsampling factor must be 4 or 8.");

  using head = layers::Sequential<
      layers::Named<"conv1", layers::Conv2d<3, 64, 9, layers::Reflect>>, layers::Named<"conv1.norm", Norm<64>>,
      layers::ReLU, layers::Named<"res1", TransformResidualBlock<64, Norm>>,
      layers::Named<"res2", TransformResidualBlock<64, Norm>>, layers::Named<"res3", TransformResidualBlock<64, Norm>>,
      layers::Named<"res4", TransformResidualBlock<64, Norm>>>;
  using up4 = typename sequential_cat<SrUpsample<"deconv1", "deconv1.norm", Norm>,
                                      SrUpsample<"deconv2", "deconv2.norm", Norm>>::type;
  // log2(Factor) stages.
  using ups = std::conditional_t<Factor == 4, up4,
                                 typename sequential_cat<up4, SrUpsample<"deconv3", "deconv3.norm", Norm>>::type>;
  using tail =
      layers::Sequential<layers::Named<"conv_out", layers::Conv2d<64, 3, 9, layers::Reflect>>, layers::ScaledTanh<>>;
  using type = typename sequential_cat<head, ups, tail>::type;
};

}  // namespace detail

// Output = Factor x input, for any input of at least 5x5 (the 9x9 reflection needs 4 pixels).
template <int Factor, template <int> class Norm = InstanceNormDefault>
using SuperResolutionNet = typename detail::super_resolution_net<Factor, Norm>::type;

static_assert(concepts::layer<SuperResolutionNet<4>> && concepts::layer<SuperResolutionNet<8>>);
static_assert(SuperResolutionNet<4>::output_size({72, 72}) == Size2{288, 288},
              "SuperResolutionNet<4>: a 72x72 input must give 288x288.");
static_assert(SuperResolutionNet<8>::output_size({37, 50}) == Size2{296, 400},
              "SuperResolutionNet<8>: a 37x50 input must give 296x400.");

}  // namespace perceptual::nets
