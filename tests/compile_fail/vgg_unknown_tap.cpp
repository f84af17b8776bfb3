// expect: every tap must be a reluX_Y layer of this VGG
// VGG-16 has no relu5_4 (that is VGG-19's): naming it as a tap must not compile.
#include <perceptual/nets/vgg.hpp>
#include <perceptual/perceptual.hpp>

int main() {
  return perceptual::nets::Vgg16<"relu2_2", "relu5_4">::num_stages;
}
