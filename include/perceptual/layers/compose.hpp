#pragma once
// Compile-time composition: Sequential<L...>, Residual<L...> (x + body(x)), Repeat<N, L> and
// Named<"conv1_1", L>. A composition is itself a layer; channel mismatches between neighbours
// are compile errors.
#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "perceptual/core/concepts.hpp"
#include "perceptual/core/epilogue.hpp"

namespace perceptual::layers {

namespace detail {

// The channel count after `layer` when `carried` channels come in (any_channels passes through).
constexpr int channels_after(int carried, int layer_out) {
  return layer_out == any_channels ? carried : layer_out;
}

// Instantiated for each neighbouring pair, so that a failure names both layers.
template <class Prev, int Carried, class Next>
struct chain_fits {
  static_assert(Carried == any_channels || Next::in_channels == any_channels || Carried == Next::in_channels,
                "Sequential: a layer's in_channels must equal the previous layer's out_channels.");
  static constexpr int out = channels_after(Carried, Next::out_channels);
};

template <class Prev, int Carried, class... Ls>
struct chain;

template <class Prev, int Carried>
struct chain<Prev, Carried> {
  static constexpr int out = Carried;
};

template <class Prev, int Carried, class L, class... Rest>
struct chain<Prev, Carried, L, Rest...> {
  static constexpr int out = chain<L, chain_fits<Prev, Carried, L>::out, Rest...>::out;
};

template <class... Ls>
constexpr int first_concrete_in() {
  int result = any_channels;
  ((result == any_channels ? (void)(result = Ls::in_channels) : (void)0), ...);
  return result;
}

template <class... Ls>
std::string join_names() {
  std::string s;
  ((s += (s.empty() ? "" : ", ") + Ls::name()), ...);
  return s;
}

template <std::size_t N>
struct FixedString {
  char text[N]{};
  constexpr FixedString(const char (&s)[N]) { std::copy_n(s, N, text); }
  std::string str() const { return text; }
  constexpr std::string_view view() const { return {text, N - 1}; }
};

// A name template parameter passed on to another template must go as a copy,
// Named<detail::pass_name(Name), L> (or pass_name(Names)...), never as Named<Name, L>. nvcc's front
// end (cudafe++, CUDA 13.0) writes an argument that names a class-type template parameter into
// the host code it hands to g++ as an undeclared "__T0", and from then on every use of that
// value in the file too; a computed copy is written as its value.
template <std::size_t N>
constexpr FixedString<N> pass_name(const FixedString<N>& name) {
  return name;
}

template <class L>
struct is_named : std::false_type {};

// A module that applies a NormEpilogue to its output (the normalisations), and one that can keep
// an output computed for it (ReLU, fused into the normalisation before it).
template <class M, class B, class T>
concept takes_epilogue = requires(M& m, Tensor<T, B>&& x, const NormEpilogue<T, B>& e) {
  { m.forward(std::move(x), e) } -> std::same_as<Tensor<T, B>>;
};
template <class M, class B, class T>
concept keeps_output = requires(M& m, const Tensor<T, B>& y) {
  m.keep_output(y);
};

// Appends `module`'s parameters to `out`, each name behind `prefix`.
template <class T, class B, class M>
void append_parameters(Parameters<T, B>& out, M& module, const std::string& prefix) {
  for (auto p : module.parameters()) {
    p.name = prefix + p.name;
    out.push_back(std::move(p));
  }
}

}  // namespace detail

template <class... Ls>
struct Sequential {
  static_assert(sizeof...(Ls) > 0, "Sequential: give it at least one layer.");
  static_assert((concepts::layer<Ls> && ...), "Sequential: every element must satisfy concepts::layer.");

  static constexpr int in_channels = detail::first_concrete_in<Ls...>();
  static constexpr int out_channels = detail::chain<void, any_channels, Ls...>::out;

  static constexpr Size2 output_size(Size2 s) {
    ((s = Ls::output_size(s)), ...);
    return s;
  }
  static std::string name() { return "Sequential<" + detail::join_names<Ls...>() + ">"; }

  template <class B, class T>
  class impl {
   public:
    // Each intermediate goes to the next layer as a temporary (which may overwrite it or free it
    // early) and is released once consumed, unless a layer keeps it for backward. A normalisation
    // followed by a ReLU computes both in one pass (NormEpilogue).
    Tensor<T, B> forward(const Tensor<T, B>& x) { return run(x, nullptr); }
    Tensor<T, B> forward(Tensor<T, B>&& x) { return run(std::move(x), nullptr); }
    // forward(x) + residual, the add fused into the last layer where that is a normalisation.
    Tensor<T, B> forward_adding(const Tensor<T, B>& x, const Tensor<T, B>& residual) { return run(x, &residual); }

