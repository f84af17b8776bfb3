// expect: a layer's in_channels must equal the previous layer's out_channels
// A 3->32 convolution followed by one that expects 64 channels must not compile.
#include <perceptual/perceptual.hpp>

using namespace perceptual::layers;

using Broken = Sequential<Conv2d<3, 32, 3>, ReLU, Conv2d<64, 128, 3>>;

int main() {
  return Broken::out_channels;
}
