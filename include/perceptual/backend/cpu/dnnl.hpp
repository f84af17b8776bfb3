#pragma once
// Float convolutions through oneDNN, the library PyTorch runs on the CPU: kernels JIT-compiled for
// this machine's ISA (AVX2, AVX-512), the CPU's counterpart of cuDNN. Tensors stay NCHW; each call
// hands them to oneDNN as they are (Layout::plain) or reorders them into the blocked layouts it
// picks for the geometry and back (Layout::blocked). oneDNN has no f64: double stays on im2col.
#include <oneapi/dnnl/dnnl.hpp>

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "perceptual/core/host_pool.hpp"
#include "perceptual/core/conv_geometry.hpp"
#include "perceptual/core/error.hpp"

namespace perceptual::cpu::onednn {

enum class Layout { plain, blocked };

// One CPU engine per process; a stream per thread, so that threads never share one (oneDNN's CPU
// streams execute in the calling thread and are cheap to create).
inline const dnnl::engine& engine() {
  static const dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
inline dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

// Whether oneDNN can express the geometry: it needs padding_r + stride > 0, so an output that stops
// a whole stride or more short of the input's end (rows never read) goes to im2col instead.
inline bool can_implement(const ConvGeometry& g) {
  return g.pad_bottom() + g.stride() > 0 && g.pad_right() + g.stride() > 0;
}

namespace detail {

struct PlanKey {
  ConvOp op;
  Layout layout;
  ConvGeometry g;
  bool bias = false;  // forward only: adds a per-output-channel bias as it writes
  auto operator<=>(const PlanKey&) const = default;
};

// One convolution primitive with its three tensors (two inputs, then the output): their oneDNN
// argument names, their layouts as the caller holds them (NCHW, OIHW) and as the primitive wants
// them, and the reorder between the two where they differ (into the primitive for the inputs, out
// of it for the output).
struct Plan {
  dnnl::primitive conv;
  std::array<int, 3> args;
  std::array<dnnl::memory::desc, 3> user, wanted;
  std::array<std::optional<dnnl::reorder>, 3> reorders;
  dnnl::memory::desc scratchpad;
};

inline std::string describe(const PlanKey& key) {
  const char* op = key.op == ConvOp::forward         ? "forward"
                   : key.op == ConvOp::backward_data ? "backward-data"
                                                     : "backward-filter";
  return std::string("oneDNN convolution ") + op + " (" + (key.layout == Layout::plain ? "nchw" : "blocked") +
         "): " + to_string(key.g);
}

inline std::shared_ptr<const Plan> make_plan(const PlanKey& key) {
  using dnnl::memory;
  using tag = memory::format_tag;
  const ConvGeometry& g = key.g;
  const bool plain = key.layout == Layout::plain;
  const memory::desc src_user({g.n(), g.c(), g.in_h(), g.in_w()}, memory::data_type::f32, tag::nchw);
  const memory::desc wei_user({g.o(), g.c(), g.k(), g.k()}, memory::data_type::f32, tag::oihw);
  const memory::desc dst_user({g.n(), g.o(), g.out_h(), g.out_w()}, memory::data_type::f32, tag::nchw);
  const auto maybe_any = [&](const memory::desc& d) {
    return plain ? d : memory::desc(d.dims(), memory::data_type::f32, tag::any);
  };
  const memory::desc src = maybe_any(src_user), wei = maybe_any(wei_user), dst = maybe_any(dst_user);
  const memory::dims strides{g.stride(), g.stride()}, pad_l{g.pad_top(), g.pad_left()},
      pad_r{g.pad_bottom(), g.pad_right()};
  // Direct, not convolution_auto: Winograd would trade digits for speed behind our back.
  const auto algo = dnnl::algorithm::convolution_direct;
  // The caller brings the scratchpad, so that one primitive may run on several threads at once.
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);

  auto plan = std::make_shared<Plan>();
  const auto fwd_desc = key.bias
                            ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algo, src, wei,
                                                              memory::desc({g.o()}, memory::data_type::f32, tag::x),
                                                              dst, strides, pad_l, pad_r)
                            : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algo, src, wei, dst,
                                                              strides, pad_l, pad_r);
  const dnnl::convolution_forward::primitive_desc fwd(fwd_desc, attr, engine());
  switch (key.op) {
    case ConvOp::forward:
      plan->conv = dnnl::convolution_forward(fwd);
      plan->args = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
      plan->user = {src_user, wei_user, dst_user};
      plan->wanted = {fwd.src_desc(), fwd.weights_desc(), fwd.dst_desc()};
      plan->scratchpad = fwd.scratchpad_desc();
      break;
    case ConvOp::backward_data: {
      const dnnl::convolution_backward_data::primitive_desc pd(
          dnnl::convolution_backward_data::desc(algo, src, wei, dst, strides, pad_l, pad_r), attr, engine(), fwd);
      plan->conv = dnnl::convolution_backward_data(pd);
      plan->args = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
      plan->user = {dst_user, wei_user, src_user};
      plan->wanted = {pd.diff_dst_desc(), pd.weights_desc(), pd.diff_src_desc()};
      plan->scratchpad = pd.scratchpad_desc();
      break;
    }
    case ConvOp::backward_filter: {
      const dnnl::convolution_backward_weights::primitive_desc pd(
          dnnl::convolution_backward_weights::desc(algo, src, wei, dst, strides, pad_l, pad_r), attr, engine(), fwd);
      plan->conv = dnnl::convolution_backward_weights(pd);
      plan->args = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS};
      plan->user = {src_user, dst_user, wei_user};
      plan->wanted = {pd.src_desc(), pd.diff_dst_desc(), pd.diff_weights_desc()};
      plan->scratchpad = pd.scratchpad_desc();
      break;
    }
  }
  for (int i = 0; i < 3; ++i) {
    if (plan->user[i] == plan->wanted[i]) continue;
    const bool into = i < 2;
    plan->reorders[i] = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), into ? plan->user[i] : plan->wanted[i],
                                                                    engine(), into ? plan->wanted[i] : plan->user[i]));
  }
  return plan;
}

