// app/objective_options.hpp: the objective's settings as flags, with their defaults from the
// options or from a model's metadata.
#include "perceptual/app/objective_options.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "support/temp_dir.hpp"
#include "support/tiny_vgg.hpp"

using namespace perceptual;

namespace {

// Parses `args` (after the program name) into a CLI::App with the objective's flags.
void parse(CLI::App& cli, std::vector<std::string> args) {
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments last first
  cli.parse(args);
}

}  // namespace

TEST_CASE("every objective setting is a flag, and a flag sets its setting") {
  CLI::App cli;
  losses::StyleObjectiveOptions o;
  app::ObjectiveFlags flags(cli, o);
  losses::for_each_field<losses::StyleObjectiveOptions>([&](const auto& field) {
    CHECK(cli.get_option_no_throw(app::ObjectiveFlags::flag_name(field.name)) != nullptr);
  });
  parse(cli, {"--content-layers", "relu1_1,relu2_1", "--style-weight", "2.5e-3", "--tv-norm", "mean"});
  CHECK(o.content_layers == std::vector<std::string>{"relu1_1", "relu2_1"});
  CHECK(o.style_weight == 2.5e-3);
  CHECK(o.tv_norm == losses::TvNorm::mean);
  CHECK(o.tv_weight == losses::StyleObjectiveOptions{}.tv_weight);  // not given: the default
}

TEST_CASE("the flags show the options' values as defaults and refuse values that are not settings") {
  CLI::App cli;
  losses::StyleObjectiveOptions o;
  o.style_weight = 0.03;
  app::ObjectiveFlags flags(cli, o);
  const std::string help = cli.help();
  CHECK(help.find("--style-weight") != std::string::npos);
  CHECK(help.find("0.03") != std::string::npos);
  CHECK_THROWS_AS(parse(cli, {"--tv-norm", "median"}), CLI::ValidationError);
  CHECK_THROWS_AS(parse(cli, {"--content-weight", "-1"}), CLI::ValidationError);
  CHECK_THROWS_AS(parse(cli, {"--style-weight", "1e-4x"}), CLI::ValidationError);
  CHECK(o.style_weight == 0.03);
}

TEST_CASE(
    "with the model's defaults, what is not given comes from the metadata, and a missing setting names its flag") {
  losses::StyleObjectiveOptions trained;
  trained.style_layers = {"relu1_2", "relu2_2", "relu3_4"};
  trained.style_weight = 0.1;
  const auto meta = losses::to_metadata(trained);

  CLI::App cli;
  losses::StyleObjectiveOptions o;
  app::ObjectiveFlags flags(cli, o, app::ObjectiveDefaults::model);
  CHECK(cli.help().find("(default: the model's)") != std::string::npos);
  parse(cli, {"--style-weight", "0.5"});
  flags.take_model_defaults(meta, "model.safetensors");
  CHECK(o.style_weight == 0.5);
  CHECK(o.style_layers == trained.style_layers);

  auto old = meta;
  old.erase("content_layers");
  CHECK_THROWS_WITH_AS(flags.take_model_defaults(old, "old.safetensors"),
                       "old.safetensors: the metadata has no \"content_layers\" (not written by train_style?); give "
                       "--content-layers",
                       FileError);
}

TEST_CASE("unless --style-layers is given, the style layers are those that suit the VGG file") {
  testing::TempDir dir;
  testing::write_tiny_vgg(dir / "vgg.safetensors");  // VGG-16 to conv2_2
  for (const bool given : {false, true}) {
    CLI::App cli;
    losses::StyleObjectiveOptions o;
    app::ObjectiveFlags flags(cli, o);
    CHECK(cli.help().find("where --weights reaches conv4_3") != std::string::npos);
    parse(cli, given ? std::vector<std::string>{"--style-layers", "relu1_2"} : std::vector<std::string>{});
    flags.take_weights_defaults((dir / "vgg.safetensors").string());
    CHECK(o.style_layers ==
          (given ? std::vector<std::string>{"relu1_2"} : std::vector<std::string>{"relu1_2", "relu2_2"}));
  }
}
