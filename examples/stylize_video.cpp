// stylize_video: a style network over every frame of a video, on the CPU (stylize_video.hpp);
// stylize_video_cuda is its GPU build.
#include "stylize_video.hpp"

int main(int argc, char** argv) {
  return perceptual::examples::stylize_video_main<perceptual::Cpu>(argc, argv, "stylize_video", "");
}
