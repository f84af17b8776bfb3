#pragma once
// Normalisation layers: InstanceNorm<C> (Ulyanov et al., the style networks' choice) and
// BatchNorm<C> (Johnson et al.'s original transform net), with options Eps<value>,
// Momentum<value> (BatchNorm) and NoAffine.
#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "perceptual/core/concepts.hpp"
#include "perceptual/core/epilogue.hpp"
#include "perceptual/dist/sync_batch_norm.hpp"
#include "perceptual/layers/shared_statistics.hpp"

namespace perceptual::layers {

namespace detail {

// "0.001" rather than std::to_string's "0.001000", for names such as "Eps<0.001>".
inline std::string norm_option_number(double value) {
  std::ostringstream s;
  s << value;
  return s.str();
}

}  // namespace detail

// Option: the epsilon added to the variance. The default, 1e-5, is PyTorch's; networks trained
// in TensorFlow (lengstrom/fast-style-transfer) need Eps<1e-3>.
template <double Value>
struct Eps {
  static_assert(Value > 0, "Eps: the epsilon must be positive.");
  static constexpr double value = Value;
  static std::string name() { return "Eps<" + detail::norm_option_number(Value) + ">"; }
};

// Option: how far one training step moves BatchNorm's running statistics (default 0.1, PyTorch's).
template <double Value>
struct Momentum {
  static_assert(Value >= 0 && Value <= 1, "Momentum: the momentum must lie in [0, 1].");
  static constexpr double value = Value;
  static std::string name() { return "Momentum<" + detail::norm_option_number(Value) + ">"; }
};

// Option: no learned scale and shift (PyTorch's affine=False); the layer has no parameters.
struct NoAffine {
  static std::string name() { return "NoAffine"; }
};

namespace detail {

template <class O>
inline constexpr bool is_eps_option = false;
template <double V>
inline constexpr bool is_eps_option<Eps<V>> = true;
template <class O>
inline constexpr bool is_momentum_option = false;
template <double V>
inline constexpr bool is_momentum_option<Momentum<V>> = true;

template <class O>
constexpr double eps_or(double fallback) {
  if constexpr (is_eps_option<O>)
    return O::value;
  else
    return fallback;
}
template <class O>
constexpr double momentum_or(double fallback) {
  if constexpr (is_momentum_option<O>)
    return O::value;
  else
    return fallback;
}

// The type forward saves each group's mean and 1/sqrt(var + eps) in for backward: the scalar,
// but at least float. In bf16 (8 significant bits) a mean of 100 is off by up to 0.25, a quarter
// of a unit spread, and backward's x_hat = (x - mean) * inv_std carries that shift into every
// gradient; a float costs 4 bytes per (sample, channel).
template <class T>
using norm_statistic_t = std::conditional_t<(sizeof(T) < sizeof(float)), float, T>;

// Each channel's mean and biased variance, in double on the host, from what a norm's forward
// saves (the mean and 1 / sqrt(var + eps)); a variance that rounding takes below 0 is 0.
template <class S, class B>
std::pair<std::vector<double>, std::vector<double>> saved_moments(const Tensor<S, B>& mean, const Tensor<S, B>& inv_std,
                                                                  double eps) {
  const auto m = mean.to_host(), s = inv_std.to_host();
  std::vector<double> means(m.size()), variances(m.size());
  for (std::size_t c = 0; c < m.size(); ++c) {
    const double i = static_cast<double>(s[c]);
    means[c] = static_cast<double>(m[c]);
    variances[c] = std::max(0.0, 1 / (i * i) - eps);
  }
  return {means, variances};
}

// Per-channel values as the 1 x C x 1 x 1 tensor of T on B that the norm ops take (bf16 through float).
template <class T, class B>
Tensor<T, B> channel_tensor(const std::vector<double>& values) {
  std::vector<T> v(values.size());
  for (std::size_t c = 0; c < v.size(); ++c) v[c] = static_cast<T>(static_cast<norm_statistic_t<T>>(values[c]));
  return Tensor<T, B>::from_host({1, static_cast<int>(v.size()), 1, 1}, v);
}

// The options of a normalisation layer, each with its default when absent.
template <class... Opts>
struct NormOptions {
  static_assert((int(is_eps_option<Opts>) + ... + 0) <= 1, "InstanceNorm/BatchNorm: give Eps at most once.");
  static_assert((int(is_momentum_option<Opts>) + ... + 0) <= 1, "BatchNorm: give Momentum at most once.");

