#pragma once

// The in-process transport: the round engine's two halves in one process, the server's
// (sim/server_half.hpp) and every worker's (sim/worker_half.hpp), sharing each link's state.
// One round k:
//   1. the server opens the round: θ^k through the downlink, the skip rule's round, the
//      participants (all workers, those the participation policy draws, and of them those a
//      server-side skip rule contacts — the others neither download nor compute);
//   2. the participants work on a thread pool, in fixed groups of consecutive workers: each
//      computes its gradient (or local steps), lets a skip rule decide and uploads through its
//      own uplink channel; the server adds what it decodes to the group's sum at once;
//   3. the server accounts the round (ledger, simulated time), aggregates the group sums in
//      group order and updates θ — bit-identical for every thread count, and to the same run
//      over MPI (mpi/training.hpp), which drives the same two halves.
// docs/simulation.md describes the loop and docs/engine.md the engine.

#include <laconic/core/archive.hpp>
#include <laconic/core/concepts.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/ledger.hpp>
#include <laconic/sim/checkpoint.hpp>
#include <laconic/sim/composition.hpp>
#include <laconic/sim/history.hpp>
#include <laconic/sim/method.hpp>
#include <laconic/sim/run.hpp>
#include <laconic/sim/server_half.hpp>
#include <laconic/sim/thread_pool.hpp>
#include <laconic/sim/worker_half.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace laconic::sim {

template <class M, Objective Obj>
class Simulation {
  using Parts = Composition<M>;

 public:
  Simulation(const M& method, std::vector<Obj> workers, Vector theta0, Options options = {});
  ~Simulation();

  // "laconic 0.1.0; label; method; workers; dim; seed" — the CSV header line.
  std::string describe() const;

  // Runs options.rounds more rounds (or until a callback stops it or a number diverges).
  RunResult run(const Callback& on_round = {}) {
    return run_until(round() + std::min(options_.rounds, max_round - round()), on_round);
  }
  // Runs until round `end` (or until a callback stops it or a number diverges): a resumed
  // run finishes where the run it was saved from was headed, e.g. after load(), run_until(T)
  // equals a run of T rounds from round 0.
  RunResult run_until(Index end, const Callback& on_round = {});

  // Writes the whole state of the run (ServerHalf::saved_state) to a checkpoint
  // (sim/checkpoint.hpp). A run built with the same method, parameters, data and seed that
  // load()s it continues exactly as this one would — in process or over MPI
  // (mpi::Training::load), with any number of threads.
  void save(const std::filesystem::path& path) const;

  // Restores a checkpoint written by save() (or mpi::Training::save) of a run with the same
  // description; throws CheckpointError saying why otherwise, and then leaves this simulation
  // unchanged.
  void load(const std::filesystem::path& path);

  Index round() const { return server_.round(); }
  // What is legal but likely wrong in the method's parameters (sim::step_warnings).
  const std::vector<std::string>& warnings() const { return parts_.warnings; }
  const Vector& theta() const { return server_.theta(); }
  const Ledger& ledger() const { return server_.ledger(); }
  const History& history() const { return server_.history(); }
  const std::vector<Obj>& workers() const { return workers_.objectives(); }
  const typename Parts::Skip& skip_rule() const { return parts_.skip; }
  // ∇ of the last round: the mean of the workers' latest contributions.
  const Vector& aggregate() const { return server_.aggregate(); }
  // What the server holds for worker m under a skip rule: its last decoded upload.
  const Vector& contribution(Index m) const requires Parts::lazy { return server_.contribution(m); }

 private:
  // The parts, checked against the workers and started.
  static Parts& started(Parts& parts, const std::vector<Obj>& workers, const Vector& theta0,
                        const Options& options) {
    std::vector<WorkerShape> shapes;
    for (const Obj& w : workers) {
      shapes.push_back({w.dim(), w.size()});
      if constexpr (HasSmoothness<Obj>) shapes.back().smoothness = w.smoothness();
    }
    parts.start(shapes, theta0, options);
    return parts;
  }

  // One round; returns where a non-finite number appeared, or a message could not be sent, if
  // either happened.
  std::optional<Divergence> step();
  const Record& record();

