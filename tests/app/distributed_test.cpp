#include "perceptual/app/distributed.hpp"

#include <doctest/doctest.h>

#include <cstdlib>

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
