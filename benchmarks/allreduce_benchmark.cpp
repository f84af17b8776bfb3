// The data-parallel step's communication: the sum over ranks of one step's gradients
// (dist::combine_gradients' one call), timed at the sizes of the networks we train. Run it as
// ranks of mpirun (`mpirun -np 2 build/benchmarks/allreduce_benchmark`); docs/DISTRIBUTED.md turns
// its figures into a scaling estimate.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include <perceptual/perceptual.hpp>

#include "perceptual/app/distributed.hpp"
#include "perceptual/app/options.hpp"
#include "perceptual/app/timing.hpp"
#include "perceptual/nets/transform.hpp"

using namespace perceptual;

namespace {

// The learnable values of a network: what each step sums over the ranks.
template <class Net>
std::size_t gradient_values() {
  Model<Net, Cpu, float> net;
  std::size_t n = 0;
  for (const auto& p : net.parameters())
    if (p.learnable()) n += p.value->size();
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 20;
  CLI::App cli{
      "Milliseconds to sum one training step's float gradients over the ranks of mpirun (MPI_Allreduce, in place), "
      "for the style network (StyleTransformNet) and the x4 and x8 super-resolution networks: the median of --reps "
      "after 2 warm-ups, with the algorithm bandwidth (bytes / time) and the bus bandwidth of a ring "
      "(2 (N - 1) / N bytes / time). Started without mpirun it has nothing to sum and says so."};
  cli.add_option("--reps", reps, "timed sums per size")->capture_default_str()->check(CLI::Range(1, 100000));
  CLI11_PARSE(cli, argc, argv);

  return app::report_errors("allreduce_benchmark", [&] {
    dist::Communicator& comm = app::world();
    if (comm.size() == 1) {
      std::fprintf(stderr, "allreduce_benchmark: one process: nothing to sum (run it with mpirun -np N)\n");
      return 1;
    }
    const struct {
      const char* name;
      std::size_t values;
    } rows[] = {{"StyleTransformNet", gradient_values<nets::StyleTransformNet<>>()},
                {"SuperResolutionNet x4", gradient_values<nets::SuperResolutionNet<4>>()},
                {"SuperResolutionNet x8", gradient_values<nets::SuperResolutionNet<8>>()}};
    if (comm.root()) {
      std::printf("%d ranks, medians of %d\n\n", comm.size(), reps);
      std::printf(
          "| network | gradient values | MB | ms | algorithm GB/s | bus GB/s |\n| --- | ---: | ---: | ---: | ---: | "
          "---: |\n");
    }
    for (const auto& row : rows) {
      std::vector<float> gradients(row.values, 1.0f);
      const double seconds = app::median_seconds(2, reps, [&] {
        comm.barrier();
        comm.sum(gradients);
      });
      const double bytes = 4.0 * static_cast<double>(row.values), n = comm.size();
      if (comm.root())
        std::printf("| %s | %zu | %.2f | %.3f | %.2f | %.2f |\n", row.name, row.values, bytes / 1e6, 1e3 * seconds,
                    bytes / seconds / 1e9, 2 * (n - 1) / n * bytes / seconds / 1e9);
    }
    return 0;
  });
}
