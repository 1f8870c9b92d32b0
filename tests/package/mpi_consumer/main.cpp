// Built against the installed package: the MPI transport compiles, links and runs. Started
// without mpiexec it is a single rank, which Training refuses (it needs a server and a worker).
#include <laconic/laconic.hpp>
#include <laconic/mpi/training.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  using namespace laconic;
  const auto data = data::make_logistic({.samples = 20, .features = 3});
  const auto shards = data::partition(data.data, {.workers = 2});
  int status = 1;
  try {
    mpi::Training training(
        Sgd{}, 2, [&](Index m) { return objective::Logistic(shards[static_cast<std::size_t>(m)]); },
        Vector::Zero(3));
  } catch (const std::invalid_argument& e) {
    status = std::string(e.what()).find("MPI ranks") != std::string::npos ? 0 : 1;
    std::printf("%s\n", e.what());
  }
  MPI_Finalize();
  return status;
}