  static constexpr bool affine = !(std::is_same_v<Opts, NoAffine> || ...);
  static constexpr double eps = [] {
    double e = 1e-5;
    ((e = eps_or<Opts>(e)), ...);
    return e;
  }();
  static constexpr double momentum = [] {
    double m = 0.1;
    ((m = momentum_or<Opts>(m)), ...);
    return m;
  }();

  // "InstanceNorm<64,Eps<0.001>,NoAffine>": the channel count, then the options as given.
  // Appended piece by piece: GCC 12 sees `"<" + std::to_string(c)` inlined in a .cu file's host
  // code as an overlapping memcpy (-Wrestrict, a false positive: GCC bug 105329).
  static std::string name(const char* layer, int channels) {
    std::string s = layer;
    s += '<';
    s += std::to_string(channels);
    ((s += ',', s += Opts::name()), ...);
    s += '>';
    return s;
  }
};

// The forward passes of both norms: y = epilogue(norm(x)) into a new tensor, or over a temporary
// that nothing else holds when backward will not read it (under NoGrad). Impl::normalize(x, y,
// epilogue) computes into y, which may be x.
template <class Impl, class B, class T>
class NormForward : public ModuleBase<B, T> {
 public:
  Tensor<T, B> forward(const Tensor<T, B>& x, const NormEpilogue<T, B>& epilogue = {}) {
    Tensor<T, B> y(x.shape(), uninitialized);
    static_cast<Impl&>(*this).normalize(x, y, epilogue);
    return y;
  }
  Tensor<T, B> forward(Tensor<T, B>&& x, const NormEpilogue<T, B>& epilogue = {}) {
    if (gradients_enabled() || x.is_shared()) return forward(std::as_const(x), epilogue);
    Tensor<T, B> y = std::move(x);
    static_cast<Impl&>(*this).normalize(y, y, epilogue);
    return y;
  }
};

}  // namespace detail

// y = (x - mean) / sqrt(var + eps) * weight + bias, with the mean and biased variance of each
// sample's channel over H and W: the same in training and evaluation.
template <int C, class... Opts>
struct InstanceNorm {
  static_assert(C > 0, "InstanceNorm: the channel count must be positive.");
  static_assert(((detail::is_eps_option<Opts> || std::is_same_v<Opts, NoAffine>)&&...),
                "InstanceNorm: the options are Eps<value> and NoAffine.");
  using options = detail::NormOptions<Opts...>;

  static constexpr int in_channels = C;
  static constexpr int out_channels = C;
  static constexpr double eps = options::eps;
  static constexpr bool affine = options::affine;
  static constexpr Size2 output_size(Size2 s) { return s; }
  static std::string name() { return options::name("InstanceNorm", C); }

  template <class B, class T>
  class impl : public detail::NormForward<impl<B, T>, B, T> {
    friend detail::NormForward<impl, B, T>;

   public:
    impl() { fill(weight_, T(1)); }

    Tensor<T, B> backward(const Tensor<T, B>& dy) {
      require_forward(x_, name());
      require_same_shape(x_, dy, name());
      const bool grads = affine && this->trainable();
      return instance_norm_backward(x_, dy, weight_, mean_, inv_std_, grads ? &dweight_ : nullptr,
                                    grads ? &dbias_ : nullptr);
    }
    Parameters<T, B> parameters() {
      if constexpr (affine)
        return {{"weight", &weight_, &dweight_}, {"bias", &bias_, &dbias_}};
      else
        return {};
    }

