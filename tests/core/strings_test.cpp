// core/strings.hpp: lists and numbers as command lines and metadata carry them.
#include "perceptual/core/strings.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>

using namespace perceptual;

TEST_CASE("split_list drops empty items and join_list puts them back together with commas") {
  CHECK(split_list("a,b,,c") == std::vector<std::string>{"a", "b", "c"});
  CHECK(split_list("").empty());
  CHECK(join_list({"relu1_2", "relu2_2"}) == "relu1_2,relu2_2");
  CHECK(join_list(split_list(",x,")) == "x");
}

TEST_CASE("number_text is the shortest text that reads back as the same double") {
  CHECK(number_text(1e-6) == "1e-06");
  CHECK(number_text(1e-4) == "1e-04");
  CHECK(number_text(0.001) == "0.001");
  CHECK(number_text(255) == "255");
  CHECK(number_text(0.1) == "0.1");
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> exponent(-30, 30);
  for (int i = 0; i < 1000; ++i) {
    const double v = std::pow(10.0, exponent(rng)) * (i % 2 ? 1 : -1);
    CHECK(parse_number(number_text(v)) == v);
  }
}

TEST_CASE("parse_number takes a whole number and refuses anything else") {
  CHECK(parse_number("1e-4") == 1e-4);
  CHECK(parse_number("-3") == -3.0);
  CHECK_FALSE(parse_number(""));
  CHECK_FALSE(parse_number("1e-4x"));
  CHECK_FALSE(parse_number(" 1"));
  CHECK_FALSE(parse_number("abc"));
  CHECK_FALSE(parse_number("1e999"));
}
