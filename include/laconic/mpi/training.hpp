#pragma once

// The MPI transport: the round engine's two halves (sim/server_half.hpp on rank 0,
// sim/worker_half.hpp on ranks 1..P hosting contiguous blocks of the M logical workers,
// mpi/comm.hpp's Block) with each link's ends kept apart, and the bytes between them moved by
// MPI. It only moves bytes and status words; what is computed is the engine's, so a run equals
// the in-process sim::Simulation with the same seed bit for bit. Round k:
//   1. rank 0 opens the round (θ^k encoded, the participants) and broadcasts a command: the
//      round, the last model step (for the skip rules' window) and, unless every worker takes
//      part and none was passed over, a mask of the participants and of those a server-side
//      skip rule did not contact;
//   2. θ^k's bytes go by MPI_Bcast when every worker rank hosts a participant, else only to the
//      ranks that do;
//   3. each worker rank decodes θ^k and runs its participants on its thread pool;
//   4. uplink: the encoded bytes gathered (a worker that skips contributes none), and each
//      upload's accounting beside them (mpi/upload_header.hpp);
//   5. rank 0 checks every accounting field against the bytes, decodes each upload with its
//      end of the worker's channel, sums in the engine's fixed groups and closes the round; for
//      a broadcast aggregate (CD-Adam) it broadcasts the aggregate, and every rank applies the
//      update to its own model.
// A History row needs the loss at the exact θ: rank 0 broadcasts θ as doubles and gathers each
// worker's full loss and gradient. A checkpoint gathers what only the worker ranks hold.
// Failures: every phase (set-up, training, measurement, checkpoint, finish) ends in a gather
// in which each rank says whether it failed and why (Collectives::gather), so that any rank's
// exception reaches every rank; each then raises mpi::PeerError naming the rank, the round and
// the phase (the failing rank's own exception nested in it); rank 0 raises its own errors as
// they are and tells the others.

