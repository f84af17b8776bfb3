#pragma once
// The style-transfer objective's settings on a command line: each field of
// losses::StyleObjectiveOptions becomes the flag of its name (content_weight: --content-weight),
// with its help, so a setting added there reaches every program that trains, runs or measures the
// objective (train_style, gatys, speed_table, objective) without another edit.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/io/safetensors.hpp"
#include "perceptual/losses/objective_options.hpp"
#include "perceptual/nets/vgg_weights.hpp"

namespace perceptual::app {

// Where the flags' defaults come from: the values the options hold when bound (shown in --help), or
// the settings a trained model's metadata records (objective: figure 5 measures a model on the
// objective it was trained on).
enum class ObjectiveDefaults { values, model };

class ObjectiveFlags {
 public:
  ObjectiveFlags(CLI::App& cli, losses::StyleObjectiveOptions& options,
                 ObjectiveDefaults defaults = ObjectiveDefaults::values)
      : app_(cli), options_(options) {
    losses::for_each_field<losses::StyleObjectiveOptions>([&](const auto& field) {
      using Value = typename std::decay_t<decltype(field)>::value_type;
      const std::string flag = flag_name(field.name);
      auto& value = options.*field.member;
      CLI::Option* option = cli.add_option_function<std::string>(
          flag,
          [&value, flag](const std::string& text) {
            Value parsed = value;
            if (!losses::parse_option(text, parsed) || !acceptable(parsed))
              throw CLI::ValidationError(flag, "\"" + text + "\" is not a valid value");
            value = parsed;
          },
          defaults == ObjectiveDefaults::model ? std::string(field.help) + " (default: the model's)" : field.help);
      if (defaults == ObjectiveDefaults::values) option->default_str(losses::option_text(value));
    });
    if (defaults == ObjectiveDefaults::values) cli.get_option("--style-layers")->default_str(style_layers_rule);
  }

  // After parsing, for ObjectiveDefaults::values: unless --style-layers was given, the layers that
  // suit the VGG file `weights` (nets::default_style_layers).
  void take_weights_defaults(const std::string& weights) {
    if (app_.count("--style-layers") == 0)
      options_.style_layers = nets::default_style_layers(io::SafetensorsFile(weights));
  }

  // After parsing, for ObjectiveDefaults::model: each setting not given on the command line takes
  // the value `meta` (the metadata of `model`) records; FileError naming the flag that gives one
  // the file lacks.
  void take_model_defaults(const std::map<std::string, std::string>& meta, const std::string& model) {
    std::vector<std::string> given;
    losses::for_each_field<losses::StyleObjectiveOptions>([&](const auto& field) {
      if (app_.count(flag_name(field.name)) > 0) given.emplace_back(field.name);
    });
    const auto missing = losses::from_metadata(meta, options_, model, given);
    if (!missing.empty())
      throw FileError(model + ": the metadata has no \"" + missing.front() + "\" (not written by train_style?); give " +
                      flag_name(missing.front()));
  }

  // What take_weights_defaults chooses, for --help.
  static constexpr const char* style_layers_rule =
      "relu1_2,relu2_2,relu3_3,relu4_3 (the paper's) where --weights reaches conv4_3, else relu1_2,relu2_2,relu3_4 "
      "(the shared VGG-19) or relu3_3";

  // "--content-weight" for "content_weight".
  static std::string flag_name(std::string name) {
    std::replace(name.begin(), name.end(), '_', '-');
    return "--" + name;
  }

 private:
  // Weights are >= 0; other settings take any value that parses.
  static bool acceptable(double v) { return v >= 0; }
  template <class V>
  static bool acceptable(const V&) {
    return true;
  }

  CLI::App& app_;
  losses::StyleObjectiveOptions& options_;
};

}  // namespace perceptual::app
