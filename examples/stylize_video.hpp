#pragma once
// stylize_video: a style network over every frame of a video (any FFmpeg reads), written at the
// input's frame rate with its audio, per frame or with a temporal stability method (app/video.hpp).
// Backend-generic: stylize_video.cpp runs the network on the CPU, stylize_video_cuda.cpp on the GPU.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <perceptual/app/device.hpp>
#include <perceptual/app/options.hpp>
#include <perceptual/app/style_nets.hpp>
#include <perceptual/app/video.hpp>
#include <perceptual/io/io.hpp>
#include <perceptual/nets/engstrom.hpp>
#include <perceptual/perceptual.hpp>
#include <string>

namespace perceptual::examples {

struct StylizeVideoOptions : app::VideoOptions {
  std::string input, output, model, preset = "auto";
};

template <class Net, class B, class Load>
int stylize_video_run(const StylizeVideoOptions& o, const io::SafetensorsFile& file, Load load,
                      const std::string& program) {
  Model<Net, B, float> net;
  load(net, file);
  net.eval();
  const app::VideoRun r = app::stylize_video(net, o.input, o.output, o);
  std::fprintf(stderr, "%s: %ld frames in %.1f s (%.2f frames/s, %s%s) -> %s\n", program.c_str(), r.frames, r.seconds,
               static_cast<double>(r.frames) / r.seconds, o.stability.c_str(),
               r.scene_cuts ? (", " + std::to_string(r.scene_cuts) + " scene cuts").c_str() : "", o.output.c_str());
  return 0;
}

// The program on backend B; `program` names it in messages, `instead` says what to run where B
// cannot run.
template <class B>
int stylize_video_main(int argc, char** argv, const std::string& program, const std::string& instead) {
  StylizeVideoOptions o;
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

  return app::report_errors(program, [&] {
    const std::string device = app::Device<B>::start(instead);
    const io::SafetensorsFile file(o.model);
    const std::string preset = o.preset == "auto" ? app::detect_preset(file) : o.preset;
    std::fprintf(stderr, "%s: %s network from %s, on %s\n", program.c_str(), preset.c_str(), o.model.c_str(),
                 device.c_str());
    const auto load = [](auto& net, const auto& f) { io::load_parameters(net, f); };
    if (preset == "engstrom")
      return stylize_video_run<nets::EngstromNet, B>(
          o, file, [](auto& net, const auto& f) { nets::load_engstrom(net, f); }, program);
    if (file.has("conv1.norm.running_mean")) {  // trained with batch norm: no instance norm to share
      if (o.stability == "ema") throw ArgumentError("--stability ema needs a network with instance norm");
      return stylize_video_run<nets::StyleTransformNet<nets::BatchNormDefault>, B>(o, file, load, program);
    }
    return stylize_video_run<nets::StyleTransformNet<>, B>(o, file, load, program);
  });
}

}  // namespace perceptual::examples
