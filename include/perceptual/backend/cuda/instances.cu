// The CUDA backend's operations, explicitly instantiated for every scalar the library runs on the
// GPU (float, double, bf16) and the wider types bf16 keeps some values in (float Gram matrices,
// norm statistics and Adam moments): the one file nvcc compiles, once, so that programs compiled
// by a host compiler include the declarations (cuda.hpp) and link these (CMake's
// perceptual::cuda_instances). One macro per operation header, for one scalar T.
#include "perceptual/backend/cuda/cuda.hpp"

namespace perceptual::cuda {

#define PERCEPTUAL_CUDA_POINTWISE(T)                                                                             \
  template void fill(Tensor<T, Cuda>&, T);                                                                       \
  template void axpy(Tensor<T, Cuda>&, T, const Tensor<T, Cuda>&);                                               \
  template void scale(Tensor<T, Cuda>&, T);                                                                      \
  template Tensor<T, Cuda> add(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&);                                  \
  template Tensor<T, Cuda> channel_affine(const Tensor<T, Cuda>&, const std::vector<T>&, const std::vector<T>&); \
  template double sum(const Tensor<T, Cuda>&);                                                                   \
  template double dot(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&);

#define PERCEPTUAL_CUDA_CONV(T)                                                                                       \
  template Tensor<T, Cuda> conv2d_forward(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&, const ConvGeometry&);       \
  template Tensor<T, Cuda> conv2d_forward(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&, const Tensor<T, Cuda>&,     \
                                          const ConvGeometry&);                                                       \
  template Tensor<T, Cuda> conv2d_backward_data(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&, const ConvGeometry&); \
  template Tensor<T, Cuda> conv2d_backward_filter(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&,                     \
                                                  const ConvGeometry&);                                               \
  template void add_bias(Tensor<T, Cuda>&, const Tensor<T, Cuda>&);                                                   \
  template Tensor<T, Cuda> bias_backward(const Tensor<T, Cuda>&);

#define PERCEPTUAL_CUDA_PAD(T)                                                      \
  template Tensor<T, Cuda> reflect_pad(const Tensor<T, Cuda>&, int, int, int, int); \
  template Tensor<T, Cuda> reflect_pad_backward(const Tensor<T, Cuda>&, int, int, int, int);

#define PERCEPTUAL_CUDA_ACTIVATION(T)                                                            \
  template void relu_forward(const Tensor<T, Cuda>&, Tensor<T, Cuda>&);                          \
  template Tensor<T, Cuda> relu_forward(const Tensor<T, Cuda>&);                                 \
  template void relu_backward(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&, Tensor<T, Cuda>&); \
  template Tensor<T, Cuda> relu_backward(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&);        \
  template Tensor<T, Cuda> scaled_tanh_forward(const Tensor<T, Cuda>&, T, T, T, T);              \
  template Tensor<T, Cuda> scaled_tanh_backward(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&, T, T, T, T);

// S: the statistics' scalar (T, or float for bf16).
#define PERCEPTUAL_CUDA_NORM(T, S)                                                                                     \
  template void instance_norm_forward(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&, const Tensor<T, Cuda>&, double,  \
                                      Tensor<S, Cuda>&, Tensor<S, Cuda>&, Tensor<T, Cuda>&,                            \
                                      const NormEpilogue<T, Cuda>&);                                                   \
  template Tensor<T, Cuda> instance_norm_forward(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&,                       \
                                                 const Tensor<T, Cuda>&, double, Tensor<S, Cuda>&, Tensor<S, Cuda>&);  \
  template Tensor<T, Cuda> instance_norm_backward(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&,                      \
                                                  const Tensor<T, Cuda>&, const Tensor<S, Cuda>&,                      \
                                                  const Tensor<S, Cuda>&, Tensor<T, Cuda>*, Tensor<T, Cuda>*);         \
  template void batch_norm_forward_training(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&, const Tensor<T, Cuda>&,    \
                                            double, double, Tensor<T, Cuda>&, Tensor<T, Cuda>&, Tensor<S, Cuda>&,      \
                                            Tensor<S, Cuda>&, Tensor<T, Cuda>&, const NormEpilogue<T, Cuda>&);         \
  template Tensor<T, Cuda> batch_norm_forward_training(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&,                 \
                                                       const Tensor<T, Cuda>&, double, double, Tensor<T, Cuda>&,       \
                                                       Tensor<T, Cuda>&, Tensor<S, Cuda>&, Tensor<S, Cuda>&);          \
  template Tensor<T, Cuda> batch_norm_backward(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&, const Tensor<T, Cuda>&, \
                                               const Tensor<S, Cuda>&, const Tensor<S, Cuda>&, Tensor<T, Cuda>*,       \
                                               Tensor<T, Cuda>*);

// The batch norm operations without saved statistics.
#define PERCEPTUAL_CUDA_NORM_INFERENCE(T)                                                                              \
  template void batch_norm_forward_inference(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&, const Tensor<T, Cuda>&,   \
                                             const Tensor<T, Cuda>&, const Tensor<T, Cuda>&, double, Tensor<T, Cuda>&, \
                                             const NormEpilogue<T, Cuda>&);                                            \
  template Tensor<T, Cuda> batch_norm_forward_inference(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&,                \
                                                        const Tensor<T, Cuda>&, const Tensor<T, Cuda>&,                \
                                                        const Tensor<T, Cuda>&, double);                               \
  template Tensor<T, Cuda> batch_norm_backward_inference(                                                              \
      const Tensor<T, Cuda>&, const Tensor<T, Cuda>&, const Tensor<T, Cuda>&, const Tensor<T, Cuda>&,                  \
      const Tensor<T, Cuda>&, double, Tensor<T, Cuda>*, Tensor<T, Cuda>*);

#define PERCEPTUAL_CUDA_RESAMPLING(T)                                                            \
  template Tensor<T, Cuda> max_pool2x2_forward(const Tensor<T, Cuda>&);                          \
  template Tensor<T, Cuda> max_pool2x2_backward(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&); \
  template Tensor<T, Cuda> avg_pool2x2_forward(const Tensor<T, Cuda>&);                          \
  template Tensor<T, Cuda> avg_pool2x2_backward(const Tensor<T, Cuda>&, Shape4);                 \
  template Tensor<T, Cuda> upsample_nearest_forward(const Tensor<T, Cuda>&, int);                \
  template Tensor<T, Cuda> upsample_nearest_backward(const Tensor<T, Cuda>&, int);

// G: the Gram matrices' scalar (detail::compute_t<T>); gram_backward takes a gradient in either.
#define PERCEPTUAL_CUDA_LOSS(T)                                                                  \
  template Tensor<detail::compute_t<T>, Cuda> gram_forward(const Tensor<T, Cuda>&);              \
  template Tensor<T, Cuda> gram_backward(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&);        \
  template double squared_distance(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&);              \
  template Tensor<T, Cuda> scaled_difference(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&, T); \
  template double total_variation_forward(const Tensor<T, Cuda>&, T, T);                         \
  template Tensor<T, Cuda> total_variation_backward(const Tensor<T, Cuda>&, T, T);

// M: Adam's moments' scalar (detail::compute_t<T>).
#define PERCEPTUAL_CUDA_OPTIM(T, M)                                                                               \
  template void adam_update(Tensor<T, Cuda>&, const Tensor<T, Cuda>&, Tensor<M, Cuda>&, Tensor<M, Cuda>&, double, \
                            double, double, double, std::int64_t);                                                \
  template void box_project(Tensor<T, Cuda>&, T, T);                                                              \
  template std::size_t box_free_mask(Tensor<T, Cuda>&, const Tensor<T, Cuda>&, const Tensor<T, Cuda>&, T, T);     \
  template void apply_mask(Tensor<T, Cuda>&, const Tensor<T, Cuda>&);                                             \
  template void box_mask_direction(Tensor<T, Cuda>&, const Tensor<T, Cuda>&, const Tensor<T, Cuda>&, T, T);       \
  template double box_projected_gradient_max(const Tensor<T, Cuda>&, const Tensor<T, Cuda>&, T, T);               \
  template double max_abs(const Tensor<T, Cuda>&);                                                                \
  template double abs_sum(const Tensor<T, Cuda>&);

#define PERCEPTUAL_CUDA_ALL(T, Wide) \
  PERCEPTUAL_CUDA_POINTWISE(T)       \
  PERCEPTUAL_CUDA_CONV(T)            \
  PERCEPTUAL_CUDA_PAD(T)             \
  PERCEPTUAL_CUDA_ACTIVATION(T)      \
  PERCEPTUAL_CUDA_NORM(T, Wide)      \
  PERCEPTUAL_CUDA_NORM_INFERENCE(T)  \
  PERCEPTUAL_CUDA_RESAMPLING(T)      \
  PERCEPTUAL_CUDA_LOSS(T)            \
  PERCEPTUAL_CUDA_OPTIM(T, Wide)

PERCEPTUAL_CUDA_ALL(float, float)
PERCEPTUAL_CUDA_ALL(double, double)
PERCEPTUAL_CUDA_ALL(bf16, float)
// bf16 features' Gram gradient in the Gram's float (the style loss's).
template Tensor<bf16, Cuda> gram_backward(const Tensor<bf16, Cuda>&, const Tensor<float, Cuda>&);
// Statistics kept in bf16, as the layers once did (tests/cuda/norm_test.cpp shows why they no longer do).
PERCEPTUAL_CUDA_NORM(bf16, bf16)

}  // namespace perceptual::cuda