   private:
    void normalize(const Tensor<T, B>& x, Tensor<T, B>& y, const NormEpilogue<T, B>& epilogue) {
      require_channels(x, C, name());
      if (InstanceNormHistory* history = shared_instance_norm()) return normalize_shared(*history, x, y, epilogue);
      x_ = saved_for_backward(x);
      instance_norm_forward(x, weight_, bias_, eps, mean_, inv_std_, y, epilogue);
    }

    // Inside a SharedInstanceNorm scope (layers/shared_statistics.hpp): this frame's statistics,
    // from the usual kernel into a scratch tensor (y may be x itself, which must survive until the
    // average is known), blended into the history, then batch norm's fixed-statistics kernel.
    void normalize_shared(InstanceNormHistory& history, const Tensor<T, B>& x, Tensor<T, B>& y,
                          const NormEpilogue<T, B>& epilogue) {
      if (gradients_enabled())
        throw Error(name() + ": shared instance-norm statistics are for inference; open a NoGrad scope too");
      if (x.n() != 1)
        throw ShapeError(name() + ": shared instance-norm statistics take one image at a time, not " +
                         to_string(x.shape()));
      x_ = Tensor<T, B>{};
      Tensor<T, B> scratch(x.shape(), uninitialized);
      instance_norm_forward(x, weight_, bias_, eps, mean_, inv_std_, scratch, {});
      auto [mean, var] = detail::saved_moments(mean_, inv_std_, eps);
      history.blend_next(name(), mean, var);
      batch_norm_forward_inference(x, weight_, bias_, detail::channel_tensor<T, B>(mean),
                                   detail::channel_tensor<T, B>(var), eps, y, epilogue);
    }

    // Without affine, weight stays 1 and bias 0, so one kernel serves both.
    Tensor<T, B> weight_{Shape4{1, C, 1, 1}}, bias_{Shape4{1, C, 1, 1}};
    Tensor<T, B> dweight_{Shape4{1, C, 1, 1}}, dbias_{Shape4{1, C, 1, 1}};
    Tensor<T, B> x_;  // saved by forward for backward, with the statistics
    Tensor<detail::norm_statistic_t<T>, B> mean_, inv_std_;
  };
};

// Training: normalises with the batch's per-channel statistics over N, H and W (biased
// variance) and moves running_mean and running_var towards them by the momentum (the unbiased
// variance, as PyTorch). Evaluation: normalises with the running statistics. Inside a
// dist::SyncBatchNorm scope of several ranks, training takes the global batch's statistics.
template <int C, class... Opts>
struct BatchNorm {
  static_assert(C > 0, "BatchNorm: the channel count must be positive.");
  static_assert(((detail::is_eps_option<Opts> || detail::is_momentum_option<Opts> ||
                  std::is_same_v<Opts, NoAffine>)&&...),
                "BatchNorm: the options are Eps<value>, Momentum<value> and NoAffine.");
  using options = detail::NormOptions<Opts...>;

  static constexpr int in_channels = C;
  static constexpr int out_channels = C;
  static constexpr double eps = options::eps;
  static constexpr double momentum = options::momentum;
  static constexpr bool affine = options::affine;
  static constexpr Size2 output_size(Size2 s) { return s; }
  static std::string name() { return options::name("BatchNorm", C); }

  template <class B, class T>
  class impl : public detail::NormForward<impl<B, T>, B, T> {
    friend detail::NormForward<impl, B, T>;

   public:
    impl() {
      fill(weight_, T(1));
      fill(running_var_, T(1));
    }

