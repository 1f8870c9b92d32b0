// The MPI tests' runner: every rank runs the same test cases in the same order (they are
// collective), between MPI_Init and MPI_Finalize. Ranks other than 0 report only failures.
#define CATCH_CONFIG_RUNNER
#include <mpi.h>
#include <catch2/catch.hpp>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int result = Catch::Session().run(argc, argv);
  // Every rank's verdict decides the exit code of rank 0 too.
  int worst = 0;
  MPI_Allreduce(&result, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
