#pragma once
// Runs a built program of this project as a user would, for the program tests: its exit status
// and everything it printed (stdout and stderr together).
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <string>

namespace perceptual::testing {

struct ProgramRun {
  int status = -1;
  std::string output;
};

// The program `name` in the folder named by the environment variable `dir_variable` (set by
// ctest), or an empty path when either is absent.
inline std::filesystem::path find_program(const char* dir_variable, const std::string& name) {
  const char* dir = std::getenv(dir_variable);
  return dir ? std::filesystem::path(dir) / name : std::filesystem::path();
}

// Whether `program` exists; otherwise says why the caller skips.
inline bool program_available(const std::filesystem::path& program, const char* dir_variable) {
  if (!program.empty() && std::filesystem::exists(program)) return true;
  const std::string variable(dir_variable);
  MESSAGE("skipped: " << (program.empty() ? variable + " is not set" : program.string() + " is absent")
                      << " (build the program; ctest sets " << variable << ")");
  return false;
}

// A path (or any word) in single quotes for the shell, its own single quotes escaped.
inline std::string quoted(const std::filesystem::path& p) {
  std::string q = "'";
  for (char c : p.string()) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// `args` goes through the shell as written: quote paths with quoted().
inline ProgramRun run_program(const std::filesystem::path& program, const std::string& args) {
  ProgramRun r;
  const std::string command = quoted(program) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// One of this project's programs, found in the build folder that `dir_variable` names (ctest sets
// PERCEPTUAL_EXAMPLES_DIR and PERCEPTUAL_BENCHMARKS_DIR).
class Program {
 public:
  explicit Program(const std::string& name, const char* dir_variable = "PERCEPTUAL_EXAMPLES_DIR")
      : path_(find_program(dir_variable, name)), dir_variable_(dir_variable) {}

  const std::filesystem::path& path() const { return path_; }
  // Whether it is built; otherwise says why the caller skips.
  bool available() const { return program_available(path_, dir_variable_); }
  ProgramRun run(const std::string& args) const { return run_program(path_, args); }
  // Run with `args`, it fails with exit status `status` (any but 0 for `any_failure`: CLI11's
  // parse errors have codes of their own) and says `message`.
  static constexpr int any_failure = -1;
  void check_error(const std::string& args, const std::string& message, int status = 1) const {
    const ProgramRun r = run(args);
    INFO(r.output);
    if (status == any_failure)
      CHECK(r.status != 0);
    else
      CHECK(r.status == status);
    CHECK(r.output.find(message) != std::string::npos);
  }
  // Its --help exits 0 and mentions each of `parts` (a skip when it is not built).
  void check_help(std::initializer_list<const char*> parts) const {
    if (!available()) return;
    const ProgramRun r = run("--help");
    CHECK(r.status == 0);
    for (const char* part : parts) {
      INFO("--help should mention " << part);
      CHECK(r.output.find(part) != std::string::npos);
    }
  }

 private:
  std::filesystem::path path_;
  const char* dir_variable_;
};

}  // namespace perceptual::testing