    // Follows the mode of the forward pass before it.
    Tensor<T, B> backward(const Tensor<T, B>& dy) {
      require_forward(x_, name());
      require_same_shape(x_, dy, name());
      const bool grads = affine && this->trainable();
      Tensor<T, B>* dweight = grads ? &dweight_ : nullptr;
      Tensor<T, B>* dbias = grads ? &dbias_ : nullptr;
      if (ranks_) return backward_synchronized(dy, dweight, dbias);
      if (batch_statistics_) return batch_norm_backward(x_, dy, weight_, mean_, inv_std_, dweight, dbias);
      return batch_norm_backward_inference(x_, dy, weight_, running_mean_, running_var_, eps, dweight, dbias);
    }
    // PyTorch's state-dict names; running statistics are state (grad nullptr), saved, not learned.
    Parameters<T, B> parameters() {
      Parameters<T, B> out;
      if constexpr (affine) out = {{"weight", &weight_, &dweight_}, {"bias", &bias_, &dbias_}};
      out.push_back({"running_mean", &running_mean_, nullptr});
      out.push_back({"running_var", &running_var_, nullptr});
      return out;
    }

   private:
    void normalize(const Tensor<T, B>& x, Tensor<T, B>& y, const NormEpilogue<T, B>& epilogue) {
      require_channels(x, C, name());
      x_ = saved_for_backward(x);
      batch_statistics_ = this->training();
      ranks_ = batch_statistics_ ? dist::synchronized_batch_norm() : nullptr;
      if (!batch_statistics_)
        return batch_norm_forward_inference(x, weight_, bias_, running_mean_, running_var_, eps, y, epilogue);
      if (ranks_) return normalize_synchronized(x, y, epilogue);
      if (x.n() * x.shape().plane() < 2)
        throw ShapeError(name() + ": input " + to_string(x.shape()) +
                         " has one value per channel; training needs more (or use eval())");
      batch_norm_forward_training(x, weight_, bias_, eps, momentum, running_mean_, running_var_, mean_, inv_std_, y,
                                  epilogue);
    }

    // Synchronised (see dist/sync_batch_norm.hpp), from the ops of one process. Forward: the
    // shard's mean and biased variance (batch_norm_forward_training with momentum 0 on copies of
    // the running statistics, its output unused), as per-channel count, sum and sum of squares in
    // double, summed over the ranks; then y with the global mean and variance as fixed statistics
    // (batch_norm_forward_inference, epilogue included), and the running statistics moved towards
    // them. The sums come from the shard's variance about its own mean, so that the cancellation
    // in E[x^2] - E[x]^2 is of doubles, not of float activations.
    void normalize_synchronized(const Tensor<T, B>& x, Tensor<T, B>& y, const NormEpilogue<T, B>& epilogue) {
      if constexpr (sizeof(T) < sizeof(float)) {
        throw ArgumentError(name() +
                            ": synchronised batch norm keeps the global statistics in the layer's type, "
                            "too coarse in bf16: train in float");
      } else {
        Tensor<T, B> unused_mean = running_mean_, unused_var = running_var_, unused(x.shape(), uninitialized);
        batch_norm_forward_training(x, weight_, bias_, eps, 0.0, unused_mean, unused_var, mean_, inv_std_, unused, {});
        const auto [shard_mean, shard_var] = detail::saved_moments(mean_, inv_std_, eps);
        const double count = static_cast<double>(x.n()) * static_cast<double>(x.shape().plane());
        std::vector<double> sums(1 + 2 * C);  // count, then each channel's sum, then its sum of squares
        sums[0] = count;
        for (int c = 0; c < C; ++c) {
          sums[1 + c] = count * shard_mean[c];
          sums[1 + C + c] = count * (shard_var[c] + shard_mean[c] * shard_mean[c]);
        }
        ranks_->sum(sums);
        global_count_ = sums[0];
        shard_count_ = count;
        std::vector<double> mean(C), variance(C), running_mean(C), running_var(C);
        const auto old_mean = running_mean_.to_host(), old_var = running_var_.to_host();
        for (int c = 0; c < C; ++c) {
          mean[c] = sums[1 + c] / global_count_;
          variance[c] = std::max(0.0, sums[1 + C + c] / global_count_ - mean[c] * mean[c]);
          running_mean[c] = (1 - momentum) * old_mean[c] + momentum * mean[c];
          running_var[c] = (1 - momentum) * old_var[c] + momentum * variance[c] * global_count_ / (global_count_ - 1);
        }
        global_mean_ = detail::channel_tensor<T, B>(mean);
        global_var_ = detail::channel_tensor<T, B>(variance);
        running_mean_ = detail::channel_tensor<T, B>(running_mean);
        running_var_ = detail::channel_tensor<T, B>(running_var);
        batch_norm_forward_inference(x, weight_, bias_, global_mean_, global_var_, eps, y, epilogue);
      }
    }