// Creating a primitive costs milliseconds (JIT code generation), a call on a small image far less:
// each (op, layout, geometry) is built once. Bounded by dropping everything when full, so a program
// that sees ever new image sizes holds a few hundred primitives at most; plans in use live on.
inline std::shared_ptr<const Plan> find_plan(const PlanKey& key) {
  static std::mutex mutex;
  static std::map<PlanKey, std::shared_ptr<const Plan>> cache;
  constexpr std::size_t capacity = 512;
  const std::lock_guard lock(mutex);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  if (cache.size() >= capacity) cache.clear();
  try {
    return cache[key] = make_plan(key);
  } catch (const dnnl::error& e) {
    throw Error(describe(key) + ": " + e.what());
  }
}

inline std::size_t floats_for(const dnnl::memory::desc& d) {
  return (d.get_size() + sizeof(float) - 1) / sizeof(float);
}

// Runs the plan on NCHW/OIHW user memory (and the bias, where the plan has one); `out` is
// overwritten in full.
inline void execute(const Plan& plan, const float* in0, const float* in1, float* out, const float* bias = nullptr) {
  const std::array<float*, 3> user_ptrs{const_cast<float*>(in0), const_cast<float*>(in1), out};  // read-only for inputs
  std::array<PoolArray<float>, 4> buffers;  // reordered tensors and the scratchpad, from the pool
  std::array<dnnl::memory, 3> user, inner;
  std::unordered_map<int, dnnl::memory> args;
  dnnl::stream& s = stream();
  for (int i = 0; i < 3; ++i) {
    user[i] = dnnl::memory(plan.user[i], engine(), user_ptrs[i]);
    inner[i] = user[i];
    if (plan.reorders[i]) {
      buffers[i] = make_pool_array<float>(floats_for(plan.wanted[i]));
      inner[i] = dnnl::memory(plan.wanted[i], engine(), buffers[i].get());
      if (i < 2) plan.reorders[i]->execute(s, user[i], inner[i]);
    }
    args.emplace(plan.args[i], inner[i]);
  }
  if (bias)
    args.emplace(DNNL_ARG_BIAS, dnnl::memory(dnnl::memory::desc({plan.user[2].dims()[1]}, dnnl::memory::data_type::f32,
                                                                dnnl::memory::format_tag::x),
                                             engine(), const_cast<float*>(bias)));
  if (const std::size_t bytes = plan.scratchpad.get_size(); bytes > 0) {
    buffers[3] = make_pool_array<float>(floats_for(plan.scratchpad));
    args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(plan.scratchpad, engine(), buffers[3].get()));
  }
  plan.conv.execute(s, args);
  if (plan.reorders[2]) plan.reorders[2]->execute(s, inner[2], user[2]);
  s.wait();
}

}  // namespace detail

// requires can_implement(g); the pointers hold NCHW (x, y, dy, dx) and OIHW (w, dw) floats of g's
// sizes, and bias (forward) g.o() floats or nullptr; the output is overwritten in full (dw is this
// batch's gradient, not accumulated).
inline void forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y, Layout layout) {
  detail::execute(*detail::find_plan({ConvOp::forward, layout, g, bias != nullptr}), x, w, y, bias);
}
inline void backward_data(const ConvGeometry& g, const float* dy, const float* w, float* dx, Layout layout) {
  detail::execute(*detail::find_plan({ConvOp::backward_data, layout, g}), dy, w, dx);
}
inline void backward_filter(const ConvGeometry& g, const float* x, const float* dy, float* dw, Layout layout) {
  detail::execute(*detail::find_plan({ConvOp::backward_filter, layout, g}), x, dy, dw);
}

}  // namespace perceptual::cpu::onednn