#include <laconic/compress/channel.hpp>
#include <laconic/core/archive.hpp>
#include <laconic/core/concepts.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/ledger.hpp>
#include <laconic/mpi/comm.hpp>
#include <laconic/mpi/upload_header.hpp>
#include <laconic/sim/checkpoint.hpp>
#include <laconic/sim/composition.hpp>
#include <laconic/sim/history.hpp>
#include <laconic/sim/method.hpp>
#include <laconic/sim/run.hpp>
#include <laconic/sim/server_half.hpp>
#include <laconic/sim/thread_pool.hpp>
#include <laconic/sim/worker_half.hpp>

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace laconic::mpi {

struct Options {
  MPI_Comm comm = MPI_COMM_WORLD;
  // Fault injection for tests: called on a worker rank with each upload before it leaves.
  std::function<void(Index round, Index worker, Message&)> tamper_upload{};
};

// sim::RunResult on every rank, with what this rank moved. The history and the ledger are the
// server's (empty on worker ranks); status, message and the final θ are known to every rank.
struct RunResult : sim::RunResult {
  Wire wire;
};

template <class M, Objective Obj>
class Training {
  using Parts = sim::Composition<M>;
  static constexpr skip::Side side = Parts::side;
  static constexpr bool broadcasts_aggregate = Parts::broadcasts_aggregate;

 public:
  // make_worker(m) builds logical worker m's objective; it is called on the rank hosting m
  // only, so each rank loads just its own data. Every rank passes the same method, worker
  // count and options; θ^0 is taken from rank 0.
  Training(const M& method, Index workers, const std::function<Obj(Index)>& make_worker,
           Vector theta0, sim::Options options = {}, Options mpi = {})
      : parts_(method),
        options_(std::move(options)),
        mpi_(std::move(mpi)),
        pool_((options_.validate(), options_.threads)),
        net_((checked(mpi_.comm), mpi_.comm)),
        workers_(workers),
        theta0_(std::move(theta0)) {
    require_param(workers >= 1, "workers", workers, ">= 1");
    require_param(net_.ranks() >= 2, "MPI ranks", net_.ranks(), ">= 2 (rank 0 is the server)");
    block_ = Block::of(net_.rank(), net_.ranks(), workers_);
    for (int r = 1; r < net_.ranks(); ++r) {
      const Block b = Block::of(r, net_.ranks(), workers_);
      owner_.insert(owner_.end(), static_cast<std::size_t>(b.size()), r);
    }
    std::int64_t p = theta0_.size();
    net_.bcast(&p, sizeof p);
    theta0_.resize(p);
    net_.bcast(theta0_.data(), static_cast<std::uint64_t>(p) * sizeof(double));
    theta_ = theta0_;
    set_up(make_worker);
  }

  bool is_server() const { return net_.is_server(); }
  int rank() const { return net_.rank(); }
  int ranks() const { return net_.ranks(); }
  Block block() const { return block_; }  // the logical workers this rank hosts
  const Wire& wire() const { return net_.wire(); }
  const Ledger& ledger() const { return is_server() ? server_->ledger() : no_ledger_; }
  const sim::History& history() const { return is_server() ? server_->history() : no_history_; }
  // θ: the server's; on a worker rank, θ^0 until a run finishes or a checkpoint is loaded.
  const Vector& theta() const { return is_server() ? server_->theta() : theta_; }
  // The rounds done: the server's; on a worker rank, the last round it took part in or loaded.
  Index round() const { return is_server() ? server_->round() : round_; }

  // The CSV header line, as sim::Simulation::describe() writes it.
  std::string describe() const { return parts_.describe(options_, workers_, theta0_.size()); }

  // Runs options.rounds more rounds on every rank at once; the callback is called on rank 0
  // only.
  RunResult run(const sim::Callback& on_round = {}) {
    return run_until(round() + std::min(options_.rounds, sim::max_round - round()), on_round);
  }
  // Runs until round `end`, as sim::Simulation::run_until; rank 0's `end` counts.
  RunResult run_until(Index end, const sim::Callback& on_round = {}) {
    const auto start = std::chrono::steady_clock::now();
    RunResult result = is_server() ? serve(end, on_round) : work();
    result.wire = net_.wire();
    result.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  }

  // Writes the run's checkpoint on rank 0, collectively: each worker rank sends its workers'
  // parts of the state (Composition::worker_part), and the file is the one sim::Simulation
  // writes at the same round, byte for byte. Options::checkpoint_every saves the same way
  // while running.
  void save(const std::filesystem::path& path) {
    on_rank_0([&] { checkpoint(path); });
  }
  // Restores a checkpoint of this run written in process or over MPI, with any number of
  // ranks, collectively: rank 0 reads the file and sends the state to every rank, which
  // keeps its workers' parts. A checkpoint that rank 0 refuses (sim::Simulation::load) leaves
  // every rank unchanged; rank 0 raises CheckpointError and the others PeerError.
  void load(const std::filesystem::path& path) {
    on_rank_0([&] { restore(path); });
  }

 private:
  enum class Kind : std::int64_t { round = 1, evaluate, save, load, done, finish, fail };
  // What rank 0 broadcasts before each phase; all ranks share one ABI.
  struct Command {
    Kind kind = Kind::round;
    std::int64_t round = 0;
    double step_sq = 0;       // round: ‖θ^k − θ^{k−1}‖², the skip rules' window
    std::uint64_t bytes = 0;  // round: the downlink message; load: the state; fail: the reason
    std::int64_t masked = 0;  // round: a mask follows
    std::int64_t status = 0;  // finish: sim::Status
    std::int64_t diverged_round = 0, diverged_worker = -1, diverged_what = 0, diverged_rises = 0;
    double diverged_loss = 0, diverged_start = 0;
  };
  // The mask's bits per worker: it takes part; a server-side skip rule passed it over.
  static constexpr char takes_part = 1, passed = 2;
  static constexpr std::uint64_t no_aggregate = std::numeric_limits<std::uint64_t>::max();

  // Refused on every rank alike, before MPI would abort on it.
  static void checked(MPI_Comm comm) {
    require_param(comm != MPI_COMM_NULL, "mpi.comm", "MPI_COMM_NULL", "a communicator");
  }

  // Builds this rank's objectives; every rank learns every worker's shape and starts its own
  // parts from them (so every rank refuses the same set-up with the same error), then rank 0
  // its server half and the others their worker halves.
  void set_up(const std::function<Obj(Index)>& make_worker) {
    std::vector<Obj> local;
    std::vector<double> report;  // per hosted worker: dim, size, smoothness
    std::string error;
    try {
      for (Index m = block_.first; m < block_.last; ++m) {
        local.push_back(make_worker(m));
        const Obj& w = local.back();
        double smoothness = std::numeric_limits<double>::quiet_NaN();
        if constexpr (HasSmoothness<Obj>) smoothness = w.smoothness();
        report.insert(report.end(),
                      {static_cast<double>(w.dim()), static_cast<double>(w.size()), smoothness});
      }
    } catch (const std::exception& e) {
      error = fmt::format("rank {}: {}", net_.rank(), e.what());
    }
    if (const std::string first = net_.first_error(error); !first.empty()) {
      throw std::invalid_argument(first);
    }
    const int ranks = net_.ranks();
    std::vector<double> all(static_cast<std::size_t>(3 * workers_));
    std::vector<int> counts(static_cast<std::size_t>(ranks)), displs(counts.size());
    for (int r = 0; r < ranks; ++r) {
      const Block b = Block::of(r, ranks, workers_);
      counts[static_cast<std::size_t>(r)] =
          count_of(3 * static_cast<std::uint64_t>(b.size()), "reports");
      displs[static_cast<std::size_t>(r)] =
          count_of(3 * static_cast<std::uint64_t>(b.first), "reports");
    }
    check(MPI_Allgatherv(report.data(), static_cast<int>(report.size()), MPI_DOUBLE, all.data(),
                         counts.data(), displs.data(), MPI_DOUBLE, mpi_.comm),
          "MPI_Allgatherv");
    std::vector<sim::WorkerShape> shapes;
    for (Index m = 0; m < workers_; ++m) {
      const double* at = all.data() + 3 * m;
      shapes.push_back({static_cast<Index>(at[0]), static_cast<Index>(at[1]), at[2]});
    }
    try {
      parts_.start(shapes, theta0_, options_);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (const std::string first = net_.first_error(error); !first.empty()) {
      throw std::invalid_argument(first);
    }
    if (is_server()) {
      server_.emplace(parts_, theta0_, options_, workers_, pool_, true);
      uploads_.reserve(static_cast<std::size_t>(workers_));
      decoded_.assign(static_cast<std::size_t>(pool_.threads()), Vector::Zero(theta0_.size()));
      received_.resize(static_cast<std::size_t>(pool_.threads()));
    } else {
      workers_half_.emplace(parts_, std::move(local), block_.first, workers_, theta0_, options_,
                            pool_.threads(), nullptr);
      uploads_.resize(static_cast<std::size_t>(block_.size()));
    }
  }

  Command receive_command() {
    Command c;
    net_.bcast(&c, sizeof c);
    return c;
  }
  void send_command(Command c) { net_.bcast(&c, sizeof c); }

  // ---------------------------------------------------------------- the server (rank 0)

  RunResult serve(Index end, const sim::Callback& on_round) {
    sim::ServerHalf<M>& s = *server_;
    RunResult result;
    result.warnings = parts_.warnings;
    guarded([&] {
      sim::run_rounds(
          options_, sim::checked_end(end, s.round()), s.history(), s.round(), s.theta(), s.ledger(),
          [&] { return step(); }, [&]() -> const sim::Record& { return record(); },
          [&](const std::filesystem::path& path) { checkpoint(path); }, on_round, result);
    });
    finish(result);
    result.ledger = s.ledger();
    return result;
  }

  // Runs f on rank 0 while the worker ranks serve its commands until it is done.
  template <class F>
  void on_rank_0(F&& f) {
    if (!is_server()) {
      work();
      return;
    }
    guarded(f);
    send_command({.kind = Kind::done});
  }

  // Runs f on rank 0; if it throws, tells the worker ranks (waiting for a command) first.
  template <class F>
  void guarded(F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      fail(e.what());
      throw;
    }
  }

  // Tells every worker rank that the run failed, and why; they raise PeerError.
  void fail(const std::string& reason) {
    abandon_aggregate();
    std::string text = fmt::format("laconic::mpi: the server stopped the run in round {} ({}): {}",
                                   server_->round(), phase_, reason);
    send_command({.kind = Kind::fail, .bytes = text.size()});
    net_.bcast(text.data(), text.size());
  }

  // The end of a phase on rank 0: what the worker ranks sent, or their failures raised.
  void gather(const char* phase, bool messages = false) {
    net_.gather({}, false, messages, gathered_, phase, server_->round());
    if (!gathered_.failures.empty()) throw PeerError(gathered_.failures);
  }

  // The checkpoint: the worker ranks' parts of the state gathered into the server's copies of
  // them (for a link, the receiving end takes the sender's state, as in process), and the
  // whole written.
  void checkpoint(const std::filesystem::path& path) {
    phase_ = "checkpoint";
    sim::ServerHalf<M>& s = *server_;
    send_command({.kind = Kind::save});
    gather(phase_);
    const ArchiveShape shape = s.fixed_shape();
    for (int r = 1; r < net_.ranks(); ++r) {
      const std::span<const std::uint8_t> bytes = gathered_.of(r);
      ArchiveReader reader(
          std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
          fmt::format("laconic::mpi: the state from rank {}", r));
      const Block b = Block::of(r, net_.ranks(), workers_);
      for (Index m = b.first; m < b.last; ++m) parts_.worker_part(m, s.receiver(m), reader);
      if (!reader.at_end()) reader.fail("trailing bytes");
      if (s.fixed_shape() != shape) reader.fail("vectors of another length than this run's");
    }
    sim::write_checkpoint(path, describe(), s.saved_state());
  }

  // Restores the server's half from the checkpoint at `path`, then every worker rank's.
  void restore(const std::filesystem::path& path) {
    phase_ = "checkpoint";
    std::string state = sim::read_checkpoint(path, describe());
    server_->restore(state, path.string());
    send_command({.kind = Kind::load, .bytes = state.size()});
    net_.bcast(state.data(), state.size());
    gather(phase_);
  }

  // Tells every worker rank how the run ended — its status, divergence, message and θ — once
  // each has said whether anything failed since its last report.
  void finish(RunResult& result) {
    phase_ = "finish";
    Command c{.kind = Kind::finish, .status = static_cast<std::int64_t>(result.status)};
    if (result.divergence) {
      const sim::Divergence& d = *result.divergence;
      c.diverged_round = d.round;
      c.diverged_worker = d.worker;
      c.diverged_what = quantity_code(d.quantity);
      c.diverged_rises = d.rises;
      c.diverged_loss = d.loss;
      c.diverged_start = d.start;
    }
    send_command(c);
    net_.gather({}, false, false, gathered_, phase_, server_->round());
    net_.broadcast_text(gathered_.failures);
    if (!gathered_.failures.empty()) throw PeerError(gathered_.failures);
    net_.broadcast_text(result.message);
    result.theta = server_->theta();
    net_.bcast(result.theta.data(),
               static_cast<std::uint64_t>(result.theta.size()) * sizeof(double));
  }

  // sim::Divergence::quantity as a number, and back.
  static constexpr const char* quantities[] = {"gradient", "model", "loss", "message"};
  static std::int64_t quantity_code(const std::string& q) {
    return std::find(std::begin(quantities), std::end(quantities), q) - std::begin(quantities);
  }
  static std::string quantity_name(std::int64_t code) {
    return code >= 0 && code < 4 ? quantities[code] : "?";
  }

  // One round on the server; returns where a non-finite number appeared, if one did.
  std::optional<sim::Divergence> step() {
    phase_ = "training";
    sim::ServerHalf<M>& s = *server_;
    const Index k = s.round();
    Message down;
    if (auto divergence = s.open(&down)) return divergence;
    const std::vector<Index>& participants = s.participants();
    mask_.assign(static_cast<std::size_t>(workers_), 0);
    for (Index m : participants) mask_[static_cast<std::size_t>(m)] = takes_part;
    if constexpr (side == skip::Side::server) {
      for (Index m = 0; m < workers_; ++m) {
        if (!s.contacted(m)) mask_[static_cast<std::size_t>(m)] |= passed;
      }
    }
    const bool masked =
        std::any_of(mask_.begin(), mask_.end(), [](char c) { return c != takes_part; });
    send_command({.kind = Kind::round,
                  .round = k,
                  .step_sq = s.step_sq(),
                  .bytes = down.bytes.size(),
                  .masked = masked ? 1 : 0});
    if (masked) net_.bcast(mask_.data(), mask_.size());
    if constexpr (!broadcasts_aggregate) send_downlink(down);

    // Uplink: each rank's status and bytes, then the accounting of each message.
    net_.gather({}, false, true, gathered_, phase_, k);
    std::vector<int> counts(static_cast<std::size_t>(net_.ranks()), 0), displs = counts;
    for (Index m : participants) counts[owner(m)] += static_cast<int>(sizeof(UploadHeader));
    for (std::size_t r = 1; r < counts.size(); ++r) displs[r] = displs[r - 1] + counts[r - 1];
    headers_.resize(participants.size());
    check(MPI_Gatherv(nullptr, 0, MPI_BYTE, headers_.data(), counts.data(), displs.data(), MPI_BYTE,
                      0, mpi_.comm),
          "MPI_Gatherv");
    net_.wire().control_received += headers_.size() * sizeof(UploadHeader);
    aggregate_pending_ = broadcasts_aggregate;
    if (!gathered_.failures.empty()) throw PeerError(gathered_.failures);
    read_uploads(k);

    for (std::size_t i = 0; i < participants.size(); ++i) s.arrive(i, uploads_[i]);
    if (auto divergence = s.account(uploads_)) {
      abandon_aggregate();
      return divergence;
    }
    const std::size_t groups =
        s.for_each_in_groups(participants.size(), [&](std::size_t i, int t, std::size_t g) {
          if (!uploads_[i].uploaded || !s.counts(i)) return;  // skipped, or dropped as late
          Message& message = received_[static_cast<std::size_t>(t)];
          const UploadHeader& h = headers_[i];
          const auto* first = gathered_.bytes.data() + offsets_[i];
          message.bytes.assign(first, first + h.bytes);
          message.bits = h.message_bits();
          s.receive(participants[i], message, decoded_[static_cast<std::size_t>(t)], g);
        });
    Message aggregate;
    auto divergence = s.close(groups, broadcasts_aggregate ? &aggregate : nullptr);
    if constexpr (broadcasts_aggregate) {
      if (divergence && divergence->quantity == "message") {  // the aggregate was not encoded
        abandon_aggregate();
      } else {
        std::uint64_t size = aggregate.bytes.size();
        aggregate_pending_ = false;
        net_.bcast(&size, sizeof size);
        net_.bcast_message(aggregate.bytes.data(), size);
      }
    }
    return divergence;
  }

  // The participants' uploads from their headers, each checked against the bytes that arrived
  // (UploadHeader::problem), and where each message starts. A server-side skip rule takes
  // each contacted worker's report.
  void read_uploads(Index k) {
    sim::ServerHalf<M>& s = *server_;
    const std::vector<Index>& participants = s.participants();
    std::uint64_t most_gradients = max_gradients_per_round;
    if constexpr (Parts::local_steps) {
      most_gradients = static_cast<std::uint64_t>(parts_.server.params().local_steps);
    }
    uploads_.resize(participants.size());
    offsets_.assign(participants.size(), 0);
    std::vector<std::uint64_t> next(gathered_.at.begin(), gathered_.at.end());
    for (std::size_t i = 0; i < participants.size(); ++i) {
      const Index m = participants[i];
      const UploadHeader& h = headers_[i];
      const std::size_t r = owner(m);
      const auto refuse = [&](const std::string& why) {
        throw DecodeError(fmt::format(
            "laconic::mpi: the upload of worker {} in round {} from rank {}: {}", m, k, r, why));
      };
      const auto room = static_cast<std::uint64_t>(gathered_.at[r + 1]) - next[r];
      const std::string problem = h.problem(k, static_cast<std::uint64_t>(theta0_.size()), room,
                                            most_gradients, side == skip::Side::server);
      if (!problem.empty()) refuse(problem);
      offsets_[i] = next[r];
      next[r] += h.bytes + h.report_bytes;
      sim::Upload& up = uploads_[i];
      up = h.upload();
      if constexpr (side == skip::Side::server) {
        if (up.fault == sim::Fault::none) {
          const std::uint8_t* report = gathered_.bytes.data() + offsets_[i] + h.bytes;
          up.report = h.report_bytes == 4   ? read_float<float>(report)
                      : h.report_bytes == 8 ? read_float<double>(report)
                                            : 0.0;
          Bits extra;
          try {
            extra = parts_.skip.receive(m, s.model(), up.report);
          } catch (const DecodeError& e) {
            refuse(e.what());
          }
          if (extra.total() != 8 * h.report_bytes) {
            refuse(fmt::format("a report of {} bytes where the skip rule counts {} bits",
                               h.report_bytes, extra.total()));
          }
          up.bits = extra + up.bits;
        }
      }
    }
    for (std::size_t r = 1; r < next.size() - 1; ++r) {
      const auto sent = static_cast<std::uint64_t>(gathered_.at[r + 1]);
      if (next[r] != sent) {
        throw DecodeError(fmt::format(
            "laconic::mpi: rank {} sent {} bytes in round {} but its messages declare {}", r,
            sent - static_cast<std::uint64_t>(gathered_.at[r]), k,
            next[r] - static_cast<std::uint64_t>(gathered_.at[r])));
      }
    }
    net_.wire().messages_received += static_cast<std::uint64_t>(std::count_if(
        uploads_.begin(), uploads_.end(), [](const sim::Upload& u) { return u.uploaded; }));
  }

  // The workers of a broadcast-aggregate round wait for it; tell them none comes.
  void abandon_aggregate() {
    if (!aggregate_pending_) return;
    std::uint64_t none = no_aggregate;
    net_.bcast(&none, sizeof none);
    aggregate_pending_ = false;
  }

  // θ^k's message to the ranks hosting a participant: one broadcast when that is all of them.
  void send_downlink(Message& message) {
    const std::vector<char> hosts = ranks_hosting();
    if (all_worker_ranks(hosts)) {
      net_.bcast_message(message.bytes.data(), message.bytes.size());
      return;
    }
    for (int r = 1; r < net_.ranks(); ++r) {
      if (hosts[static_cast<std::size_t>(r)]) {
        net_.send_message(message.bytes.data(), message.bytes.size(), r);
      }
    }
  }

  // The ranks hosting a participant of this round (mask_).
  std::vector<char> ranks_hosting() const {
    std::vector<char> hosts(static_cast<std::size_t>(net_.ranks()), 0);
    for (Index m = 0; m < workers_; ++m) {
      if (mask_[static_cast<std::size_t>(m)] & takes_part) hosts[owner(m)] = 1;
    }
    return hosts;
  }
  static bool all_worker_ranks(const std::vector<char>& hosts) {
    return std::all_of(hosts.begin() + 1, hosts.end(), [](char h) { return h != 0; });
  }
  std::size_t owner(Index m) const {
    return static_cast<std::size_t>(owner_[static_cast<std::size_t>(m)]);
  }

  // A History row at the exact θ, from every worker's full loss and gradient.
  const sim::Record& record() {
    phase_ = "measurement";
    sim::ServerHalf<M>& s = *server_;
    send_command({.kind = Kind::evaluate});
    Vector theta = s.theta();
    net_.bcast(theta.data(), static_cast<std::uint64_t>(theta.size()) * sizeof(double));
    gather(phase_);
    const Index p = theta.size();
    const auto stride = static_cast<std::size_t>(p + 1);
    const std::vector<std::uint8_t>& bytes = gathered_.bytes;
    if (bytes.size() != static_cast<std::size_t>(workers_) * stride * sizeof(double)) {
      throw DecodeError("laconic::mpi: the workers' losses and gradients have the wrong size");
    }
    evaluations_.resize(static_cast<std::size_t>(workers_) * stride);
    std::memcpy(evaluations_.data(), bytes.data(), bytes.size());
    return s.record([&](Index m, int) {
      const double* row = evaluations_.data() + static_cast<std::size_t>(m) * stride;
      return std::pair<double, Eigen::Map<const Vector>>(row[0],
                                                         Eigen::Map<const Vector>(row + 1, p));
    });
  }

  // ---------------------------------------------------------------- a worker rank

  // Serves rank 0's commands until a run finishes, a save or load is done, or the run fails.
  RunResult work() {
    RunResult result;
    for (;;) {
      const Command c = receive_command();
      switch (c.kind) {
        case Kind::round:
          work_round(c);
          break;
        case Kind::evaluate:
          evaluate();
          break;
        case Kind::save:
          send_state();
          break;
        case Kind::load:
          receive_state(c);
          break;
        case Kind::done:
          return result;
        case Kind::finish: {
          report("finish", false, [] { return Bytes{}; });
          const std::string failures = net_.broadcast_text({});
          if (!failures.empty()) raise(failures);
          result.message = net_.broadcast_text({});
          net_.bcast(theta_.data(), static_cast<std::uint64_t>(theta_.size()) * sizeof(double));
          result.theta = theta_;
          result.status = static_cast<sim::Status>(c.status);
          if (result.status == sim::Status::diverged) {
            result.divergence =
                sim::Divergence{c.diverged_round, c.diverged_worker, quantity_name(c.diverged_what),
                                c.diverged_rises, c.diverged_loss,   c.diverged_start};
          }
          return result;
        }
        case Kind::fail: {
          std::string text(c.bytes, '\0');
          net_.bcast(text.data(), text.size());
          raise(text);
        }
        default:
          throw PeerError(fmt::format("laconic::mpi: rank {} received an unknown command {}",
                                      net_.rank(), static_cast<std::int64_t>(c.kind)));
      }
    }
  }

  // Raises the run's failure on this rank: PeerError, with this rank's own error nested in it
  // when it has one. The errors are then reported, and a later run starts without them.
  [[noreturn]] void raise(const std::string& text) {
    pending_error_.clear();
    const std::exception_ptr own = std::exchange(own_error_, nullptr);
    if (!own) throw PeerError(text);
    try {
      std::rethrow_exception(own);
    } catch (...) {
      std::throw_with_nested(PeerError(text));
    }
  }

  // A worker rank's part of a phase: work() returns the bytes for rank 0 (messages when
  // `messages`); if it throws, or an error is pending from an earlier phase, the error goes
  // in their place.
  template <class Work>
  void report(const char* phase, bool messages, Work&& work) {
    std::string error;
    std::span<const std::uint8_t> mine;
    try {
      if (!pending_error_.empty()) throw std::runtime_error(pending_error_);
      mine = work();
    } catch (const std::exception& e) {
      if (!own_error_) own_error_ = std::current_exception();
      error = e.what();
      mine = as_bytes(error);
    }
    net_.gather(mine, !error.empty(), messages, gathered_, phase, round_);
  }
  using Bytes = std::span<const std::uint8_t>;

  void work_round(const Command& c) {
    sim::WorkerHalf<M, Obj>& half = *workers_half_;
    const Index k = c.round;
    round_ = k;
    mask_.assign(static_cast<std::size_t>(workers_), takes_part);
    if (c.masked != 0) net_.bcast(mask_.data(), mask_.size());
    mine_.clear();
    for (Index m = block_.first; m < block_.last; ++m) {
      if (mask_[static_cast<std::size_t>(m)] & takes_part) mine_.push_back(m);
    }
    Message down;
    if constexpr (!broadcasts_aggregate) {
      if (!mine_.empty()) {
        down.bytes.resize(c.bytes);
        if (all_worker_ranks(ranks_hosting())) {
          net_.bcast_message(down.bytes.data(), c.bytes);
        } else {
          net_.receive_message(down.bytes.data(), c.bytes);
        }
      }
    }

    // This rank's participants' bytes and headers; or its error in their place.
    headers_.assign(mine_.size(), UploadHeader{});
    payload_.clear();
    const auto round = [&] {
      if (broadcasts_aggregate || !mine_.empty()) {
        try {
          half.receive_model(k, down);
        } catch (const DecodeError& e) {
          throw DecodeError(fmt::format("the downlink of round {}: {}", k, e.what()));
        }
      }
      if (step_pending_) parts_.skip.end_round(c.step_sq);
      step_pending_ = true;
      parts_.skip.begin_round(k, half.model());
      if constexpr (side == skip::Side::server) {
        for (Index m = block_.first; m < block_.last; ++m) {
          if (mask_[static_cast<std::size_t>(m)] & passed) parts_.skip.pass(m);
        }
      }
      pool_.parallel_for(static_cast<std::int64_t>(mine_.size()), [&](std::int64_t i, int t) {
        half.work(mine_[static_cast<std::size_t>(i)], k, t, uploads_[static_cast<std::size_t>(i)]);
      });
      for (std::size_t i = 0; i < mine_.size(); ++i) send(k, mine_[i], uploads_[i], headers_[i]);
      return Bytes(payload_.data(), payload_.size());
    };
    report("training", true, round);  // the headers' contents do not matter after a failure
    check(MPI_Gatherv(headers_.data(), count_of(headers_.size() * sizeof(UploadHeader), "headers"),
                      MPI_BYTE, nullptr, nullptr, nullptr, MPI_BYTE, 0, mpi_.comm),
          "MPI_Gatherv");
    net_.wire().control_sent += headers_.size() * sizeof(UploadHeader);

    if constexpr (broadcasts_aggregate) {
      std::uint64_t size = 0;
      net_.bcast(&size, sizeof size);
      if (size == no_aggregate) return;
      Message message;
      message.bytes.resize(size);
      net_.bcast_message(message.bytes.data(), size);
      try {
        half.apply_aggregate(k, message);
      } catch (const std::exception& e) {
        // Said to the server with the next phase's report.
        if (!own_error_) own_error_ = std::current_exception();
        pending_error_ = fmt::format("the aggregate of round {}: {}", k, e.what());
      }
    }
  }

  template <class F>
  static double read_float(const std::uint8_t* at) {
    F value;
    std::memcpy(&value, at, sizeof value);
    return value;
  }
  template <class F>
  void append_float(F value) {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(&value);
    payload_.insert(payload_.end(), bytes, bytes + sizeof value);
  }

  // Participant m's upload of round k: its header, and its bytes (and a server-side rule's
  // report) appended to the payload.
  void send(Index k, Index m, sim::Upload& up, UploadHeader& header) {
    if (!up.uploaded) {
      header = UploadHeader::of(k, up, 0);
      return;
    }
    const std::uint64_t report_bits = up.bits.total() - up.message.bits.total();
    if (report_bits != 0 && report_bits != 32 && report_bits != 64) {
      throw std::logic_error(fmt::format(
          "laconic::mpi: a server-side skip rule's report travels as a 32- or 64-bit float, but "
          "the rule counts {} bits for it",
          report_bits));
    }
    if (mpi_.tamper_upload) mpi_.tamper_upload(k, m, up.message);
    header = UploadHeader::of(k, up, report_bits / 8);
    payload_.insert(payload_.end(), up.message.bytes.begin(), up.message.bytes.end());
    if (report_bits == 32) append_float(static_cast<float>(up.report));  // exact: rule rounded it
    if (report_bits == 64) append_float(up.report);
    net_.wire().messages_sent += 1;
  }

  // This rank's workers' parts of the state, for the server's checkpoint.
  void send_state() {
    report("checkpoint", false, [&] {
      ArchiveWriter writer;
      for (Index m = block_.first; m < block_.last; ++m) workers_half_->worker_part(m, writer);
      state_ = writer.bytes();
      return as_bytes(state_);
    });
  }

  // The state of a checkpoint from the server: the whole read into a server half over this
  // rank's parts (so its skip rule and server update take theirs), and its workers' kept.
  void receive_state(const Command& c) {
    state_.assign(c.bytes, '\0');
    net_.bcast(state_.data(), state_.size());
    report("checkpoint", false, [&] {
      sim::ServerHalf<M> whole(parts_, theta0_, options_, workers_, pool_, false);
      whole.restore(state_, "laconic::mpi: the checkpoint from the server");
      workers_half_->restore(whole);
      round_ = whole.round();
      theta_ = whole.theta();
      step_pending_ = false;  // the checkpoint's window holds the last step
      return Bytes{};
    });
  }

  // Every hosted worker's full loss and gradient at the exact θ, for the server's History.
  void evaluate() {
    Vector theta(theta0_.size());
    net_.bcast(theta.data(), static_cast<std::uint64_t>(theta.size()) * sizeof(double));
    const Index p = theta.size();
    const auto stride = static_cast<std::size_t>(p + 1);
    evaluations_.assign(static_cast<std::size_t>(block_.size()) * stride, 0.0);
    report("measurement", false, [&] {
      sim::WorkerHalf<M, Obj>& half = *workers_half_;
      pool_.parallel_for(block_.size(), [&](std::int64_t j, int t) {
        const auto [loss, gradient] = half.evaluate(block_.first + j, theta, t);
        double* row = evaluations_.data() + static_cast<std::size_t>(j) * stride;
        row[0] = loss;
        std::copy(gradient.data(), gradient.data() + p, row + 1);
      });
      return Bytes(reinterpret_cast<const std::uint8_t*>(evaluations_.data()),
                   evaluations_.size() * sizeof(double));
    });
  }

  Parts parts_;
  sim::Options options_;
  Options mpi_;
  sim::ThreadPool pool_;
  Collectives net_;
  Index workers_;
  Vector theta0_;  // θ^0 from rank 0
  Block block_;
  std::vector<int> owner_;  // the rank hosting each logical worker
  std::vector<char> mask_;  // this round's participants and passed-over workers
  std::vector<sim::Upload> uploads_;
  std::vector<UploadHeader> headers_;  // this round's, one per participant (here, or all)
  std::vector<double> evaluations_;
  Gathered gathered_;  // what a phase's gather brought (on rank 0)
  const char* phase_ = "set-up";

  // The server.
  std::optional<sim::ServerHalf<M>> server_;
  std::vector<std::uint64_t> offsets_;  // where each participant's message starts
  std::vector<Vector> decoded_;         // per thread
  std::vector<Message> received_;       // per thread
  bool aggregate_pending_ = false;
  Ledger no_ledger_;
  sim::History no_history_;

  // A worker rank.
  std::optional<sim::WorkerHalf<M, Obj>> workers_half_;
  std::vector<Index> mine_;  // this round's hosted participants
  std::vector<std::uint8_t> payload_;
  std::string state_;  // a checkpoint's state, or this rank's part of it
  Vector theta_;       // θ^0, then the θ a run finished with or a checkpoint held
  Index round_ = 0;
  bool step_pending_ = false;  // the skip rule's window lacks the last round's step
  std::string pending_error_;
  std::exception_ptr own_error_;
};

// make_worker may be any callable: Training(method, M, [&](Index m) { ... }, theta0).
template <class M, class Factory>
Training(const M&, Index, Factory, Vector, sim::Options = {}, Options = {})
    -> Training<M, std::decay_t<std::invoke_result_t<Factory&, Index>>>;

}  // namespace laconic::mpi