    // The global batch's loss is sum_r (m_r / M) L_r over the ranks' shards (m_r values per channel
    // of M); each rank's dy is its own L_r's, and combine_gradients weights what comes out by
    // m_r / M. So, with the global statistics, this rank's dx in L_r's units is
    //   gamma * inv_std * (dy - (S1 + x_hat * S2) / m_r),
    // S1 and S2 the sums over the ranks of (m_r / M) * sum(dy) and (m_r / M) * sum(dy * x_hat) per
    // channel: batch_norm_backward_inference's gamma * inv_std * dy (which also gives this shard's
    // two sums, the bias and weight gradients), plus a per-channel affine map of x.
    Tensor<T, B> backward_synchronized(const Tensor<T, B>& dy, Tensor<T, B>* dweight, Tensor<T, B>* dbias) {
      const Shape4 channels{1, C, 1, 1};
      Tensor<T, B> sum_dy_xhat(channels), sum_dy(channels);
      Tensor<T, B> dx =
          batch_norm_backward_inference(x_, dy, weight_, global_mean_, global_var_, eps, &sum_dy_xhat, &sum_dy);
      if (dweight) axpy(*dweight, T(1), sum_dy_xhat);
      if (dbias) axpy(*dbias, T(1), sum_dy);
      const auto s1 = sum_dy.to_host(), s2 = sum_dy_xhat.to_host();
      const double share = shard_count_ / global_count_;
      std::vector<double> sums(2 * C);
      for (int c = 0; c < C; ++c) {
        sums[c] = share * s1[c];
        sums[C + c] = share * s2[c];
      }
      ranks_->sum(sums);
      const auto gamma = weight_.to_host(), mean = global_mean_.to_host(), variance = global_var_.to_host();
      std::vector<T> scale(C), shift(C);
      for (int c = 0; c < C; ++c) {
        const double inv_std = 1 / std::sqrt(static_cast<double>(variance[c]) + eps);
        const double k = -static_cast<double>(gamma[c]) * inv_std / shard_count_;
        // k * (S1 + (x - mean) * inv_std * S2) = x * scale + shift
        scale[c] = static_cast<T>(k * inv_std * sums[C + c]);
        shift[c] = static_cast<T>(k * (sums[c] - static_cast<double>(mean[c]) * inv_std * sums[C + c]));
      }
      return add(dx, channel_affine(x_, scale, shift));
    }

    Tensor<T, B> weight_{Shape4{1, C, 1, 1}}, bias_{Shape4{1, C, 1, 1}};
    Tensor<T, B> dweight_{Shape4{1, C, 1, 1}}, dbias_{Shape4{1, C, 1, 1}};
    Tensor<T, B> running_mean_{Shape4{1, C, 1, 1}}, running_var_{Shape4{1, C, 1, 1}};
    Tensor<T, B> x_;  // saved by forward for backward, with the statistics
    Tensor<detail::norm_statistic_t<T>, B> mean_, inv_std_;
    bool batch_statistics_ = true;
    // Synchronised: the ranks (nullptr otherwise), the global batch's statistics and the values per
    // channel of this shard and of the global batch, from forward for backward.
    dist::Communicator* ranks_ = nullptr;
    Tensor<T, B> global_mean_, global_var_;
    double shard_count_ = 0, global_count_ = 0;
  };
};

}  // namespace perceptual::layers
