// LASG-WK2 with 4-bit QSGD uploads (LASG §II-C, "LAQSG") on a9a, across MPI processes: rank 0
// is the server and ranks 1..P host the M = 10 logical workers in contiguous blocks. Rank 0
// also runs the same method in process with the same seed and prints both summaries, which
// must agree to the last bit, then what each rank actually put on the wire.
//
//   mpiexec -n 4 build/release/examples/mpi_lasg [--rounds N] [--workers M] [--seed S]
//                                                [--data-dir DIR]
//
// Without ../shared/data/a9a/a9a (or --data-dir / LACONIC_DATA_DIR) it says so and uses
// synthetic data of a9a's shape.

#include <laconic/laconic.hpp>
#include <laconic/mpi/training.hpp>

#include "common/cli.hpp"
#include "common/data.hpp"

#include <fmt/format.h>
#include <mpi.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

using namespace laconic;

namespace {

struct Args {
  Index rounds = 300;
  Index workers = 10;
  Index seed = 1;
  std::filesystem::path data_dir;
};

void print_summary(const char* name, const sim::RunResult& r) {
  const sim::Record& last = r.history.rows.back();
  fmt::print("{:<12} {:>6} {:>12.6f} {:>12.3e} {:>8} {:>10.3f} {:>10.3f}\n", name, last.round,
             last.loss, last.grad_norm_sq, last.traffic.uploads,
             static_cast<double>(last.traffic.up.total()) / 1e6,
             static_cast<double>(last.traffic.down.total()) / 1e6);
}

int run(const Args& args) {
  const int rank = mpi::rank_in(MPI_COMM_WORLD), ranks = mpi::size_of(MPI_COMM_WORLD);
  const std::filesystem::path file = examples::data_dir(args.data_dir) / "a9a" / "a9a";
  // Every rank reads the file (only its own shards are kept); only rank 0 talks about it.
  std::FILE* quiet = rank == 0 ? nullptr : std::freopen("/dev/null", "w", stdout);
  const examples::Loaded a9a = examples::load_or_stand_in(
      "a9a", {file}, [&] { return data::read_libsvm(file, {.num_features = 123}); },
      [] { return examples::synthetic_binary(32561, 123, 0.3); });
  const auto shards = data::partition(a9a.data, {.workers = args.workers});
  const auto make_worker = [&](Index m) {
    return objective::Logistic(shards[static_cast<std::size_t>(m)], {.lambda = 1e-4});
  };

  const Laqsg<skip::LasgWk2> method{
      .skip = {.D = 50, .d_max = 10},
      .uplink = {.levels = 7},  // 4 bits a coordinate
      .server = {.step = server::StepSize::constant(0.2), .batch = server::Batch::of(32)}};
  const sim::Options options{.seed = static_cast<std::uint64_t>(args.seed),
                             .rounds = args.rounds,
                             .record_every = 10,
                             .label = "mpi_lasg"};

  mpi::Training training(method, args.workers, make_worker, Vector::Zero(a9a.data->cols()),
                         options);
  const mpi::RunResult over_mpi = training.run();

  // What every rank moved, gathered on rank 0.
  const mpi::Wire& w = over_mpi.wire;
  const std::uint64_t mine[6] = {w.payload_sent,      w.payload_received, w.messages_sent,
                                 w.messages_received, w.control_sent,     w.control_received};
  std::vector<std::uint64_t> all(6 * static_cast<std::size_t>(ranks));
  MPI_Gather(mine, 6, MPI_UINT64_T, all.data(), 6, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  if (quiet != nullptr) return 0;

  std::vector<objective::Logistic> workers;
  for (Index m = 0; m < args.workers; ++m) workers.push_back(make_worker(m));
  sim::Simulation simulation(method, std::move(workers), Vector::Zero(a9a.data->cols()), options);
  const sim::RunResult in_process = simulation.run();

  fmt::print("\nLASG-WK2 + QSGD (s = 7) on {}: M = {} workers on {} worker ranks, {} rounds\n",
             a9a.source, args.workers, ranks - 1, args.rounds);
  fmt::print("{:<12} {:>6} {:>12} {:>12} {:>8} {:>10} {:>10}\n", "run", "round", "loss", "|grad|^2",
             "uploads", "up Mbit", "down Mbit");
  print_summary("in process", in_process);
  print_summary("over MPI", over_mpi);
  const bool same = over_mpi.theta == in_process.theta && over_mpi.ledger == in_process.ledger &&
                    over_mpi.history.rows.size() == in_process.history.rows.size();
  fmt::print("identical θ, ledger and rows: {}\n", same ? "yes" : "NO");

  fmt::print(
      "\nbytes on the wire (payload: the encoded messages; control: round commands, the\n"
      "accounting beside each upload, and θ and gradients for the History's loss)\n");
  fmt::print("{:>4} {:>8} {:>14} {:>14} {:>9} {:>9} {:>14} {:>14}\n", "rank", "workers",
             "payload sent", "payload recv", "msgs out", "msgs in", "control sent", "control recv");
  for (int r = 0; r < ranks; ++r) {
    const std::uint64_t* x = all.data() + 6 * static_cast<std::size_t>(r);
    const mpi::Block b = mpi::Block::of(r, ranks, args.workers);
    const std::string hosted =
        r == 0 ? std::string("server") : fmt::format("{}-{}", b.first, b.last - 1);
    fmt::print("{:>4} {:>8} {:>14} {:>14} {:>9} {:>9} {:>14} {:>14}\n", r, hosted, x[0], x[1], x[2],
               x[3], x[4], x[5]);
  }
  fmt::print("ledger: {} uplink bits = {:.0f} bytes, {} downlink bits = {:.0f} bytes\n",
             over_mpi.ledger.total().up.total(),
             static_cast<double>(over_mpi.ledger.total().up.total()) / 8,
             over_mpi.ledger.total().down.total(),
             static_cast<double>(over_mpi.ledger.total().down.total()) / 8);
  return same ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  Args args;
  examples::Cli cli("mpi_lasg",
                    "LASG-WK2 with QSGD on a9a across MPI processes, checked against the "
                    "in-process run (docs/mpi.md)");
  cli.add("--rounds", args.rounds);
  cli.add("--workers", args.workers);
  cli.add("--seed", args.seed);
  cli.add("--data-dir", args.data_dir);
  cli.parse(argc, argv);
  int status = 0;
  try {
    status = run(args);
  } catch (const std::exception& error) {
    fmt::print(stderr, "mpi_lasg: {}\n", error.what());
    MPI_Abort(MPI_COMM_WORLD, 1);  // the other ranks may be waiting for this one
  }
  MPI_Finalize();
  return status;
}
