// stylize_video_cuda: stylize_video (stylize_video.hpp) with the network on the GPU (decoding, the
// flow method and encoding stay on the CPU); without a CUDA device it says so and exits 1.
#include <perceptual/app/cuda_device.hpp>
#include "stylize_video.hpp"

int main(int argc, char** argv) {
  return perceptual::examples::stylize_video_main<perceptual::Cuda>(argc, argv, "stylize_video_cuda",
                                                                    "stylize_video runs on the CPU");
}
