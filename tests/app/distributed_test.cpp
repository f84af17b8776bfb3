#include "perceptual/app/distributed.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <span>
#include <string>

using namespace perceptual;

// This test's executable is built without MPI (tests/dist/mpi_test.cpp has the MPI side).
TEST_CASE("app::world: alone without a launcher; several ranks of a program without MPI are refused") {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_STEP_NUM_TASKS"})
    unsetenv(variable);
  setenv("SLURM_NTASKS", "4", 1);  // a batch script's own environment: the script is one process
  CHECK(dist::launched_ranks() == 0);
  CHECK(app::world().size() == 1);
  CHECK(app::world().root());
  CHECK(app::ranks_text(app::world()).empty());

  setenv("OMPI_COMM_WORLD_SIZE", "1", 1);  // mpirun -np 1: one rank is one process alone
  CHECK(dist::launched_ranks() == 1);
  CHECK(app::world().size() == 1);
  setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
  CHECK(dist::launched_ranks() == 3);
  CHECK_THROWS_WITH_AS(app::world(), doctest::Contains("started as 3 ranks, but this program was built without MPI"),
                       ArgumentError);
  unsetenv("OMPI_COMM_WORLD_SIZE");
  setenv("PMIX_RANK", "0", 1);  // srun --mpi=pmix
  setenv("SLURM_STEP_NUM_TASKS", "2", 1);
  CHECK(dist::launched_ranks() == 2);
  for (const char* variable : {"SLURM_NTASKS", "PMIX_RANK", "SLURM_STEP_NUM_TASKS"}) unsetenv(variable);
}

TEST_CASE("app::ranks_text: nothing alone, the ranks, and the library where the sums run on the device") {
  struct Ranks final : dist::Communicator, dist::DeviceSum {
    int ranks = 1;
    bool device = false;
    int size() const override { return ranks; }
    DeviceSum* device_sum() const override { return device ? const_cast<Ranks*>(this) : nullptr; }
    void sum(std::span<const dist::DeviceBuffer>) override {}
    std::string name() const override { return "NCCL 2.28.9"; }
  } comm;
  CHECK(app::ranks_text(comm).empty());
  comm.ranks = 2;
  CHECK(app::ranks_text(comm) == ", 2 ranks");
  comm.device = true;
  CHECK(app::ranks_text(comm) == ", 2 ranks over NCCL 2.28.9");
  comm.ranks = 1;  // mpirun -np 1 of a CUDA program
  CHECK(app::ranks_text(comm) == ", 1 rank over NCCL 2.28.9");
}
