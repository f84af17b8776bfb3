#pragma once
// Histogram matching (exact, per image and channel): the post-processing Johnson et al. apply to
// their super-resolution outputs (sec. 4.2), matching each channel to the bicubic upsampling.
#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/host.hpp"

namespace perceptual::io {

// For each image n and channel c, maps x's values monotonically so that their histogram follows
// reference's (same n and c; H and W may differ): each distinct value v of the plane, at quantile
// q(v) = (how many values <= v) / (plane size), becomes the reference's value at quantile q,
// linearly interpolated between the reference's distinct values and their quantiles (below the
// reference's first quantile, its smallest value). The classic algorithm, as skimage's
// match_histograms: equal values stay equal, order is kept, and a plane with as many pixels as
// the reference and no ties gets exactly the reference's values.
// requires: x and reference with the same N and C, neither empty (else ShapeError naming both).
template <class T>
Tensor<T, Cpu> match_histograms(const Tensor<T, Cpu>& x, const Tensor<T, Cpu>& reference) {
  if (x.n() != reference.n() || x.c() != reference.c() || x.empty() || reference.empty())
    throw ShapeError("match_histograms: image " + to_string(x.shape()) + " and reference " +
                     to_string(reference.shape()) + ": expected the same N and C and some pixels");
  Tensor<T, Cpu> out(x.shape());
  const std::size_t plane = x.shape().plane(), ref_plane = reference.shape().plane();
  std::vector<std::size_t> order(plane);
  std::vector<double> ref_values, ref_quantiles;
  for (std::size_t p = 0; p < static_cast<std::size_t>(x.n()) * x.c(); ++p) {
    // The reference's distinct values and the fraction of its pixels at or below each.
    std::vector<T> ref(reference.data() + p * ref_plane, reference.data() + (p + 1) * ref_plane);
    std::sort(ref.begin(), ref.end());
    ref_values.clear();
    ref_quantiles.clear();
    for (std::size_t i = 0; i < ref.size(); ++i)
      if (i + 1 == ref.size() || ref[i + 1] != ref[i]) {
        ref_values.push_back(static_cast<double>(ref[i]));
        ref_quantiles.push_back(static_cast<double>(i + 1) / static_cast<double>(ref_plane));
      }
    // np.interp(q, ref_quantiles, ref_values): clamped at both ends.
    const auto lookup = [&](double q) {
      const auto it = std::lower_bound(ref_quantiles.begin(), ref_quantiles.end(), q);
      if (it == ref_quantiles.begin()) return ref_values.front();
      if (it == ref_quantiles.end()) return ref_values.back();
      const std::size_t k = static_cast<std::size_t>(it - ref_quantiles.begin());
      const double t = (q - ref_quantiles[k - 1]) / (ref_quantiles[k] - ref_quantiles[k - 1]);
      return ref_values[k - 1] + t * (ref_values[k] - ref_values[k - 1]);
    };
    const T* in = x.data() + p * plane;
    T* o = out.data() + p * plane;
    for (std::size_t i = 0; i < plane; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return in[a] < in[b]; });
    for (std::size_t i = 0; i < plane;) {  // a run of equal values shares the quantile of its last
      std::size_t j = i + 1;
      while (j < plane && in[order[j]] == in[order[i]]) ++j;
      const T v = static_cast<T>(lookup(static_cast<double>(j) / static_cast<double>(plane)));
      for (; i < j; ++i) o[order[i]] = v;
    }
  }
  return out;
}

}  // namespace perceptual::io
