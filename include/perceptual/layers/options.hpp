#pragma once
// Layer options as types, given in any order after a layer's numeric arguments:
// Conv2d<32, 64, 3, Reflect, Stride<2>>. OptionSet<Opts...> checks them (unknown or repeated
// options are static_asserts that read as sentences) and answers what they say.
#include <concepts>
#include <string>
#include <type_traits>

namespace perceptual::layers {

template <int S>
struct Stride {
  static_assert(S >= 1, "Stride: the stride must be at least 1.");
  static constexpr int value = S;
  static std::string name() { return "Stride<" + std::to_string(S) + ">"; }
};

// Padding modes. Zero: (K-1)/2 zeros on each side (PyTorch padding=K//2 for odd K, VGG's 3x3 pad 1).
// Reflect: reflect (K-1)/2 on each side, then a valid convolution (Johnson et al.'s variant).
// Same: TensorFlow "SAME", out = ceil(in / S), the odd padding pixel after (lengstrom's nets).
// Valid: no padding.
struct Zero {
  static std::string name() { return "Zero"; }
};
struct Reflect {
  static std::string name() { return "Reflect"; }
};
struct Same {
  static std::string name() { return "Same"; }
};
struct Valid {
  static std::string name() { return "Valid"; }
};

// No bias term (convolutions followed by a normalisation, whose shift makes a bias redundant).
struct NoBias {
  static std::string name() { return "NoBias"; }
};

namespace detail {

template <template <int> class Opt, class T>
struct int_option {
  static constexpr bool matches = false;
  static constexpr int value = 0;
};
template <template <int> class Opt, int V>
struct int_option<Opt, Opt<V>> {
  static constexpr bool matches = true;
  static constexpr int value = V;
};

template <class T>
inline constexpr bool is_padding =
    std::same_as<T, Zero> || std::same_as<T, Reflect> || std::same_as<T, Same> || std::same_as<T, Valid>;

template <class T>
inline constexpr bool is_option = int_option<Stride, T>::matches || is_padding<T> || std::same_as<T, NoBias>;

// Instantiated once per option, so that the compiler's "required from" line names the culprit.
template <class Opt>
struct known_option {
  static_assert(is_option<Opt>,
                "Layer options: each option must be one of Stride<S>, Zero, Reflect, Same, Valid or NoBias.");
  static constexpr bool value = true;
};

template <class Default, class... Opts>
struct first_padding {
  using type = Default;
};
template <class Default, class Opt, class... Rest>
struct first_padding<Default, Opt, Rest...> {
  using type = std::conditional_t<is_padding<Opt>, Opt, typename first_padding<Default, Rest...>::type>;
};

}  // namespace detail

// The value of the integer option Opt<V> among Opts, or Default when absent: option_value<Stride, 1, Opts...>.
template <template <int> class Opt, int Default, class... Opts>
inline constexpr int option_value = [] {
  int result = Default;
  ((detail::int_option<Opt, Opts>::matches ? (void)(result = detail::int_option<Opt, Opts>::value) : (void)0), ...);
  return result;
}();

template <class Opt, class... Opts>
inline constexpr bool has_option = (std::same_as<Opt, Opts> || ...);

// The padding mode among Opts, or Default when none is given.
template <class Default, class... Opts>
using padding_option = typename detail::first_padding<Default, Opts...>::type;

// A checked option list: every type known, each kind at most once.
template <class... Opts>
struct OptionSet {
  static_assert((detail::known_option<Opts>::value && ...));  // the per-option assert speaks
  static_assert((0 + ... + int(detail::int_option<Stride, Opts>::matches)) <= 1,
                "Layer options: give Stride<S> at most once.");
  static_assert((0 + ... + int(detail::is_padding<Opts>)) <= 1,
                "Layer options: give at most one padding mode (Zero, Reflect, Same or Valid).");
  static_assert((0 + ... + int(std::same_as<Opts, NoBias>)) <= 1, "Layer options: give NoBias at most once.");

  static constexpr int stride = option_value<Stride, 1, Opts...>;
  static_assert(stride >= 1, "Stride: the stride must be at least 1.");  // Stride<0> itself is never instantiated
  static constexpr bool bias = !has_option<NoBias, Opts...>;
  template <class Default>
  using padding = padding_option<Default, Opts...>;

  // ",Reflect,Stride<2>": the options as written, for a layer's name().
  static std::string names() { return (std::string() + ... + ("," + Opts::name())); }
};

}  // namespace perceptual::layers
