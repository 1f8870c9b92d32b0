// Per-round cost of running a method over MPI against running it in process, on this machine.
// Run under mpiexec (ctest: mpiexec -n 4, one server and three worker ranks). For each method,
// rank 0 first times sim::Simulation on one thread while the other ranks wait without
// spinning, then every rank runs mpi::Training with the same seed; the ratio is MPI seconds
// per round over in-process seconds per round. History rows are taken only at the start and
// the end, so that rounds, not loss evaluations, are timed. On a machine with fewer cores
// than ranks the ranks share cores, which the ratio includes. The last line runs GD on
// gradients that cost nothing: what a round costs the transport itself (docs/mpi.md).
//
//   mpiexec -n 4 bench_mpi_overhead [rounds]

#include <laconic/laconic.hpp>
#include <laconic/mpi/training.hpp>

#include <fmt/format.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <span>
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

// f(θ) = ½‖θ‖² on one sample: a gradient that costs next to nothing, so that a round of GD
// over it times the transport alone.
struct Free {
  Index dim() const { return features; }
  Index size() const { return 1; }
  double gradient(const Vector& x, std::span<const Index>, Vector& g) {
    g = x;
    return 0.5 * x.squaredNorm();
  }
};

template <class Method, class Make>
void compare(const std::string& name, const Method& method, Make&& make, Index rounds) {
  using Obj = decltype(make(Index{0}));
  const int rank = mpi::rank_in(MPI_COMM_WORLD);
  const sim::Options options{.seed = 1, .rounds = rounds, .record_every = rounds};

  double in_process = 0;
  if (rank == 0) {
    std::vector<Obj> all;
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

// MPI's own floor for GD's round above: the five collectives the transport makes (the round's
// command, θ's message, each rank's status and sizes, the uploads' bytes, their headers), with
// the same sizes, timed alone on every rank.
void collectives_alone(Index rounds) {
  const int rank = mpi::rank_in(MPI_COMM_WORLD), ranks = mpi::size_of(MPI_COMM_WORLD);
  const auto hosted = static_cast<int>(workers / (ranks - 1));
  const int payload = hosted * static_cast<int>(features * sizeof(double));
  const int headers = hosted * static_cast<int>(sizeof(mpi::UploadHeader));
  // 104 bytes: the size of mpi::Training's Command (thirteen 8-byte fields), private to it.
  std::vector<std::uint8_t> command(104), theta(features * sizeof(double));
  std::vector<std::uint8_t> sent(static_cast<std::size_t>(std::max(payload, headers)));
  std::vector<std::uint8_t> received(static_cast<std::size_t>(ranks * std::max(payload, headers)));
  std::int64_t sizes[2] = {0, payload};
  std::vector<std::int64_t> all(static_cast<std::size_t>(2 * ranks));
  std::vector<int> counts(static_cast<std::size_t>(ranks)), displs(counts.size());
  const auto gatherv = [&](int bytes) {
    for (int r = 0; r < ranks; ++r) {
      counts[static_cast<std::size_t>(r)] = r == 0 ? 0 : bytes;
      displs[static_cast<std::size_t>(r)] = r * bytes;
    }
    MPI_Gatherv(sent.data(), rank == 0 ? 0 : bytes, MPI_BYTE, received.data(), counts.data(),
                displs.data(), MPI_BYTE, 0, MPI_COMM_WORLD);
  };
  quiet_barrier();
  const auto start = std::chrono::steady_clock::now();
  for (Index k = 0; k < rounds; ++k) {
    MPI_Bcast(command.data(), static_cast<int>(command.size()), MPI_BYTE, 0, MPI_COMM_WORLD);
    MPI_Bcast(theta.data(), static_cast<int>(theta.size()), MPI_BYTE, 0, MPI_COMM_WORLD);
    MPI_Gather(sizes, 2, MPI_INT64_T, all.data(), 2, MPI_INT64_T, 0, MPI_COMM_WORLD);
    gatherv(payload);
    gatherv(headers);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (rank == 0) {
    fmt::print("{:<22} {:>12} {:>12.1f}   (MPI's five collectives of a GD round, alone)\n",
               "collectives alone", "", seconds / static_cast<double>(rounds) * 1e6);
  }
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
  const auto synthetic =
      data::make_logistic({.samples = workers * per_worker, .features = features, .seed = 5});
  const auto shards = data::partition(synthetic.data, {.workers = workers});
  const auto logistic = [&](Index m) {
    return objective::Logistic(shards[static_cast<std::size_t>(m)], {.lambda = 1e-3});
  };
  const server::Sgd::Params sgd{.step = server::StepSize::constant(0.5),
                                .batch = server::Batch::of(32)};
  const Gd gd{.server = {.step = server::StepSize::constant(0.5)}};
  compare("SGD (batch 32)", Sgd{.server = sgd}, logistic, rounds);
  compare("GD (full batch)", gd, logistic, rounds);
  compare("QSGD s=7", Qsgd{.uplink = {.levels = 7}, .server = sgd}, logistic, rounds);
  compare(
      "LASG-WK2 + QSGD s=7",
      Laqsg<skip::LasgWk2>{.skip = {.D = 50, .d_max = 10}, .uplink = {.levels = 7}, .server = sgd},
      logistic, rounds);
  // The transport's own cost per round: the same exchange with gradients that cost nothing.
  compare(
      "GD, free gradients", gd, [](Index) { return Free{}; }, rounds);
  collectives_alone(10 * rounds);
  MPI_Finalize();
  return 0;
}
