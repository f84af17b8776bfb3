// flicker: how much stylised videos flicker, and how strongly they keep the style: for each,
// the warping error of Lai et al. 2018 against the input's optical flow and the mean Gram distance
// to the style image (app/video.hpp), as a table and, with --csv, a CSV file.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <memory>
#include <perceptual/app/options.hpp>
#include <perceptual/app/video.hpp>
#include <perceptual/io/io.hpp>
#include <perceptual/perceptual.hpp>
#include <string>
#include <vector>

using namespace perceptual;

int main(int argc, char** argv) {
  std::string input, style, weights, csv, layers = "relu1_2,relu2_2,relu3_4";
  std::vector<std::string> stylised;
  int style_size = 0;
  long max_frames = 0, style_every = 10;
  CLI::App cli{
      "Flicker of stylised videos (any FFmpeg reads; ffmpeg and ffprobe on PATH): for each, the warping error of Lai "
      "et al. (ECCV 2018): the mean over frames t >= 1 of the mean squared RGB distance (colours on 0..1) between "
      "output frame t and output frame t-1 warped by the INPUT's optical flow (DIS), over the pixels whose flow passes "
      "the forward-backward consistency check; and, given --style and --weights, the mean over frames of the Gram "
      "distance to the style image (Johnson et al. eq. 4 summed over --layers; every --style-every frames), so that "
      "steadiness bought by fading "
      "the style shows."};
  cli.add_option("input", input, "the input video the stylised ones were made from")->required();
  cli.add_option("stylised", stylised, "stylised videos of the input, each a row")->required();
  cli.add_option("--style", style, "style image, for the style distance");
  cli.add_option("--weights", weights, "VGG weights (safetensors), for the style distance");
  cli.add_option("--layers", layers, "VGG-19 layers of the style distance")->capture_default_str();
  cli.add_option("--style-size", style_size, "longer side of the style image (default: the video's longer side)")
      ->check(CLI::NonNegativeNumber);
  cli.add_option("--max-frames", max_frames, "compare only the first N frames (0: all)")->check(CLI::NonNegativeNumber);
  cli.add_option("--style-every", style_every,
                 "measure the style distance on every Nth frame (a VGG pass costs more than the flow)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cli.add_option("--csv", csv, "also write the table here as CSV");
  CLI11_PARSE(cli, argc, argv);

  return app::report_errors("flicker", [&] {
    if (style.empty() != weights.empty()) throw ArgumentError("--style and --weights go together");
    std::unique_ptr<video::StyleDistance<>> distance;
    if (!style.empty()) {
      const video::VideoInfo info = video::probe(input);
      const int size = style_size > 0 ? style_size : std::max(info.width, info.height);
      std::vector<std::string> names;
      for (std::size_t at = 0; at <= layers.size();) {
        const std::size_t end = std::min(layers.find(',', at), layers.size());
        names.push_back(layers.substr(at, end - at));
        at = end + 1;
      }
      distance = std::make_unique<video::StyleDistance<>>(
          weights, io::resize_longer_side(io::read_image<float>(style), size), names);
    }
    const auto rows =
        app::measure_flicker(input, {stylised.begin(), stylised.end()}, distance.get(), max_frames, style_every);
    std::printf("%-40s %7s %14s %9s %15s\n", "video", "frames", "warping_error", "reliable", "style_distance");
    for (const auto& r : rows)
      std::printf("%-40s %7ld %14.6g %9.3f %15.6g\n", r.video.c_str(), r.frames, r.warping_error, r.reliable,
                  r.style_distance);
    if (!csv.empty()) {
      std::ofstream f(csv);
      f << "video,frames,warping_error,reliable,style_distance\n";
      for (const auto& r : rows)
        f << '"' << r.video << "\"," << r.frames << ',' << r.warping_error << ',' << r.reliable << ','
          << r.style_distance << '\n';
      if (!f) throw FileError("cannot write " + csv);
    }
    return 0;
  });
}
