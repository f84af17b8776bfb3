// libFuzzer target: io::SafetensorsFile on any bytes, then every tensor read as the programs read
// them (float; double as the tests do), checking what an accepted file promises.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "perceptual/core/error.hpp"
#include "perceptual/io/safetensors.hpp"

using namespace perceptual;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::InputFile input("input.safetensors");
  const auto& path = input.write(data, size);
  try {
    const io::SafetensorsFile file(path);
    for (const auto& name : file.names()) {
      std::uint64_t numel = 1;
      for (const auto d : file.shape(name)) numel *= static_cast<std::uint64_t>(d);
      fuzz::require(numel == file.numel(name), "numel() is the shape's product");
      const auto values = file.read<float>(name);
      fuzz::require(values.size() == file.numel(name), "read<float> gives numel() values");
      fuzz::require(file.read<double>(name).size() == values.size(), "read<double> gives numel() values");
    }
    for (const auto& [key, value] : file.metadata()) (void)(key.size() + value.size());
  } catch (const Error& e) {
    fuzz::require(std::string(e.what()).find(path.string()) != std::string::npos, "the error names the file");
  }
  return 0;
}