  Parts parts_;
  Options options_;
  ThreadPool pool_;
  ServerHalf<M> server_;
  WorkerHalf<M, Obj> workers_;
  std::vector<Upload> uploads_;  // this round's, one per participant
  std::vector<Vector> slots_;    // under over-selection: their decoded uploads
};

// Defined here, not in the class, so that none of them is inline: a file that sees the
// explicit instantiation declarations of laconic/precompiled.hpp compiles none of the engine.
template <class M, Objective Obj>
Simulation<M, Obj>::Simulation(const M& method, std::vector<Obj> workers, Vector theta0,
                               Options options)
    : parts_(method),
      options_(std::move(options)),
      pool_((options_.validate(), options_.threads)),  // validated before threads start
      server_(started(parts_, workers, theta0, options_), theta0, options_,
              static_cast<Index>(workers.size()), pool_, false),
      workers_(parts_, std::move(workers), 0, server_.workers(), theta0, options_, pool_.threads(),
               &server_) {
  uploads_.reserve(static_cast<std::size_t>(server_.workers()));
  if (options_.cost.keep > 0) {
    // Which uploads count is known once all have arrived: each participant's decoded upload
    // waits in a slot until then.
    const server::Participation& p = parts_.server.params().participation;
    const Index most = p.kind == server::Participation::Kind::sample ? p.count : server_.workers();
    slots_.assign(static_cast<std::size_t>(most), Vector::Zero(theta0.size()));
  }
}

template <class M, Objective Obj>
Simulation<M, Obj>::~Simulation() = default;

template <class M, Objective Obj>
RunResult Simulation<M, Obj>::run_until(Index end, const Callback& on_round) {
  checked_end(end, round());
  const auto start = std::chrono::steady_clock::now();
  RunResult result;
  result.warnings = parts_.warnings;
  run_rounds(
      options_, end, server_.history(), server_.round(), server_.theta(), server_.ledger(),
      [&] { return step(); }, [&]() -> const Record& { return record(); },
      [&](const std::filesystem::path& path) { save(path); }, on_round, result);
  result.theta = server_.theta();
  result.ledger = server_.ledger();
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

template <class M, Objective Obj>
void Simulation<M, Obj>::save(const std::filesystem::path& path) const {
  write_checkpoint(path, describe(), server_.saved_state());
}

template <class M, Objective Obj>
void Simulation<M, Obj>::load(const std::filesystem::path& path) {
  server_.restore(read_checkpoint(path, describe()), path.string());
  workers_.forget_evaluations();
}

template <class M, Objective Obj>
std::optional<Divergence> Simulation<M, Obj>::step() {
  const Index k = server_.round();
  if (auto divergence = server_.open(nullptr)) return divergence;
  const std::vector<Index>& participants = server_.participants();
  const std::size_t n = participants.size();
  uploads_.resize(n);
  if (slots_.empty()) {  // each upload known to count is taken as it is decoded
    const std::size_t groups =
        server_.for_each_in_groups(n, [&](std::size_t i, int t, std::size_t g) {
          const Index m = participants[i];
          workers_.work(m, k, t, uploads_[i]);
          if (server_.arrive(i, uploads_[i]) && uploads_[i].uploaded) {
            server_.accept(m, workers_.decoded(t), g);
          }
        });
    if (auto divergence = server_.account(uploads_)) return divergence;
    return server_.close(groups, nullptr);
  }
  server_.for_each_in_groups(n, [&](std::size_t i, int t, std::size_t) {
    workers_.work(participants[i], k, t, uploads_[i]);
    server_.arrive(i, uploads_[i]);
    if (uploads_[i].uploaded) slots_[i].swap(workers_.decoded(t));
  });
  if (auto divergence = server_.account(uploads_)) return divergence;
  const std::size_t groups = server_.for_each_in_groups(n, [&](std::size_t i, int, std::size_t g) {
    if (uploads_[i].uploaded && server_.counts(i)) {
      server_.accept(participants[i], slots_[i], g);
    }
  });
  return server_.close(groups, nullptr);
}

template <class M, Objective Obj>
const Record& Simulation<M, Obj>::record() {
  return server_.record(
      [&](Index m, int t) { return workers_.evaluate(m, server_.theta(), t, server_.round()); });
}

template <class M, Objective Obj>
std::string Simulation<M, Obj>::describe() const {
  return parts_.describe(options_, server_.workers(), server_.theta().size());
}

}  // namespace laconic::sim
