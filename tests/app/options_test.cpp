// app/options.hpp: what every program's command line shares.
#include "perceptual/app/options.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

using namespace perceptual;

TEST_CASE("parse_int_list takes integers in range and names the option for anything else") {
  CHECK(app::parse_int_list("256,512", "--sizes", 16, 8192) == std::vector<int>{256, 512});
  CHECK_THROWS_WITH_AS(app::parse_int_list("256,abc", "--sizes", 16, 8192),
                       "--sizes: \"abc\" is not an integer between 16 and 8192", ArgumentError);
  CHECK_THROWS_WITH_AS(app::parse_int_list("258", "--sizes", 16, 8192, 4),
                       "--sizes: \"258\" is not a multiple of 4 between 16 and 8192", ArgumentError);
  CHECK_THROWS_AS(app::parse_int_list("8", "--sizes", 16, 8192), ArgumentError);
  CHECK_THROWS_WITH_AS(app::parse_int_list(",", "--iterations", 1, 10), "--iterations: give one value at least",
                       ArgumentError);
}

TEST_CASE("command_line joins the arguments as typed") {
  char a[] = "train_style", b[] = "--lr", c[] = "0.001";
  char* argv[] = {a, b, c};
  CHECK(app::command_line(3, argv) == "train_style --lr 0.001");
}

TEST_CASE("report_errors turns what a program throws into exit status 1 and passes a status through") {
  CHECK(app::report_errors("p", [] { return 0; }) == 0);
  CHECK(app::report_errors("p", [] { return 3; }) == 3);
  CHECK(app::report_errors("p", []() -> int { throw FileError("gone"); }) == 1);
  CHECK(app::report_errors("p", []() -> int { throw std::invalid_argument("stod"); }) == 1);
}
