#pragma once
// A scratch folder of training inputs for the training programs' tests: the tiny VGG
// (vgg.safetensors), four random images in data/ and a 16x16 style.png.
#include <filesystem>
#include <random>
#include <string>

#include "perceptual/io/image.hpp"
#include "support/random.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_vgg.hpp"

namespace perceptual::testing {

struct TinyTrainingData {
  TempDir dir;
  TinyTrainingData() {
    write_tiny_vgg(dir / "vgg.safetensors");
    std::filesystem::create_directories(dir / "data");
    std::mt19937_64 rng(3);
    for (int i = 0; i < 4; ++i)
      io::write_image(random_tensor<float>({1, 3, 20 + i, 24}, rng, 0, 255),
                      dir / "data" / ("img" + std::to_string(i) + ".png"));
    io::write_image(random_tensor<float>({1, 3, 16, 16}, rng, 0, 255), dir / "style.png");
  }
};

}  // namespace perceptual::testing
