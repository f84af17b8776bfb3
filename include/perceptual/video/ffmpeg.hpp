#pragma once
// Video files through FFmpeg's command-line programs over pipes (POSIX): ffprobe for the size and
// frame rate, one ffmpeg decoding to raw RGB frames, another encoding ours and taking the audio from
// the input. FFmpeg reads any video there is; linking its libraries would tie us to their API
// versions for nothing the pipes do not give. ffmpeg and ffprobe are looked up on PATH when used.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "perceptual/core/error.hpp"
#include "perceptual/core/host.hpp"

extern char** environ;

namespace perceptual::video {

// A child process with one pipe to its stdin or from its stdout (stderr is ours, so FFmpeg's own
// messages reach the user). Move-only; the destructor closes the pipe, kills the child if it is
// still running and reaps it, so an error on our side never leaves ffmpeg behind or waits on it.
class Process {
 public:
  enum class Pipe { to_stdin, from_stdout };

  Process(const std::vector<std::string>& argv, Pipe pipe) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw Error("cannot make a pipe for " + argv[0] + ": " + std::strerror(errno));
    const int child_end = pipe == Pipe::to_stdin ? fds[0] : fds[1];
    fd_ = pipe == Pipe::to_stdin ? fds[1] : fds[0];
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, child_end, pipe == Pipe::to_stdin ? STDIN_FILENO : STDOUT_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = posix_spawnp(&pid_, argv[0].c_str(), &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(child_end);
    if (rc != 0) {
      ::close(fd_);
      fd_ = -1;
      pid_ = -1;
      throw Error(argv[0] + (rc == ENOENT
                                 ? std::string(" not found on PATH (install FFmpeg; on Debian: apt-get install ffmpeg)")
                                 : ": cannot start: " + std::string(std::strerror(rc))));
    }
    name_ = argv[0];
  }
  Process(Process&& o) noexcept
      : name_(std::move(o.name_)), pid_(std::exchange(o.pid_, -1)), fd_(std::exchange(o.fd_, -1)) {}
  Process& operator=(Process&&) = delete;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // Killed before its pipe closes: otherwise a reader we stop early would first report the broken pipe.
  ~Process() {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
    close_pipe();
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
  }

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }

  // Reads exactly n bytes; false at a clean end of the stream before the first byte.
  bool read_exactly(unsigned char* p, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
      const ssize_t r = ::read(fd_, p + got, n - got);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw Error(name_ + ": reading its output: " + std::strerror(errno));
      if (r == 0) {
        if (got == 0) return false;
        throw Error(name_ + ": output ended inside a frame (" + std::to_string(got) + " of " + std::to_string(n) +
                    " bytes)");
      }
      got += static_cast<std::size_t>(r);
    }
    return true;
  }

  void write_all(const unsigned char* p, std::size_t n) {
    for (std::size_t done = 0; done < n;) {
      const ssize_t r = ::write(fd_, p + done, n - done);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw Error(name_ + " stopped taking frames (" + std::strerror(errno) + "); see its message above");
      done += static_cast<std::size_t>(r);
    }
  }

  void close_pipe() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Closes the pipe and waits for the child; its exit status (128 + signal when killed).
  int wait() {
    close_pipe();
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  }

 private:
  std::string name_;
  pid_t pid_ = -1;
  int fd_ = -1;
};

// What ffprobe says of a file's first video stream.
struct VideoInfo {
  int width = 0, height = 0;
  std::string frame_rate;  // as FFmpeg writes it ("30/1", "30000/1001"), passed on unchanged
  long frames = 0;         // the container's count, or duration * rate; 0 when neither is known
  double fps() const {
    const auto slash = frame_rate.find('/');
    const double num = std::atof(frame_rate.substr(0, slash).c_str());
    const double den = slash == std::string::npos ? 1 : std::atof(frame_rate.substr(slash + 1).c_str());
    return den > 0 ? num / den : 0;
  }
};

// FileError for a missing file or one without a video stream; Error when ffprobe is missing.
inline VideoInfo probe(const std::filesystem::path& path) {
  const std::string where = "video " + path.string() + ": ";
  if (!std::filesystem::is_regular_file(path)) throw FileError(where + "no such file");
  Process p({"ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
             "stream=width,height,r_frame_rate,nb_frames:format=duration", "-of", "default=noprint_wrappers=1",
             path.string()},
            Process::Pipe::from_stdout);
  std::string text;
  char buf[4096];
  for (ssize_t r; (r = ::read(p.fd(), buf, sizeof buf)) != 0;) {
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    text.append(buf, static_cast<std::size_t>(r));
  }
  if (p.wait() != 0) throw FileError(where + "ffprobe cannot read it (see its message above)");
  VideoInfo info;
  double duration = 0;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "width") info.width = std::atoi(value.c_str());
    if (key == "height") info.height = std::atoi(value.c_str());
    if (key == "r_frame_rate") info.frame_rate = value;
    if (key == "nb_frames") info.frames = std::atol(value.c_str());  // "N/A" gives 0
    if (key == "duration") duration = std::atof(value.c_str());
  }
  if (info.width <= 0 || info.height <= 0) throw FileError(where + "no video stream");
  if (info.fps() <= 0) throw FileError(where + "no frame rate (ffprobe says \"" + info.frame_rate + "\")");
  if (info.frames <= 0 && duration > 0) info.frames = std::lround(duration * info.fps());
  return info;
}

