// libFuzzer target: a model file's metadata and tensor names read as the inference programs read
// them, from any bytes: nets::SuperResolver (super_resolve, eval_sr --method model: architecture,
// factor and norm from the metadata, checked against the tensors, then the network loaded), the
// VGG weights' depth and input normalisation (gatys, train_style, train_sr), and the style networks
// stylize loads by preset (lengstrom's EngstromNet, our StyleTransformNet with either norm). Every
// error must be a perceptual::Error naming the file.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "fuzz_support.hpp"
#include "perceptual/core/error.hpp"
#include "perceptual/io/parameters.hpp"
#include "perceptual/io/safetensors.hpp"
#include "perceptual/nets/engstrom.hpp"
#include "perceptual/nets/super_resolution.hpp"
#include "perceptual/nets/super_resolver.hpp"
#include "perceptual/nets/transform.hpp"
#include "perceptual/nets/vgg_weights.hpp"

using namespace perceptual;

namespace {

// Runs `read`; a perceptual::Error must name the file, anything else escapes as a crash.
template <class Read>
void expect_clean(const std::filesystem::path& path, Read read) {
  try {
    read();
  } catch (const Error& e) {
    fuzz::require(std::string(e.what()).find(path.string()) != std::string::npos, "the error names the file");
  }
}

// stylize's networks, built once: loading checks every name and shape before changing a value,
// so a reused network reads each file as a fresh one would.
template <class Net>
Model<Net, Cpu, float>& style_net() {
  static Model<Net, Cpu, float> net;
  return net;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::InputFile input("input.model.safetensors");
  const auto& path = input.write(data, size);
  std::optional<io::SafetensorsFile> file;
  try {
    file.emplace(path);
  } catch (const Error& e) {
    fuzz::require(std::string(e.what()).find(path.string()) != std::string::npos, "the error names the file");
    return 0;
  }

  expect_clean(path, [&] {
    const nets::SrModelInfo info = nets::sr_model_info(*file);
    fuzz::require(info.factor == 4 || info.factor == 8, "a super-resolution factor is 4 or 8");
    const nets::SuperResolver net(path);  // the whole load, as super_resolve does it
    fuzz::require(net.factor() == info.factor, "SuperResolver agrees with sr_model_info");
  });
  expect_clean(path, [&] {
    const int depth = nets::vgg_depth(*file);
    fuzz::require(depth == 16 || depth == 19, "a VGG depth is 16 or 19");
    fuzz::require(nets::vgg_detail::metadata_triple(*file, "input_mean").size() == 3, "input_mean has 3 values");
    fuzz::require(nets::vgg_detail::metadata_triple(*file, "input_std").size() == 3, "input_std has 3 values");
  });
  expect_clean(path, [&] { nets::load_engstrom(style_net<nets::EngstromNet>(), *file); });
  expect_clean(path, [&] { io::load_parameters(style_net<nets::StyleTransformNet<>>(), *file); });
  expect_clean(path, [&] { io::load_parameters(style_net<nets::StyleTransformNet<nets::BatchNormDefault>>(), *file); });
  return 0;
}