    Tensor<T, B> backward(const Tensor<T, B>& dy) { return run_backward(dy); }
    Tensor<T, B> backward(Tensor<T, B>&& dy) { return run_backward(std::move(dy)); }
    Parameters<T, B> parameters() {
      Parameters<T, B> out;
      for_each_indexed([&](auto& m, std::size_t i, auto tag) {
        using L = typename decltype(tag)::type;
        detail::append_parameters(out, m, detail::is_named<L>::value ? "" : std::to_string(i) + ".");
      });
      return out;
    }
    void train() {
      for_each([](auto& m) { m.train(); });
    }
    void eval() {
      for_each([](auto& m) { m.eval(); });
    }
    void set_trainable(bool t) {
      for_each([&](auto& m) { m.set_trainable(t); });
    }
    template <class Rng>
    void initialize(Rng& rng) {
      for_each([&](auto& m) { initialize_if_any(m, rng); });
    }

    template <std::size_t I>
    auto& get() {
      return std::get<I>(modules_);
    }
    // Calls f(module, std::type_identity<L>{}) for each layer in order: how code outside the
    // composition (tiled inference) walks a network.
    template <class F>
    void visit(F&& f) {
      for_each_indexed([&](auto& m, std::size_t, auto tag) { f(m, tag); });
    }

   private:
    using Modules = std::tuple<typename Ls::template impl<B, T>...>;
    static constexpr std::size_t size = sizeof...(Ls);

    template <class X>
    Tensor<T, B> run(X&& x, const Tensor<T, B>* residual) {
      Tensor<T, B> h;
      bool applied = false;  // the layer at hand was applied by the one before it (a fused ReLU)
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        (step<I>(std::forward<X>(x), h, residual, applied), ...);  // only step 0 reads x
      }
      (std::index_sequence_for<Ls...>{});
      if (residual) {                                 // not taken by a normalisation at the end
        if (h.is_shared()) return add(h, *residual);  // the last layer keeps its output (ReLU) for backward
        axpy(h, T(1), *residual);
      }
      return h;
    }

    // Layer I on x (the first) or h (the others, as a temporary), into h; sets `residual` to null
    // once added.
    template <std::size_t I, class X>
    void step(X&& x, Tensor<T, B>& h, const Tensor<T, B>*& residual, bool& applied) {
      if (std::exchange(applied, false)) return;
      auto& m = std::get<I>(modules_);
      const auto call = [&](auto&&... epilogue) {
        if constexpr (I == 0)
          return m.forward(std::forward<X>(x), epilogue...);
        else
          return m.forward(std::move(h), epilogue...);
      };
      if constexpr (detail::takes_epilogue<std::tuple_element_t<I, Modules>, B, T>) {
        if constexpr (I + 1 < size) {
          if constexpr (detail::keeps_output<std::tuple_element_t<I + 1, Modules>, B, T>) {
            h = call(NormEpilogue<T, B>{.relu = true});
            std::get<I + 1>(modules_).keep_output(h);
            applied = true;
            return;
          }
        } else if (residual) {
          h = call(NormEpilogue<T, B>{.residual = std::exchange(residual, nullptr)});
          return;
        }
      }
      h = call();
    }

    template <class G>
    Tensor<T, B> run_backward(G&& dy) {
      return [&]<std::size_t... I>(std::index_sequence<I...>) {
        Tensor<T, B> g = std::get<size - 1>(modules_).backward(std::forward<G>(dy));
        ((g = std::get<size - 2 - I>(modules_).backward(std::move(g))), ...);
        return g;
      }
      (std::make_index_sequence<size - 1>{});
    }

    template <class F>
    void for_each(F&& f) {
      std::apply([&](auto&... m) { (f(m), ...); }, modules_);
    }
    template <class F>
    void for_each_indexed(F&& f) {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        (f(std::get<I>(modules_), I, std::type_identity<Ls>{}), ...);
      }
      (std::index_sequence_for<Ls...>{});
    }

    Modules modules_;
  };
};

// x + body(x): the body must keep the channel count and the spatial size.
template <class... Ls>
struct Residual {
  using Body = Sequential<Ls...>;
  static_assert(Body::in_channels == Body::out_channels,
                "Residual: the body's out_channels must equal its in_channels, to add the input back.");

