#pragma once
// Runs a built program as a child process that a test controls (support/program.hpp runs one to
// its end through the shell): kill it at a chosen moment, or cap the size of the files it may
// write (RLIMIT_FSIZE, with SIGXFSZ ignored, so a write past the cap fails with EFBIG as on a
// full disk). Its output goes to a file.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace perceptual::testing {

// "-n 3 --seed 5" as {"-n", "3", "--seed", "5"}: arguments without spaces, for spawn.
inline std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// `first` followed by `more`.
inline std::vector<std::string> operator+(std::vector<std::string> first, const std::vector<std::string>& more) {
  first.insert(first.end(), more.begin(), more.end());
  return first;
}

struct Spawned {
  pid_t pid = -1;
  std::filesystem::path output;  // stdout and stderr together
};

// Starts `program` with `args` (no shell); `max_file_bytes` > 0 caps every file it writes.
inline Spawned spawn(const std::filesystem::path& program, const std::vector<std::string>& args,
                     const std::filesystem::path& output, long max_file_bytes = 0) {
  std::vector<std::string> strings{program.string()};
  strings.insert(strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  const std::string out = output.string();
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // only async-signal-safe calls until exec
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) ::_exit(126);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (max_file_bytes > 0) {
      ::signal(SIGXFSZ, SIG_IGN);  // kept across exec: the write returns EFBIG instead
      const rlimit limit{static_cast<rlim_t>(max_file_bytes), static_cast<rlim_t>(max_file_bytes)};
      if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(126);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return {pid, output};
}

// Waits for the child: its exit status, or -1 when a signal ended it.
inline int wait_for(const Spawned& child) {
  int status = 0;
  while (::waitpid(child.pid, &status, 0) < 0) REQUIRE(errno == EINTR);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Whether the child has ended (then `status` is wait_for's answer), without waiting.
inline bool has_ended(const Spawned& child, int& status) {
  int raw = 0;
  const pid_t r = ::waitpid(child.pid, &raw, WNOHANG);
  REQUIRE(r >= 0);
  if (r == 0) return false;
  status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return true;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs the program to its end: its exit status and output.
inline int run_to_end(const std::filesystem::path& program, const std::vector<std::string>& args,
                      const std::filesystem::path& output, std::string& text, long max_file_bytes = 0) {
  const int status = wait_for(spawn(program, args, output, max_file_bytes));
  text = read_text(output);
  return status;
}

}  // namespace perceptual::testing
