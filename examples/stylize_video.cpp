// stylize_video: a style network over every frame of a video (any FFmpeg reads), written at the
// input's frame rate with its audio, per frame or with a temporal stability method (app/video.hpp).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <perceptual/app/options.hpp>
#include <perceptual/app/style_nets.hpp>
#include <perceptual/app/video.hpp>
#include <perceptual/io/io.hpp>
#include <perceptual/nets/engstrom.hpp>
#include <perceptual/perceptual.hpp>
#include <string>

using namespace perceptual;

namespace {

struct Options : app::VideoOptions {
  std::string input, output, model, preset = "auto";
};

template <class Net, class Load>
int run(const Options& o, const io::SafetensorsFile& file, Load load) {
  Model<Net, Cpu, float> net;
  load(net, file);
  net.eval();
  const app::VideoRun r = app::stylize_video(net, o.input, o.output, o);
  std::fprintf(stderr, "stylize_video: %ld frames in %.1f s (%.2f frames/s, %s%s) -> %s\n", r.frames, r.seconds,
               static_cast<double>(r.frames) / r.seconds, o.stability.c_str(),
               r.scene_cuts ? (", " + std::to_string(r.scene_cuts) + " scene cuts").c_str() : "", o.output.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App cli{
      "Fast style transfer for video: reads any video FFmpeg reads (ffmpeg and ffprobe on PATH), runs a style "
      "network over every frame at its own size and writes H.264 at the input's frame rate, with the input's audio "
      "copied. Frames stylised one by one flicker; --stability ema or flow steadies them."};
  cli.add_option("input", o.input, "input video")->required();
  cli.add_option("-o,--output", o.output, "output video (its extension picks the container: .mp4, .mkv, ...)")
      ->required();
  app::add_input_file(cli, "-m,--model", o.model, "style network weights (safetensors)");
  cli.add_option("--preset", o.preset,
                 "network: engstrom (lengstrom/fast-style-transfer), johnson (our StyleTransformNet), or auto: "
                 "from the file's metadata and tensor names")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "engstrom", "johnson"}));
  app::add_video_flags(cli, o);
  CLI11_PARSE(cli, argc, argv);

  return app::report_errors("stylize_video", [&] {
    const io::SafetensorsFile file(o.model);
    const std::string preset = o.preset == "auto" ? app::detect_preset(file) : o.preset;
    std::fprintf(stderr, "stylize_video: %s network from %s\n", preset.c_str(), o.model.c_str());
    if (preset == "engstrom")
      return run<nets::EngstromNet>(o, file, [](auto& net, const auto& f) { nets::load_engstrom(net, f); });
    if (file.has("conv1.norm.running_mean")) {  // trained with batch norm: no instance norm to share
      if (o.stability == "ema") throw ArgumentError("--stability ema needs a network with instance norm");
      return run<nets::StyleTransformNet<nets::BatchNormDefault>>(
          o, file, [](auto& net, const auto& f) { io::load_parameters(net, f); });
    }
    return run<nets::StyleTransformNet<>>(o, file, [](auto& net, const auto& f) { io::load_parameters(net, f); });
  });
}
