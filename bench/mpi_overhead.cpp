// Per-round cost of running a method over MPI against running it in process, on this machine.
// Run under mpiexec (ctest: mpiexec -n 4, one server and three worker ranks). For each method,
// rank 0 first times sim::Simulation on one thread while the other ranks wait without
// spinning, then every rank runs mpi::Training with the same seed; the ratio is MPI seconds
// per round over in-process seconds per round. History rows are taken only at the start and
// the end, so that rounds, not loss evaluations, are timed. On a machine with fewer cores
// than ranks the ranks share cores, which the ratio includes.
//
//   mpiexec -n 4 bench_mpi_overhead [rounds]

#include <laconic/laconic.hpp>
#include <laconic/mpi/training.hpp>

#include <fmt/format.h>
#include <mpi.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using namespace laconic;

namespace {

constexpr Index workers = 12, per_worker = 1000, features = 100;

// Waits for every rank without busy polling, so that a rank being timed has the cores.
void quiet_barrier() {
  MPI_Request request;
  MPI_Ibarrier(MPI_COMM_WORLD, &request);
  for (int done = 0;;) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

template <class Method>
void compare(const std::string& name, const Method& method, Index rounds) {
  const int rank = mpi::rank_in(MPI_COMM_WORLD);
  const auto synthetic =
      data::make_logistic({.samples = workers * per_worker, .features = features, .seed = 5});
  const auto shards = data::partition(synthetic.data, {.workers = workers});
  const auto make = [&](Index m) {
    return objective::Logistic(shards[static_cast<std::size_t>(m)], {.lambda = 1e-3});
  };
  const sim::Options options{.seed = 1, .rounds = rounds, .record_every = rounds};

  double in_process = 0;
  if (rank == 0) {
    std::vector<objective::Logistic> all;
    for (Index m = 0; m < workers; ++m) all.push_back(make(m));
    sim::Simulation simulation(method, std::move(all), Vector::Zero(features), options);
    in_process = simulation.run().wall_seconds;
  }
  quiet_barrier();
  mpi::Training training(method, workers, make, Vector::Zero(features), options);
  MPI_Barrier(MPI_COMM_WORLD);
  const mpi::RunResult result = training.run();
  if (rank != 0) return;
  const double per_round_sim = in_process / static_cast<double>(rounds);
  const double per_round_mpi = result.wall_seconds / static_cast<double>(rounds);
  const auto r = static_cast<double>(rounds);
  fmt::print("{:<22} {:>12.1f} {:>12.1f} {:>8.2f} {:>14.0f} {:>14.0f}\n", name, per_round_sim * 1e6,
             per_round_mpi * 1e6, per_round_mpi / per_round_sim,
             static_cast<double>(result.wire.payload_sent + result.wire.payload_received) / r,
             static_cast<double>(result.wire.control_sent + result.wire.control_received) / r);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const Index rounds = argc > 1 ? std::atol(argv[1]) : 300;
  const int ranks = mpi::size_of(MPI_COMM_WORLD);
  if (mpi::rank_in(MPI_COMM_WORLD) == 0) {
    fmt::print(
        "MPI transport overhead: {} logical workers x {} samples, {} features, {} rounds, "
        "{} worker ranks, {} hardware threads\n",
        workers, per_worker, features, rounds, ranks - 1, std::thread::hardware_concurrency());
    fmt::print("{:<22} {:>12} {:>12} {:>8} {:>14} {:>14}\n", "method", "sim us/round",
               "mpi us/round", "ratio", "payload B/rnd", "control B/rnd");
  }
  const server::Sgd::Params sgd{.step = server::StepSize::constant(0.5),
                                .batch = server::Batch::of(32)};
  compare("SGD (batch 32)", Sgd{.server = sgd}, rounds);
  compare("GD (full batch)", Sgd{.server = {.step = server::StepSize::constant(0.5)}}, rounds);
  compare("QSGD s=7", Qsgd{.uplink = {.levels = 7}, .server = sgd}, rounds);
  compare(
      "LASG-WK2 + QSGD s=7",
      Laqsg<skip::LasgWk2>{.skip = {.D = 50, .d_max = 10}, .uplink = {.levels = 7}, .server = sgd},
      rounds);
  MPI_Finalize();
  return 0;
}
