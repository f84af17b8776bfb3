#pragma once
// A stub backend for checking concepts::backend: storage and every operation declared, nothing
// defined (a concept looks at declarations only), and variants that lack one operation.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "perceptual/core/backend.hpp"
#include "perceptual/core/concepts.hpp"

namespace perceptual::testing::stub {

// What a stub backend lacks: nothing; the into-form of relu_backward, which ReLU's in-place
// backward calls; or the geometry: its conv2d_forward still takes seven integers.
enum class Lacks { nothing, relu_backward_into, geometry };

template <Lacks L>
struct Backend {
  template <class T>
  using buffer = perceptual::detail::ProbeBackend::buffer<T>;
};

template <class T, Lacks L>
using Tensor = perceptual::Tensor<T, Backend<L>>;

template <class T, Lacks L>
void fill(Tensor<T, L>&, T);
template <class T, Lacks L>
void scale(Tensor<T, L>&, T);
template <class T, Lacks L>
void axpy(Tensor<T, L>&, T, const Tensor<T, L>&);
template <class T, Lacks L>
Tensor<T, L> add(const Tensor<T, L>&, const Tensor<T, L>&);
template <class T, Lacks L>
Tensor<T, L> channel_affine(const Tensor<T, L>&, const std::vector<T>&, const std::vector<T>&);
template <class T, Lacks L>
double sum(const Tensor<T, L>&);
template <class T, Lacks L>
double dot(const Tensor<T, L>&, const Tensor<T, L>&);

template <class T, Lacks L>
requires(L != Lacks::geometry) Tensor<T, L> conv2d_forward(const Tensor<T, L>&, const Tensor<T, L>&,
                                                           const ConvGeometry&);
template <class T>
Tensor<T, Lacks::geometry> conv2d_forward(const Tensor<T, Lacks::geometry>&, const Tensor<T, Lacks::geometry>&, int,
                                          int, int, int, int);
template <class T, Lacks L>
Tensor<T, L> conv2d_forward(const Tensor<T, L>&, const Tensor<T, L>&, const Tensor<T, L>&, const ConvGeometry&);
template <class T, Lacks L>
Tensor<T, L> conv2d_backward_data(const Tensor<T, L>&, const Tensor<T, L>&, const ConvGeometry&);
template <class T, Lacks L>
Tensor<T, L> conv2d_backward_filter(const Tensor<T, L>&, const Tensor<T, L>&, const ConvGeometry&);
template <class T, Lacks L>
void add_bias(Tensor<T, L>&, const Tensor<T, L>&);
template <class T, Lacks L>
Tensor<T, L> bias_backward(const Tensor<T, L>&);
template <class T, Lacks L>
Tensor<T, L> reflect_pad(const Tensor<T, L>&, int, int, int, int);
template <class T, Lacks L>
Tensor<T, L> reflect_pad_backward(const Tensor<T, L>&, int, int, int, int);

template <class T, Lacks L>
Tensor<T, L> relu_forward(const Tensor<T, L>&);
template <class T, Lacks L>
void relu_forward(const Tensor<T, L>&, Tensor<T, L>&);
template <class T, Lacks L>
Tensor<T, L> relu_backward(const Tensor<T, L>&, const Tensor<T, L>&);
template <class T, Lacks L>
requires(L != Lacks::relu_backward_into) void relu_backward(const Tensor<T, L>&, const Tensor<T, L>&, Tensor<T, L>&);
template <class T, Lacks L>
Tensor<T, L> scaled_tanh_forward(const Tensor<T, L>&, T, T, T, T);
template <class T, Lacks L>
Tensor<T, L> scaled_tanh_backward(const Tensor<T, L>&, const Tensor<T, L>&, T, T, T, T);

template <class T, Lacks L>
void instance_norm_forward(const Tensor<T, L>&, const Tensor<T, L>&, const Tensor<T, L>&, double, Tensor<T, L>&,
                           Tensor<T, L>&, Tensor<T, L>&, const NormEpilogue<T, Backend<L>>&);
template <class T, Lacks L>
Tensor<T, L> instance_norm_backward(const Tensor<T, L>&, const Tensor<T, L>&, const Tensor<T, L>&, const Tensor<T, L>&,
                                    const Tensor<T, L>&, Tensor<T, L>*, Tensor<T, L>*);
template <class T, Lacks L>
void batch_norm_forward_training(const Tensor<T, L>&, const Tensor<T, L>&, const Tensor<T, L>&, double, double,
                                 Tensor<T, L>&, Tensor<T, L>&, Tensor<T, L>&, Tensor<T, L>&, Tensor<T, L>&,
                                 const NormEpilogue<T, Backend<L>>&);
template <class T, Lacks L>
void batch_norm_forward_inference(const Tensor<T, L>&, const Tensor<T, L>&, const Tensor<T, L>&, const Tensor<T, L>&,
                                  const Tensor<T, L>&, double, Tensor<T, L>&, const NormEpilogue<T, Backend<L>>&);
template <class T, Lacks L>
Tensor<T, L> batch_norm_backward(const Tensor<T, L>&, const Tensor<T, L>&, const Tensor<T, L>&, const Tensor<T, L>&,
                                 const Tensor<T, L>&, Tensor<T, L>*, Tensor<T, L>*);
template <class T, Lacks L>
Tensor<T, L> batch_norm_backward_inference(const Tensor<T, L>&, const Tensor<T, L>&, const Tensor<T, L>&,
                                           const Tensor<T, L>&, const Tensor<T, L>&, double, Tensor<T, L>*,
                                           Tensor<T, L>*);

template <class T, Lacks L>
Tensor<T, L> max_pool2x2_forward(const Tensor<T, L>&);
template <class T, Lacks L>
Tensor<T, L> max_pool2x2_backward(const Tensor<T, L>&, const Tensor<T, L>&);
template <class T, Lacks L>
Tensor<T, L> avg_pool2x2_forward(const Tensor<T, L>&);
template <class T, Lacks L>
Tensor<T, L> avg_pool2x2_backward(const Tensor<T, L>&, Shape4);
template <class T, Lacks L>
Tensor<T, L> upsample_nearest_forward(const Tensor<T, L>&, int);
template <class T, Lacks L>
Tensor<T, L> upsample_nearest_backward(const Tensor<T, L>&, int);

template <class T, Lacks L>
Tensor<T, L> gram_forward(const Tensor<T, L>&);
template <class T, Lacks L>
Tensor<T, L> gram_backward(const Tensor<T, L>&, const Tensor<T, L>&);
template <class T, Lacks L>
double squared_distance(const Tensor<T, L>&, const Tensor<T, L>&);
template <class T, Lacks L>
Tensor<T, L> scaled_difference(const Tensor<T, L>&, const Tensor<T, L>&, T);
template <class T, Lacks L>
double total_variation_forward(const Tensor<T, L>&, T, T);
template <class T, Lacks L>
Tensor<T, L> total_variation_backward(const Tensor<T, L>&, T, T);

template <class T, Lacks L>
void adam_update(Tensor<T, L>&, const Tensor<T, L>&, Tensor<T, L>&, Tensor<T, L>&, double, double, double, double,
                 std::int64_t);
template <class T, Lacks L>
void box_project(Tensor<T, L>&, T, T);
template <class T, Lacks L>
std::size_t box_free_mask(Tensor<T, L>&, const Tensor<T, L>&, const Tensor<T, L>&, T, T);
template <class T, Lacks L>
void apply_mask(Tensor<T, L>&, const Tensor<T, L>&);
template <class T, Lacks L>
void box_mask_direction(Tensor<T, L>&, const Tensor<T, L>&, const Tensor<T, L>&, T, T);
template <class T, Lacks L>
double box_projected_gradient_max(const Tensor<T, L>&, const Tensor<T, L>&, T, T);
template <class T, Lacks L>
double max_abs(const Tensor<T, L>&);
template <class T, Lacks L>
double abs_sum(const Tensor<T, L>&);

}  // namespace perceptual::testing::stub
