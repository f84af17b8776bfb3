// transform_benchmark on the CPU backend (transform_benchmark.hpp; float32):
// Johnson's style transformation network and a training step, wall-clock medians after warm-up.
// torch_transform_reference.py --device cpu times the same networks and step with PyTorch.
#include <string>

#include "perceptual/app/device.hpp"
#include "perceptual/app/timing.hpp"
#include "transform_benchmark.hpp"

using namespace perceptual;

int main(int argc, char** argv) {
  const auto median_ms = [](const std::function<void()>& run, int warmup, int iterations) {
    return 1000 * app::median_seconds(warmup, iterations, run);
  };
  return bench::transform_benchmark_main(
      argc, argv, "transform_benchmark_cpu", {"fp32"}, [] { return app::Device<Cpu>::start(); },
      [&](const std::string& precision, const bench::TransformBenchOptions& o) {
        bench::bench_rows<float, Cpu>(precision, o, median_ms);
      });
}
