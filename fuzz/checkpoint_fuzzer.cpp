// libFuzzer target: a training checkpoint read back as --resume reads it, TrainingState::load_checkpoint
// (what StyleTrainer::load_checkpoint and SrTrainer::load_checkpoint call), once as a style
// checkpoint and once as a super-resolution one with SrTrainer's required settings, on the
// miniature network of checkpoint_net.hpp.
#include <cstddef>
#include <cstdint>
#include <string>

#include "checkpoint_net.hpp"
#include "fuzz_support.hpp"
#include "perceptual/core/error.hpp"

using namespace perceptual;

namespace {

void load(const train::CheckpointKind& kind, const std::map<std::string, std::string>& required,
          const std::filesystem::path& path) {
  train::TrainingState<fuzz::CheckpointNet> state(kind, 1, 1e-3);
  try {
    const auto meta = state.load_checkpoint(path, required);
    fuzz::require(state.iteration() >= 0, "a resumed iteration is not negative");
    fuzz::require(meta.at("checkpoint") == kind.checkpoint, "the checkpoint is of the kind asked for");
  } catch (const Error& e) {
    fuzz::require(std::string(e.what()).find(path.string()) != std::string::npos, "the error names the file");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::InputFile input("input.ckpt.safetensors");
  const auto& path = input.write(data, size);
  load(fuzz::style_kind, {}, path);
  load(fuzz::sr_kind, fuzz::sr_required, path);
  return 0;
}
