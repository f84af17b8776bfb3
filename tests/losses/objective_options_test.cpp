// losses/objective_options.hpp: every setting of the objective is named once, and model files
// record and give back each one exactly.
#include "perceptual/losses/objective_options.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace perceptual;
using losses::StyleObjectiveOptions;

namespace {

// Options that differ from the defaults in every setting.
StyleObjectiveOptions unusual() {
  return {.content_layers = {"relu3_1"},
          .style_layers = {"relu1_1", "relu5_1"},
          .content_weight = 0.25,
          .style_weight = 1.0 / 3,
          .tv_weight = 1e-7,
          .tv_norm = losses::TvNorm::mean};
}

}  // namespace

TEST_CASE("each objective setting has its own name and help") {
  std::set<std::string> names;
  int fields = 0;
  losses::for_each_field<StyleObjectiveOptions>([&](const auto& field) {
    ++fields;
    names.insert(field.name);
    CHECK(std::string(field.help).size() > 5);
  });
  CHECK(names.size() == static_cast<std::size_t>(fields));
  CHECK(names.contains("tv_norm"));
}

TEST_CASE("to_metadata and from_metadata give every setting back exactly") {
  const StyleObjectiveOptions o = unusual();
  const auto meta = losses::to_metadata(o);
  CHECK(meta.at("style_layers") == "relu1_1,relu5_1");
  CHECK(meta.at("tv_norm") == "mean");
  StyleObjectiveOptions back;
  CHECK(losses::from_metadata(meta, back, "model.safetensors").empty());
  CHECK(losses::to_metadata(back) == meta);
  CHECK(back.style_weight == o.style_weight);  // exactly: 1/3 has no short decimal form
}

TEST_CASE("from_metadata keeps the settings given otherwise and names the ones a file lacks") {
  auto meta = losses::to_metadata(unusual());
  meta.erase("style_weight");
  meta.erase("tv_norm");  // not in files written before it was recorded: the default stands
  StyleObjectiveOptions o;
  o.content_weight = 9;
  const auto missing = losses::from_metadata(meta, o, "old.safetensors", {"content_weight"});
  CHECK(missing == std::vector<std::string>{"style_weight"});
  CHECK(o.content_weight == 9);
  CHECK(o.tv_norm == losses::TvNorm::sum);
  CHECK(o.content_layers == std::vector<std::string>{"relu3_1"});

  meta["tv_weight"] = "a lot";
  CHECK_THROWS_WITH_AS(losses::from_metadata(meta, o, "bad.safetensors"),
                       "bad.safetensors: metadata \"tv_weight\" = \"a lot\" is not a valid tv_weight", FileError);
}