  static constexpr int in_channels = Body::in_channels;
  static constexpr int out_channels = Body::out_channels;

  static constexpr Size2 output_size(Size2 s) {
    if (Body::output_size(s) != s) throw ShapeError("Residual: the body must keep the spatial size");
    return s;
  }
  static std::string name() { return "Residual<" + detail::join_names<Ls...>() + ">"; }

  template <class B, class T>
  class impl {
   public:
    Tensor<T, B> forward(const Tensor<T, B>& x) { return body_.forward_adding(x, x); }
    Tensor<T, B> backward(const Tensor<T, B>& dy) {
      Tensor<T, B> dx = body_.backward(dy);
      axpy(dx, T(1), dy);
      return dx;
    }
    Parameters<T, B> parameters() { return body_.parameters(); }
    void train() { body_.train(); }
    void eval() { body_.eval(); }
    void set_trainable(bool t) { body_.set_trainable(t); }
    template <class Rng>
    void initialize(Rng& rng) {
      initialize_if_any(body_, rng);
    }
    // f(body, std::type_identity<Sequential<Ls...>>{}), as Sequential's visit.
    template <class F>
    void visit(F&& f) {
      f(body_, std::type_identity<Body>{});
    }

   private:
    typename Body::template impl<B, T> body_;
  };
};

// N copies of L in sequence, each with its own parameters ("0.", "1.", ...).
template <int N, class L>
struct Repeat {
  static_assert(N > 0, "Repeat: the count must be positive.");
  static_assert(concepts::layer<L>, "Repeat: the element must satisfy concepts::layer.");
  static_assert(N == 1 || L::in_channels == any_channels || L::out_channels == any_channels ||
                    L::in_channels == L::out_channels,
                "Repeat: a repeated layer's out_channels must equal its in_channels.");

  static constexpr int in_channels = L::in_channels;
  static constexpr int out_channels = L::out_channels;

  static constexpr Size2 output_size(Size2 s) {
    for (int i = 0; i < N; ++i) s = L::output_size(s);
    return s;
  }
  static std::string name() { return "Repeat<" + std::to_string(N) + ", " + L::name() + ">"; }

  template <class B, class T>
  class impl {
   public:
    Tensor<T, B> forward(const Tensor<T, B>& x) {
      Tensor<T, B> y = modules_[0].forward(x);
      for (int i = 1; i < N; ++i) y = modules_[i].forward(std::move(y));
      return y;
    }
    Tensor<T, B> backward(const Tensor<T, B>& dy) {
      Tensor<T, B> dx = modules_[N - 1].backward(dy);
      for (int i = N - 2; i >= 0; --i) dx = modules_[i].backward(std::move(dx));
      return dx;
    }
    Parameters<T, B> parameters() {
      Parameters<T, B> out;
      for (int i = 0; i < N; ++i) detail::append_parameters(out, modules_[i], std::to_string(i) + ".");
      return out;
    }
    void train() {
      for (auto& m : modules_) m.train();
    }
    void eval() {
      for (auto& m : modules_) m.eval();
    }
    void set_trainable(bool t) {
      for (auto& m : modules_) m.set_trainable(t);
    }
    template <class Rng>
    void initialize(Rng& rng) {
      for (auto& m : modules_) initialize_if_any(m, rng);
    }
    // f(copy, std::type_identity<L>{}) for each copy in order, as Sequential's visit.
    template <class F>
    void visit(F&& f) {
      for (auto& m : modules_) f(m, std::type_identity<L>{});
    }

   private:
    std::array<typename L::template impl<B, T>, N> modules_;
  };
};

// L under a name, so that its parameters are "name.weight" rather than "3.weight".
template <detail::FixedString Name, class L>
struct Named {
  static_assert(concepts::layer<L>, "Named: the element must satisfy concepts::layer.");
  static constexpr int in_channels = L::in_channels;
  static constexpr int out_channels = L::out_channels;
  static constexpr Size2 output_size(Size2 s) { return L::output_size(s); }
  static std::string name() { return Name.str() + ":" + L::name(); }

  template <class B, class T>
  class impl : public L::template impl<B, T> {
   public:
    Parameters<T, B> parameters() {
      Parameters<T, B> out;
      detail::append_parameters(out, static_cast<typename L::template impl<B, T>&>(*this), Name.str() + ".");
      return out;
    }
  };
};

namespace detail {
template <FixedString Name, class L>
struct is_named<Named<Name, L>> : std::true_type {};
}  // namespace detail

}  // namespace perceptual::layers
