// transform_benchmark on the CUDA backend (transform_benchmark.hpp): Johnson's style
// transformation network and a training step, timed with CUDA events on the backend's stream, in
// float32 (exact, and in TF32) and bf16 mixed precision. scripts/device_check.sh runs it beside
// PyTorch on the same GPU.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>
#include <vector>

#include "perceptual/app/cuda_device.hpp"
#include "perceptual/app/timing.hpp"
#include "transform_benchmark.hpp"

using namespace perceptual;

namespace {

double median_ms(const std::function<void()>& run, int warmup, int iterations) {
  for (int i = 0; i < warmup; ++i) run();
  cuda::synchronize();
  cudaEvent_t start = nullptr, stop = nullptr;
  PERCEPTUAL_CUDA_CHECK(cudaEventCreate(&start));
  PERCEPTUAL_CUDA_CHECK(cudaEventCreate(&stop));
  const cudaStream_t stream = cuda::context().stream();
  std::vector<double> times;
  for (int i = 0; i < iterations; ++i) {
    PERCEPTUAL_CUDA_CHECK(cudaEventRecord(start, stream));
    run();
    PERCEPTUAL_CUDA_CHECK(cudaEventRecord(stop, stream));
    PERCEPTUAL_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    PERCEPTUAL_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    times.push_back(ms);
  }
  (void)cudaEventDestroy(start);
  (void)cudaEventDestroy(stop);
  return app::median(std::move(times));
}

void run(const std::string& precision, const bench::TransformBenchOptions& o) {
  // float32 exact (the CPU backend's arithmetic, PyTorch's eager_fp32) or in TF32 (eager_tf32).
  if (precision == "fp32" || precision == "tf32") {
    cuda::set_tf32(precision == "tf32");
    return bench::bench_rows<float, Cuda>(precision, o, median_ms);
  }
  if (!cuda::bf16_supported()) {
    std::printf("# bf16: skipped, it needs compute capability 8.0 or newer\n");
    return;
  }
  bench::bench_rows<bf16, Cuda>(precision, o, median_ms);
}

}  // namespace

int main(int argc, char** argv) {
  return bench::transform_benchmark_main(
      argc, argv, "transform_benchmark", {"fp32", "tf32", "bf16"},
      [] {
        return app::Device<Cuda>::start(
            "it times the GPU only: run it on a GPU machine with scripts/device_check.sh; transform_benchmark_cpu "
            "times the CPU backend",
            app::DeviceUse::fastest);
      },
      run);
}
