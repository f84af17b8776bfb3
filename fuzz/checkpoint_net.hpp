#pragma once
// The network of the checkpoint fuzzer and of its seed files: TrainingState::load_checkpoint is the
// same code for every network (names, shapes and metadata change), so a miniature one with batch
// norm (running statistics, like SuperResolutionNet's) keeps the seed files a few hundred bytes.
// On the CPU backend, which train/ leaves to the program to include.
#include <map>
#include <string>

#include "perceptual/backend/cpu/cpu.hpp"
#include "perceptual/layers/layers.hpp"
#include "perceptual/train/checkpoint.hpp"

namespace perceptual::fuzz {

using CheckpointNet = layers::Sequential<layers::Named<"conv1", layers::Conv2d<3, 2, 1>>,
                                         layers::Named<"conv1.norm", layers::BatchNorm<2>>, layers::ReLU,
                                         layers::Named<"conv_out", layers::Conv2d<2, 3, 1>>>;

// As StyleTrainer and SrTrainer describe their checkpoints; SrTrainer also requires its settings.
inline const train::CheckpointKind style_kind{"StyleTrainer", "style_trainer", "johnson-style"};
inline const train::CheckpointKind sr_kind{"SrTrainer", "sr_trainer", "johnson-sr"};
inline const std::map<std::string, std::string> sr_required{{"factor", "4"}, {"norm", "batch"}};

}  // namespace perceptual::fuzz
