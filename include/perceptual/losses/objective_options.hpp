#pragma once
// The style-transfer objective's settings (Johnson et al. 2016, eq. 5), each named once in
// StyleObjectiveOptions::fields(): model files record them under that name (to_metadata,
// from_metadata) and the programs bind each to the flag of that name (app/objective_options.hpp).
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/strings.hpp"
#include "perceptual/losses/tv.hpp"

namespace perceptual::losses {

// One setting: its member, its name (the metadata key; the flag is --name with '-' for '_'), what
// it means (the flag's help), and whether every model file records it (false for a setting added
// after the first files were written: a file without it was trained with the default).
template <class Options, class Value>
struct OptionField {
  using value_type = Value;
  using Member = Value Options::*;  // named: nvcc's host code of `Value Options::*member` draws -Wparentheses
  Member member;
  const char* name;
  const char* help;
  bool always_recorded = true;
};

// How the default weights were chosen and how they scale, for the programs' --help.
inline constexpr const char* default_weights_note =
    "The default weights (content 1, style 1.5e-7 per layer, TV 1e-5) were measured with the shared VGG-19 "
    "(Caffe convention: inputs 0..255, std 1) at relu1_2,relu2_2,relu3_4, where the terms of an untrained "
    "network at 256 px start comparable (content ~8e4, style ~2e5). The style term sums squared differences of "
    "Grams (F F^T / (C*H*W)) over layers; the deepest layer dominates it, so more or deeper layers (relu4_3) call "
    "for a lower --style-weight. Features scale with the file's input normalisation: with a file converted from "
    "torchvision (input_std ~58) they are ~58 times smaller, the content term ~58^2 and the style term ~58^4 "
    "times, so raise --style-weight by roughly 58^2 = 3.4e3 (an estimate, not measured: no such file here). "
    "Johnson et al.'s code's weight 5 on the mean squared Gram difference is 5/C^2 per layer in ours (~1e-4 at "
    "C = 256), which with this file makes the style term ~1000 times the content term.";

struct StyleObjectiveOptions {
  std::vector<std::string> content_layers{"relu2_2"};                                 // the paper's
  std::vector<std::string> style_layers{"relu1_2", "relu2_2", "relu3_3", "relu4_3"};  // the paper's (VGG-16)
  double content_weight = 1;                                                          // lambda_c, each content layer
  double style_weight = 1.5e-7;  // lambda_s, each style layer: see default_weights_note
  double tv_weight = 1e-5;       // lambda_TV
  TvNorm tv_norm = TvNorm::sum;

  // Every setting above, once. A new setting is a member and its line here.
  static constexpr auto fields() {
    using O = StyleObjectiveOptions;
    using Layers = std::vector<std::string>;
    return std::tuple{
        OptionField<O, Layers>{&O::content_layers, "content_layers",
                               "comma-separated reluX_Y layers of the content loss"},
        OptionField<O, Layers>{&O::style_layers, "style_layers", "comma-separated reluX_Y layers of the style loss"},
        OptionField<O, double>{&O::content_weight, "content_weight", "lambda_c, each content layer"},
        OptionField<O, double>{&O::style_weight, "style_weight", "lambda_s, each style layer"},
        OptionField<O, double>{&O::tv_weight, "tv_weight", "lambda_TV"},
        OptionField<O, TvNorm>{&O::tv_norm, "tv_norm",
                               "total variation: sum (plain squared, as Gatys' and Johnson's code) or mean (each "
                               "direction divided by its number of differences, as lengstrom's)",
                               false},
    };
  }
};

// A setting's text, as metadata records it and flags take it.
inline std::string option_text(const std::vector<std::string>& v) {
  return join_list(v);
}
inline std::string option_text(double v) {
  return number_text(v);
}
inline std::string option_text(TvNorm v) {
  return v == TvNorm::mean ? "mean" : "sum";
}

// A setting from its text; false (value untouched) unless the text is one.
inline bool parse_option(const std::string& text, std::vector<std::string>& v) {
  v = split_list(text);
  return true;
}
inline bool parse_option(const std::string& text, double& v) {
  const auto number = parse_number(text);
  if (number) v = *number;
  return number.has_value();
}
inline bool parse_option(const std::string& text, TvNorm& v) {
  if (text != "sum" && text != "mean") return false;
  v = text == "mean" ? TvNorm::mean : TvNorm::sum;
  return true;
}

// Calls f(field) for each of Options' fields(), in order.
template <class Options, class F>
void for_each_field(F&& f) {
  std::apply([&](const auto&... field) { (f(field), ...); }, Options::fields());
}

// Each setting under its name: what a model file records of the objective it was trained on.
template <class Options = StyleObjectiveOptions>
std::map<std::string, std::string> to_metadata(const Options& o) {
  std::map<std::string, std::string> meta;
  for_each_field<Options>([&](const auto& field) { meta[field.name] = option_text(o.*field.member); });
  return meta;
}

// The settings that `meta` (the metadata of `source`, for messages) records into o, except those
// named in `keep` (given otherwise, e.g. on the command line). A recorded value that does not parse
// is a FileError; returns the names of the always-recorded settings that meta lacks (o keeps those).
template <class Options = StyleObjectiveOptions>
std::vector<std::string> from_metadata(const std::map<std::string, std::string>& meta, Options& o,
                                       const std::string& source, const std::vector<std::string>& keep = {}) {
  std::vector<std::string> missing;
  for_each_field<Options>([&](const auto& field) {
    for (const auto& name : keep)
      if (name == field.name) return;
    const auto it = meta.find(field.name);
    if (it == meta.end()) {
      if (field.always_recorded) missing.emplace_back(field.name);
      return;
    }
    if (!parse_option(it->second, o.*field.member))
      throw FileError(source + ": metadata \"" + field.name + "\" = \"" + it->second + "\" is not a valid " +
                      field.name);
  });
  return missing;
}

}  // namespace perceptual::losses
