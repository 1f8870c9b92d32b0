// A dead rank: a worker rank killed by SIGKILL in the middle of an MPI run, and the job
// relaunched from its last periodic checkpoint. tests/mpi/Relaunch.cmake runs
//
//   mpiexec -n 4 laconic_mpi_relaunch kill DIR     worker 1's rank kills itself mid-run; the
//                                                  launcher ends the job
//   mpiexec -n 3 laconic_mpi_relaunch resume DIR   loads DIR/run.ckpt with other ranks and
//                                                  finishes the run
//
// and the resumed run must end with θ, ledger and History identical to the uninterrupted run
// in process, and DIR/history.csv must hold that run's History.

#include <laconic/laconic.hpp>
#include <laconic/mpi/training.hpp>
#include <laconic/sim/simulation.hpp>

#include <mpi.h>

#include "skip/fixtures.hpp"
#include "support.hpp"

#include <csignal>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

using namespace laconic;

namespace {

constexpr Index M = 4, n = 120, p = 10, rounds = 30;

// A logistic worker; a doomed one kills its process at its 40th gradient (training and the
// History's measurements alike: in round 29, after the checkpoint of round 25).
struct Doomed {
  objective::Logistic inner;
  bool doomed = false;
  int calls = 0;

  Index dim() const { return inner.dim(); }
  Index size() const { return inner.size(); }
  double gradient(const Vector& x, std::span<const Index> batch, Vector& g) {
    if (doomed && ++calls == 40) std::raise(SIGKILL);
    return inner.gradient(x, batch, g);
  }
};

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const std::string mode = argc == 3 ? argv[1] : "";
  if (mode != "kill" && mode != "resume") {
    fmt::print(stderr, "usage: laconic_mpi_relaunch kill|resume DIR\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  const std::filesystem::path dir = argv[2];
  // LAQ: a Markov uplink per worker and per-worker memories in the skip rule, all of which a
  // checkpoint must carry.
  const Laq method{.uplink = {.compressor = {.bits = 4}},
                   .server = {.step = server::StepSize::constant(1.0)}};
  const sim::Options options{.seed = 5,
                             .rounds = rounds,
                             .record_every = 3,
                             .checkpoint_every = 5,
                             .checkpoint_path = dir / "run.ckpt",
                             .history_path = dir / "history.csv"};
  const bool kill = mode == "kill";
  const auto worker = [&](Index m) {
    return Doomed{test::logistic_workers(M, n, p)[static_cast<std::size_t>(m)], kill && m == 1};
  };
  mpi::Training training(method, M, worker, Vector::Zero(p), options);
  if (kill) {
    training.run();
    fmt::print(stderr, "the run was not killed\n");
    MPI_Finalize();
    return 1;
  }
  training.load(options.checkpoint_path);
  const Index from = training.round();
  const mpi::RunResult result = training.run_until(rounds);
  int failures = 0;
  if (training.is_server()) {
    sim::Options plain = options;
    plain.checkpoint_every = 0;
    plain.history_path.clear();
    std::vector<Doomed> workers;
    for (Index m = 0; m < M; ++m) workers.push_back(worker(m));
    const sim::RunResult reference =
        sim::Simulation(method, std::move(workers), Vector::Zero(p), plain).run();
    const auto check = [&](bool ok, const char* what) {
      if (!ok) ++failures;
      fmt::print("{}: {}\n", what, ok ? "identical" : "DIFFERENT");
    };
    fmt::print("resumed at round {} of {} with {} ranks\n", from, rounds, training.ranks());
    check(from > 0 && from < rounds && from % 5 == 0, "a periodic checkpoint before the end");
    check(result.theta == reference.theta, "theta");
    check(result.ledger == reference.ledger, "ledger");
    check(result.history == reference.history, "history");
    check(test::read_file(options.history_path) == reference.history.to_csv(), "history.csv");
  }
  MPI_Bcast(&failures, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Finalize();
  return failures == 0 ? 0 : 1;
}