// Decodes a file's first video stream to frames, 1x3xHxW RGB on the 0..255 scale.
class VideoReader {
 public:
  explicit VideoReader(const std::filesystem::path& path)
      : info_(probe(path)),
        ffmpeg_({"ffmpeg", "-v", "error", "-nostdin", "-i", path.string(), "-map", "0:v:0", "-f", "rawvideo",
                 "-pix_fmt", "rgb24", "-"},
                Process::Pipe::from_stdout),
        bytes_(static_cast<std::size_t>(info_.width) * info_.height * 3) {}

  const VideoInfo& info() const { return info_; }

  // The next frame; false after the last (ffmpeg's failure is an Error).
  bool read(Tensor<float, Cpu>& frame) {
    if (!ffmpeg_.read_exactly(bytes_.data(), bytes_.size())) {
      if (const int status = ffmpeg_.wait(); status != 0)
        throw Error("ffmpeg failed decoding (exit status " + std::to_string(status) + "; see its message above)");
      return false;
    }
    const int h = info_.height, w = info_.width;
    frame = Tensor<float, Cpu>({1, 3, h, w}, uninitialized);
    const std::size_t plane = static_cast<std::size_t>(h) * w;
    for (std::size_t k = 0; k < plane; ++k)
      for (int c = 0; c < 3; ++c) frame.data()[c * plane + k] = bytes_[3 * k + c];
    return true;
  }

 private:
  VideoInfo info_;
  Process ffmpeg_;
  std::vector<unsigned char> bytes_;
};

// Encodes frames (rounded to 8 bits) at `frame_rate` into `path` (H.264 in yuv420p, what players
// take; 4:4:4 for odd sizes, which 4:2:0 cannot hold), with the audio streams of `audio_from`, if any,
// copied as they are. finish() waits for ffmpeg and throws if it failed; without it nothing is
// promised of the file.
class VideoWriter {
 public:
  VideoWriter(const std::filesystem::path& path, int width, int height, const std::string& frame_rate,
              const std::filesystem::path& audio_from = {}, int crf = 18)
      : width_(width),
        height_(height),
        ffmpeg_(command(path, width, height, frame_rate, audio_from, crf), Process::Pipe::to_stdin) {
    // A pipe whose reader has died must be an error we report, not SIGPIPE ending the process.
    ::signal(SIGPIPE, SIG_IGN);
  }

  void write(const Tensor<float, Cpu>& frame) {
    if (frame.n() != 1 || frame.c() != 3 || frame.h() != height_ || frame.w() != width_)
      throw ShapeError("VideoWriter: frame " + to_string(frame.shape()) + ", expected 1x3x" + std::to_string(height_) +
                       "x" + std::to_string(width_));
    const std::size_t plane = static_cast<std::size_t>(height_) * width_;
    bytes_.resize(plane * 3);
    for (std::size_t k = 0; k < plane; ++k)
      for (int c = 0; c < 3; ++c)
        bytes_[3 * k + c] = static_cast<unsigned char>(std::clamp(std::lround(frame.data()[c * plane + k]), 0L, 255L));
    ffmpeg_.write_all(bytes_.data(), bytes_.size());
  }

  void finish() {
    if (const int status = ffmpeg_.wait(); status != 0)
      throw Error("ffmpeg failed encoding (exit status " + std::to_string(status) + "; see its message above)");
  }

 private:
  static std::vector<std::string> command(const std::filesystem::path& path, int width, int height,
                                          const std::string& frame_rate, const std::filesystem::path& audio_from,
                                          int crf) {
    std::vector<std::string> c{"ffmpeg",
                               "-v",
                               "error",
                               "-nostdin",
                               "-y",
                               "-f",
                               "rawvideo",
                               "-pix_fmt",
                               "rgb24",
                               "-s",
                               std::to_string(width) + "x" + std::to_string(height),
                               "-r",
                               frame_rate,
                               "-i",
                               "-"};
    if (!audio_from.empty())
      c.insert(c.end(), {"-i", audio_from.string(), "-map", "0:v", "-map", "1:a?", "-c:a", "copy"});
    const bool even = width % 2 == 0 && height % 2 == 0;
    c.insert(c.end(),
             {"-c:v", "libx264", "-crf", std::to_string(crf), "-pix_fmt", even ? "yuv420p" : "yuv444p", path.string()});
    return c;
  }

  int width_, height_;
  Process ffmpeg_;
  std::vector<unsigned char> bytes_;
};

}  // namespace perceptual::video
