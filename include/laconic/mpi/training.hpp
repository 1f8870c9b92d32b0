#pragma once

// One Method run across MPI processes: rank 0 is the server, ranks 1..P host contiguous blocks
// of the M logical workers (mpi/comm.hpp, Block). Round k, in the order of sim::Simulation
// (sim/simulation.hpp), whose history it reproduces bit for bit for the same seed:
//   1. the server draws the participants (and asks a server-side skip rule whom to contact)
//      and broadcasts a command: the round, the last model step (for the skip rules' window)
//      and, unless everyone takes part, a mask of the participants;
//   2. it encodes θ^k once through the downlink channel and sends those bytes with MPI_Bcast
//      when every worker rank hosts a participant, else only to the ranks that do;
//   3. each worker rank decodes θ^k, and for each of its participants computes exactly what
//      the simulation computes (sim/worker_compute.hpp), lets a worker-side skip rule decide,
//      and encodes its upload with its uplink channel's encode();
//   4. uplink: MPI_Gather of each rank's status and byte count, MPI_Gatherv of the
//      per-message accounting (bits by field, samples), MPI_Gatherv of the encoded bytes (a
//      worker that skips contributes none);
//   5. the server checks every message's size against its declared bits, decode()s the bytes
//      with its end of each worker's channel, sums in the simulation's fixed order and updates;
//      for a broadcast aggregate (CD-Adam) it then encodes the aggregate and broadcasts it, and
//      every rank applies the update to its own model.
// A History row needs the loss at the exact θ: the server broadcasts θ as doubles and gathers
// each worker's full loss and gradient (measurement traffic, counted as control in Wire).
// Errors: a message that does not decode, or any failure on a rank, stops the run on every
// rank — the failing rank throws the error, the others mpi::PeerError naming it — so no rank
// is left waiting; uncaught, either terminates the job with the message.

#include <laconic/compress/channel.hpp>
#include <laconic/core/concepts.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/ledger.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/mpi/comm.hpp>
#include <laconic/server/server_update.hpp>
#include <laconic/sim/cost_model.hpp>
#include <laconic/sim/history.hpp>
#include <laconic/sim/method.hpp>
#include <laconic/sim/simulation.hpp>
#include <laconic/sim/worker_compute.hpp>
#include <laconic/skip/lasg.hpp>
#include <laconic/skip/skip_rule.hpp>
#include <laconic/version.hpp>

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
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
  using Skip = typename Parts::Skip;
  using Uplink = typename Parts::Uplink;
  using Server = typename Parts::Server;
  using Downlink = typename Parts::Downlink;
  static constexpr skip::Side side = Parts::side;
  static constexpr bool lazy = Parts::lazy;
  static constexpr bool local_steps = Parts::local_steps;
  static constexpr bool broadcasts_aggregate = Parts::broadcasts_aggregate;
  static_assert(!std::is_same_v<Skip, skip::LasgPse>,
                "LASG-PSE is not supported over MPI yet: its workers' smoothness estimates "
                "would have to travel beside their uploads");

 public:
  // make_worker(m) builds logical worker m's objective; it is called on the rank hosting m
  // only, so each rank loads just its own data. Every rank passes the same method, worker
  // count and options; θ^0 is taken from rank 0.
  Training(const M& method, Index workers, const std::function<Obj(Index)>& make_worker,
           Vector theta0, sim::Options options = {}, Options mpi = {})
      : skip_(Parts::skip(method)),
        uplink_(Parts::uplink(method)),
        server_(Parts::server(method)),
        downlink_(Parts::downlink(method)),
        options_(std::move(options)),
        mpi_(std::move(mpi)),
        workers_(workers),
        theta_(std::move(theta0)) {
    options_.validate();
    require_param(workers >= 1, "workers", workers, ">= 1");
    // Refused on every rank alike, before MPI would abort on it.
    require_param(mpi_.comm != MPI_COMM_NULL, "mpi.comm", "MPI_COMM_NULL", "a communicator");
    rank_ = rank_in(mpi_.comm);
    ranks_ = size_of(mpi_.comm);
    require_param(ranks_ >= 2, "MPI ranks", ranks_, ">= 2 (rank 0 is the server)");
    block_ = Block::of(rank_, ranks_, workers_);
    owner_.resize(static_cast<std::size_t>(workers_));
    for (int r = 1; r < ranks_; ++r) {
      const Block b = Block::of(r, ranks_, workers_);
      for (Index m = b.first; m < b.last; ++m) owner_[static_cast<std::size_t>(m)] = r;
    }
    float_bits_ = method.float_bits;
    share_theta0();
    set_up_workers(make_worker);
    const Index p = theta_.size();
    model_ = Vector::Zero(p);
    aggregate_ = Vector::Zero(p);
    total_ = Vector::Zero(p);
    decoded_ = Vector::Zero(p);
    if constexpr (broadcasts_aggregate) broadcast_ = Vector::Zero(p);
    down_state_ = downlink_.make_state(p);
    down_mirror_ = downlink_.make_state(p);
    if (is_server()) {
      ledger_ = Ledger(workers_);
      up_state_.reserve(static_cast<std::size_t>(workers_));
      for (Index m = 0; m < workers_; ++m) up_state_.push_back(uplink_.make_state(p));
      const auto groups =
          std::min<std::size_t>(static_cast<std::size_t>(workers_), sim::max_groups);
      group_sum_.assign(groups, Vector::Zero(p));
      group_loss_.assign(groups, 0.0);
      if constexpr (lazy) {
        contribution_.assign(static_cast<std::size_t>(workers_), Vector::Zero(p));
        previous_theta_ = Vector::Zero(p);
      }
      history_.description = describe();
    } else {
      gradient_ = Vector::Zero(p);
      extra_ = Vector::Zero(p);
      if constexpr (local_steps) local_model_ = Vector::Zero(p);
      for (Index j = 0; j < block_.size(); ++j) {
        up_state_.push_back(uplink_.make_state(p));
        if constexpr (side == skip::Side::worker) {
          up_mirror_.push_back(uplink_.make_state(p));
          contribution_.push_back(Vector::Zero(p));
        }
      }
      backup_ = uplink_.make_state(p);
      mirror_backup_ = uplink_.make_state(p);
      if constexpr (side == skip::Side::worker) within("skip", [&] { skip_.start(skip_setup()); });
    }
  }

  bool is_server() const { return rank_ == 0; }
  int rank() const { return rank_; }
  int ranks() const { return ranks_; }
  Block block() const { return block_; }  // the logical workers this rank hosts
  const Wire& wire() const { return wire_; }
  const Ledger& ledger() const { return ledger_; }
  const sim::History& history() const { return history_; }
  const Vector& theta() const { return theta_; }

  // The CSV header line, as sim::Simulation::describe() writes it (meaningful on rank 0).
  std::string describe() const {
    return fmt::format(
        "laconic {}.{}.{}; label={}; skip={}; uplink={}; server={}; downlink={}; workers={}; "
        "dim={}; seed={}; {}",
        version_major, version_minor, version_patch, options_.label, skip_.describe(),
        uplink_.describe(), server_.describe(), downlink_.describe(), workers_, theta_.size(),
        options_.seed, options_.cost.describe());
  }

  // Runs on every rank at once; the callback is called on rank 0 only.
  RunResult run(const sim::Callback& on_round = {}) {
    const auto start = std::chrono::steady_clock::now();
    RunResult result = is_server() ? serve(on_round) : work();
    result.wire = wire_;
    result.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  }

 private:
  enum class Kind : std::int64_t { round = 1, evaluate, finish, fail };
  // What rank 0 broadcasts before each phase; all ranks share one ABI.
  struct Command {
    Kind kind = Kind::round;
    std::int64_t round = 0;
    double step_sq = 0;       // round: ‖θ^k − θ^{k−1}‖², the skip rules' window
    std::uint64_t bytes = 0;  // round: the downlink message; fail: the reason
    std::int64_t masked = 0;  // round: a participants mask follows
    std::int64_t status = 0;  // finish: sim::Status
    std::int64_t diverged_round = 0, diverged_worker = -1, diverged_what = 0, diverged_rises = 0;
    double diverged_loss = 0, diverged_start = 0;
  };
  // What a worker rank says about one participant's round, beside its bytes.
  struct Header {
    std::uint64_t round = 0;
    std::uint64_t uploaded = 0;  // 0 or 1
    std::uint64_t fault = 0;     // sim::Fault
    std::uint64_t samples = 0;
    std::uint64_t values = 0, indices = 0, metadata = 0, paper = 0;
    std::uint64_t bytes = 0;
  };
  static constexpr std::uint64_t no_aggregate = std::numeric_limits<std::uint64_t>::max();

  // ---------------------------------------------------------------- setup, every rank

  void share_theta0() {
    std::int64_t p = theta_.size();
    check(MPI_Bcast(&p, 1, MPI_INT64_T, 0, mpi_.comm), "MPI_Bcast");
    if (!is_server()) theta_.resize(p);
    check(MPI_Bcast(theta_.data(), count_of(static_cast<std::uint64_t>(p), "theta0"), MPI_DOUBLE, 0,
                    mpi_.comm),
          "MPI_Bcast");
  }

  // Builds this rank's objectives, checks on rank 0 what sim::Simulation checks and starts its
  // skip rule; every rank throws the same std::invalid_argument when something is wrong.
  void set_up_workers(const std::function<Obj(Index)>& make_worker) {
    std::string error;
    std::vector<double> report;  // per hosted worker: dim, size, smoothness
    try {
      for (Index m = block_.first; m < block_.last; ++m) {
        local_.push_back(make_worker(m));
        const Obj& w = local_.back();
        double smoothness = std::numeric_limits<double>::quiet_NaN();
        if constexpr (HasSmoothness<Obj>) smoothness = w.smoothness();
        report.insert(report.end(),
                      {static_cast<double>(w.dim()), static_cast<double>(w.size()), smoothness});
      }
    } catch (const std::exception& e) {
      error = fmt::format("rank {}: {}", rank_, e.what());
      report.clear();
    }
    Index largest = 0;
    for (const Obj& w : local_) largest = std::max(largest, w.size());
    sampler_.resize(largest);

    // Rank 0 learns every report, or every rank's error.
    std::vector<double> all(is_server() ? static_cast<std::size_t>(3 * workers_) : 0);
    std::vector<int> counts(static_cast<std::size_t>(ranks_)), displs(counts.size());
    std::int64_t failed = error.empty() ? 0 : 1, any_failed = 0;
    check(MPI_Allreduce(&failed, &any_failed, 1, MPI_INT64_T, MPI_MAX, mpi_.comm), "MPI_Allreduce");
    if (any_failed != 0) {
      throw std::invalid_argument(gather_errors(error));
    }
    for (int r = 0; r < ranks_; ++r) {
      const Block b = Block::of(r, ranks_, workers_);
      counts[static_cast<std::size_t>(r)] =
          count_of(3 * static_cast<std::uint64_t>(b.size()), "reports");
      displs[static_cast<std::size_t>(r)] =
          count_of(3 * static_cast<std::uint64_t>(b.first), "reports");
    }
    check(MPI_Gatherv(report.data(), static_cast<int>(report.size()), MPI_DOUBLE, all.data(),
                      counts.data(), displs.data(), MPI_DOUBLE, 0, mpi_.comm),
          "MPI_Gatherv");
    weights_.assign(static_cast<std::size_t>(workers_), 1.0);
    if (is_server()) {
      try {
        std::vector<sim::WorkerShape> shapes;
        for (Index m = 0; m < workers_; ++m) {
          const double* at = all.data() + 3 * m;
          shapes.push_back({static_cast<Index>(at[0]), static_cast<Index>(at[1]), at[2]});
        }
        sim::check_setup<M>(shapes, theta_, uplink_, server_, downlink_);
        weights_ = sim::worker_weights(shapes, options_.weighting);
        warnings_ = sim::step_warnings(server_, shapes, weights_);
        skip::Setup setup = skip_setup();
        if constexpr (side == skip::Side::server && HasSmoothness<Obj>) {
          for (const sim::WorkerShape& w : shapes) setup.smoothness.push_back(w.smoothness);
        }
        within("skip", [&] { skip_.start(setup); });
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    const std::string verdict = broadcast_text(error);
    if (!verdict.empty()) throw std::invalid_argument(verdict);
    // Worker-side skip rules scale their thresholds by every worker's weight.
    check(
        MPI_Bcast(weights_.data(), count_of(weights_.size(), "weights"), MPI_DOUBLE, 0, mpi_.comm),
        "MPI_Bcast");
  }

  // The errors of every rank, joined, on every rank.
  std::string gather_errors(const std::string& mine) {
    std::string all;
    for (int r = 0; r < ranks_; ++r) {
      std::string text = r == rank_ ? mine : std::string{};
      std::int64_t length = static_cast<std::int64_t>(text.size());
      check(MPI_Bcast(&length, 1, MPI_INT64_T, r, mpi_.comm), "MPI_Bcast");
      text.resize(static_cast<std::size_t>(length));
      check(MPI_Bcast(text.data(), static_cast<int>(length), MPI_CHAR, r, mpi_.comm), "MPI_Bcast");
      if (!text.empty()) all += (all.empty() ? "" : "; ") + text;
    }
    return all;
  }

  // Rank 0's text on every rank.
  std::string broadcast_text(std::string text) {
    std::int64_t length = static_cast<std::int64_t>(text.size());
    check(MPI_Bcast(&length, 1, MPI_INT64_T, 0, mpi_.comm), "MPI_Bcast");
    text.resize(static_cast<std::size_t>(length));
    check(MPI_Bcast(text.data(), count_of(text.size(), "text"), MPI_CHAR, 0, mpi_.comm),
          "MPI_Bcast");
    return text;
  }

  // The compressors' stream of round k on worker m's uplink (the downlink's when m = M), as
  // its sender starts it: what a receiver decodes with.
  RandomStream stream(Index k, Index m) const {
    return {options_.seed, Purpose::compress, static_cast<std::uint64_t>(k),
            static_cast<std::uint64_t>(m)};
  }

  skip::Setup skip_setup() const {
    return {.workers = workers_,
            .dim = theta_.size(),
            .step = server_.params().step.at(0),
            .weights = weights_,
            .float_bits = float_bits_};
  }
  const server::Batch& batch() const { return server_.params().batch; }

  // ---------------------------------------------------------------- collectives

  void bcast(void* data, std::uint64_t bytes) {
    check(MPI_Bcast(data, count_of(bytes, "broadcast bytes"), MPI_BYTE, 0, mpi_.comm), "MPI_Bcast");
    if (is_server()) {
      wire_.control_sent += bytes * static_cast<std::uint64_t>(ranks_ - 1);
    } else {
      wire_.control_received += bytes;
    }
  }
  Command receive_command() {
    Command c;
    bcast(&c, sizeof c);
    return c;
  }
  void send_command(Command c) { bcast(&c, sizeof c); }

  // The ranks hosting a participant; all worker ranks when `everyone`.
  std::vector<char> ranks_hosting(const std::vector<char>& mask, bool everyone) const {
    std::vector<char> hosts(static_cast<std::size_t>(ranks_), 0);
    for (int r = 1; r < ranks_; ++r) {
      const Block b = Block::of(r, ranks_, workers_);
      for (Index m = b.first; m < b.last && !hosts[static_cast<std::size_t>(r)]; ++m) {
        hosts[static_cast<std::size_t>(r)] = everyone || mask[static_cast<std::size_t>(m)] != 0;
      }
    }
    return hosts;
  }
  static bool all_worker_ranks(const std::vector<char>& hosts) {
    return std::all_of(hosts.begin() + 1, hosts.end(), [](char h) { return h != 0; });
  }

  // ---------------------------------------------------------------- the server (rank 0)

  RunResult serve(const sim::Callback& on_round) {
    RunResult result;
    result.warnings = warnings_;
    try {
      sim::run_rounds(
          options_, history_, round_, theta_, ledger_, [&] { return step(); },
          [&]() -> const sim::Record& { return record(); }, on_round, result);
    } catch (const std::exception& e) {
      fail(e.what());
      throw;
    }
    finish(result);
    result.ledger = ledger_;
    return result;
  }

  // Tells every worker rank that the run failed, and why; they throw PeerError.
  void fail(const std::string& reason) {
    if (aggregate_pending_) {
      std::uint64_t none = no_aggregate;
      bcast(&none, sizeof none);
      aggregate_pending_ = false;
    }
    std::string text = fmt::format("laconic::mpi: the server stopped the run: {}", reason);
    send_command({.kind = Kind::fail, .bytes = text.size()});
    bcast(text.data(), text.size());
  }

  // Tells every worker rank how the run ended: its status, divergence, message and θ.
  void finish(RunResult& result) {
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
    broadcast_text(result.message);
    bcast(theta_.data(), static_cast<std::uint64_t>(theta_.size()) * sizeof(double));
    result.theta = theta_;
  }

  // sim::Divergence::quantity as a number, and back.
  static constexpr const char* quantities[] = {"gradient", "model", "loss", "message"};
  static std::int64_t quantity_code(const std::string& q) {
    return std::find(std::begin(quantities), std::end(quantities), q) - std::begin(quantities);
  }
  static std::string quantity_name(std::int64_t code) {
    return code >= 0 && code < 4 ? quantities[code] : "?";
  }
  // What the server's skip rule sees of a contacted worker: only θ^k, as the worker received
  // it (the rules supported here decide from models and smoothness constants).
  class ServerProbe final : public skip::Probe {
   public:
    explicit ServerProbe(const Vector& model) : model_(model) {}
    const Vector& model() const override { return model_; }
    const Vector& gradient() const override { unavailable("gradient"); }
    Vector& gradient_at(const Vector&) override { unavailable("gradient_at"); }
    const Vector& candidate() override { unavailable("candidate"); }
    const Vector& contribution() const override { unavailable("contribution"); }

   private:
    [[noreturn]] static void unavailable(const char* what) {
      throw std::logic_error(fmt::format(
          "laconic::mpi: a server-side skip rule's Probe has no {}() over MPI yet", what));
    }
    const Vector& model_;
  };

  // One round on the server; returns where a non-finite number appeared, if one did.
  std::optional<sim::Divergence> step() {
    const Index k = round_;
    RandomStream down_rng = stream(k, workers_);
    Bits down;
    Message down_message;
    if constexpr (broadcasts_aggregate) {
      model_ = theta_;
    } else {
      if (!encode_downlink(down_message, theta_, down_rng))
        return sim::Divergence{k, -1, "message"};
      down = down_message.bits;
      RandomStream receivers = stream(k, workers_);
      downlink_.decode(down_mirror_, down_message, model_, receivers);
    }
    skip_.begin_round(k, model_);
    server_.params().participation.draw(options_.seed, k, workers_, participants_);
    if constexpr (side == skip::Side::server) {
      std::erase_if(participants_, [&](Index m) {
        const bool contacted = skip_.contact(m, model_);
        if (!contacted) skip_.pass(m);
        return !contacted;
      });
    }
    const bool everyone = static_cast<Index>(participants_.size()) == workers_;
    std::vector<char> mask(static_cast<std::size_t>(workers_), everyone ? 1 : 0);
    if (!everyone) {
      for (Index m : participants_) mask[static_cast<std::size_t>(m)] = 1;
    }
    send_command({.kind = Kind::round,
                  .round = k,
                  .step_sq = step_sq_,
                  .bytes = down_message.bytes.size(),
                  .masked = everyone ? 0 : 1});
    if (!everyone) bcast(mask.data(), mask.size());
    if constexpr (!broadcasts_aggregate) send_downlink(down_message, mask, everyone);

    // Uplink: each rank's status and bytes, the accounting of each message, the bytes.
    std::vector<std::int64_t> sizes(2 * static_cast<std::size_t>(ranks_));
    std::int64_t none[2] = {0, 0};
    check(MPI_Gather(none, 2, MPI_INT64_T, sizes.data(), 2, MPI_INT64_T, 0, mpi_.comm),
          "MPI_Gather");
    std::vector<int> header_counts(static_cast<std::size_t>(ranks_), 0),
        header_displs = header_counts;
    for (Index m : participants_) {
      header_counts[static_cast<std::size_t>(owner_[static_cast<std::size_t>(m)])] +=
          static_cast<int>(sizeof(Header));
    }
    for (int r = 1; r < ranks_; ++r) {
      header_displs[static_cast<std::size_t>(r)] = header_displs[static_cast<std::size_t>(r - 1)] +
                                                   header_counts[static_cast<std::size_t>(r - 1)];
    }
    headers_.resize(participants_.size());
    check(MPI_Gatherv(nullptr, 0, MPI_BYTE, headers_.data(), header_counts.data(),
                      header_displs.data(), MPI_BYTE, 0, mpi_.comm),
          "MPI_Gatherv");
    std::vector<int> byte_counts(static_cast<std::size_t>(ranks_), 0), byte_displs = byte_counts;
    std::uint64_t total_bytes = 0;
    for (int r = 1; r < ranks_; ++r) {
      const std::int64_t n = sizes[2 * static_cast<std::size_t>(r) + 1];
      if (n < 0) throw DecodeError(fmt::format("rank {} declared {} bytes", r, n));
      byte_displs[static_cast<std::size_t>(r)] = count_of(total_bytes, "uplink bytes");
      byte_counts[static_cast<std::size_t>(r)] =
          count_of(static_cast<std::uint64_t>(n), "uplink bytes");
      total_bytes += static_cast<std::uint64_t>(n);
    }
    count_of(total_bytes, "uplink bytes");
    uplink_bytes_.resize(total_bytes);
    check(MPI_Gatherv(nullptr, 0, MPI_BYTE, uplink_bytes_.data(), byte_counts.data(),
                      byte_displs.data(), MPI_BYTE, 0, mpi_.comm),
          "MPI_Gatherv");
    wire_.control_received += 2 * sizeof(std::int64_t) * static_cast<std::uint64_t>(ranks_ - 1) +
                              headers_.size() * sizeof(Header);
    aggregate_pending_ = broadcasts_aggregate;

    // A rank that failed sent its reason instead of messages.
    for (int r = 1; r < ranks_; ++r) {
      if (sizes[2 * static_cast<std::size_t>(r)] != 0) {
        const auto* at = uplink_bytes_.data() + byte_displs[static_cast<std::size_t>(r)];
        throw PeerError(fmt::format(
            "rank {} failed in round {}: {}", r, k,
            std::string(reinterpret_cast<const char*>(at),
                        static_cast<std::size_t>(byte_counts[static_cast<std::size_t>(r)]))));
      }
    }
    // Where each participant's message starts, checked against what its rank declared.
    offsets_.assign(participants_.size(), 0);
    {
      std::vector<std::uint64_t> at(static_cast<std::size_t>(ranks_));
      for (int r = 0; r < ranks_; ++r)
        at[static_cast<std::size_t>(r)] =
            static_cast<std::uint64_t>(byte_displs[static_cast<std::size_t>(r)]);
      for (std::size_t i = 0; i < participants_.size(); ++i) {
        const Index m = participants_[i];
        const Header& h = headers_[i];
        const auto r = static_cast<std::size_t>(owner_[static_cast<std::size_t>(m)]);
        const std::uint64_t bits = h.values + h.indices + h.metadata;
        if (h.round != static_cast<std::uint64_t>(k) || h.uploaded > 1 ||
            h.fault > static_cast<std::uint64_t>(sim::Fault::message) ||
            (h.uploaded != 0 && h.fault != 0)) {
          throw DecodeError(
              fmt::format("laconic::mpi: malformed header of worker {} in round {}", m, k));
        }
        const std::uint64_t expected = h.uploaded != 0 ? (bits + 7) / 8 : 0;
        if (h.bytes != expected) {
          throw DecodeError(fmt::format(
              "laconic::mpi: the upload of worker {} in round {} has {} bytes where its {} bits "
              "need {}",
              m, k, h.bytes, bits, expected));
        }
        offsets_[i] = at[r];
        at[r] += h.bytes;
      }
      for (int r = 1; r < ranks_; ++r) {
        const auto end = static_cast<std::uint64_t>(byte_displs[static_cast<std::size_t>(r)] +
                                                    byte_counts[static_cast<std::size_t>(r)]);
        if (at[static_cast<std::size_t>(r)] != end) {
          throw DecodeError(fmt::format(
              "laconic::mpi: rank {} sent {} bytes in round {} but its messages declare {}", r,
              byte_counts[static_cast<std::size_t>(r)], k,
              at[static_cast<std::size_t>(r)] -
                  static_cast<std::uint64_t>(byte_displs[static_cast<std::size_t>(r)])));
        }
      }
      wire_.payload_received += total_bytes;
    }

    // Server-side rules learn from the contacted workers that computed (as in work()).
    std::vector<Bits> up(participants_.size());
    for (std::size_t i = 0; i < participants_.size(); ++i) {
      const Header& h = headers_[i];
      up[i] =
          Bits{.values = h.values, .indices = h.indices, .metadata = h.metadata, .paper = h.paper};
      if constexpr (side == skip::Side::server) {
        if (h.fault == 0) {
          ServerProbe probe(model_);
          const Bits extra = skip_.serve(participants_[i], probe);
          up[i] = extra + up[i];
        }
      }
    }

    // The ledger and the simulated time, in the simulation's order.
    const sim::CostModel& cost = options_.cost;
    sim::CostModel::Round timing(cost);
    const double down_time = broadcasts_aggregate ? 0 : cost.download(down);
    for (std::size_t i = 0; i < participants_.size(); ++i) {
      const Header& h = headers_[i];
      const Index m = participants_[i];
      const bool uploaded = h.uploaded != 0;
      if constexpr (!broadcasts_aggregate) ledger_.download(m, down);
      ledger_.gradient_samples(m, h.samples);
      if (h.fault != 0) {
        abandon_aggregate();
        return sim::Divergence{k, m, sim::to_string(static_cast<sim::Fault>(h.fault))};
      }
      if (uploaded) ledger_.upload(m, up[i]);
      timing.participant(down_time, cost.compute(options_.seed, k, m, h.samples),
                         uploaded ? cost.upload(up[i]) : 0);
    }

    // Decode and sum in the simulation's groups.
    const std::size_t count = participants_.size();
    const std::size_t groups = std::min(count, group_sum_.size());
    for (std::size_t g = 0; g < groups; ++g) {
      Vector& sum = group_sum_[g];
      sum.setZero();
      const std::size_t end = sim::group_begin(g + 1, count, groups);
      for (std::size_t i = sim::group_begin(g, count, groups); i < end; ++i) {
        if (headers_[i].uploaded == 0) continue;
        const auto m = static_cast<std::size_t>(participants_[i]);
        Message message;
        message.bytes.assign(
            uplink_bytes_.begin() + static_cast<std::ptrdiff_t>(offsets_[i]),
            uplink_bytes_.begin() + static_cast<std::ptrdiff_t>(offsets_[i] + headers_[i].bytes));
        message.bits = up[i];
        try {
          RandomStream senders = stream(k, static_cast<Index>(m));
          uplink_.decode(up_state_[m], message, decoded_, senders);
        } catch (const DecodeError& e) {
          throw DecodeError(
              fmt::format("laconic::mpi: the upload of worker {} in round {}: {}", m, k, e.what()));
        }
        wire_.messages_received += 1;
        if constexpr (lazy) {
          Vector& held = contribution_[m];
          sum += weights_[m] * (decoded_ - held);
          held.swap(decoded_);
        } else {
          sum += weights_[m] * decoded_;
        }
      }
    }

    if constexpr (lazy) {
      aggregate_ += sum_groups(groups) / static_cast<double>(workers_);
      previous_theta_ = theta_;
    } else if (participants_.empty()) {
      aggregate_.setZero();
    } else {
      double weight = 0;  // as sim::Simulation::step()
      for (const Index m : participants_) weight += weights_[static_cast<std::size_t>(m)];
      aggregate_ = sum_groups(groups) / weight;
    }
    if constexpr (broadcasts_aggregate) {
      Message message;
      if (!encode_downlink(message, aggregate_, down_rng)) {
        abandon_aggregate();
        return sim::Divergence{k, -1, "message"};
      }
      down = message.bits;
      std::uint64_t size = message.bytes.size();
      aggregate_pending_ = false;
      bcast(&size, sizeof size);
      bcast_payload(message.bytes.data(), size);
      RandomStream receivers = stream(k, workers_);
      downlink_.decode(down_mirror_, message, broadcast_, receivers);
      for (Index m = 0; m < workers_; ++m) ledger_.download(m, down);
      server_.update(k, broadcast_, theta_);
      time_ += timing.seconds(cost.download(down));
    } else {
      server_.update(k, aggregate_, theta_);
      time_ += timing.seconds(0);
    }
    ++round_;
    if (!all_finite(theta_)) return sim::Divergence{k, -1, "model"};
    step_sq_ = 0;
    if constexpr (lazy) {
      step_sq_ = (theta_ - previous_theta_).squaredNorm();
      skip_.end_round(step_sq_);
    }
    return std::nullopt;
  }

  // Encodes v for the downlink, as sim::Simulation::broadcast(); false if its compressor
  // cannot carry it.
  bool encode_downlink(Message& message, const Vector& v, RandomStream& rng) {
    try {
      message = downlink_.encode(down_state_, v, rng);
    } catch (const std::domain_error&) {
      return false;
    }
    return true;
  }

  // The workers of a broadcast-aggregate round wait for it; tell them none comes.
  void abandon_aggregate() {
    if (!aggregate_pending_) return;
    std::uint64_t none = no_aggregate;
    bcast(&none, sizeof none);
    aggregate_pending_ = false;
  }

  void bcast_payload(std::uint8_t* data, std::uint64_t size) {
    check(MPI_Bcast(data, count_of(size, "message bytes"), MPI_BYTE, 0, mpi_.comm), "MPI_Bcast");
    if (is_server()) {
      wire_.payload_sent += size * static_cast<std::uint64_t>(ranks_ - 1);
      wire_.messages_sent += static_cast<std::uint64_t>(ranks_ - 1);
    } else {
      wire_.payload_received += size;
      wire_.messages_received += 1;
    }
  }

  // θ^k's message to the ranks hosting a participant: one broadcast when that is all of them.
  void send_downlink(Message& message, const std::vector<char>& mask, bool everyone) {
    const std::vector<char> hosts = ranks_hosting(mask, everyone);
    if (all_worker_ranks(hosts)) {
      bcast_payload(message.bytes.data(), message.bytes.size());
      return;
    }
    for (int r = 1; r < ranks_; ++r) {
      if (!hosts[static_cast<std::size_t>(r)]) continue;
      check(MPI_Send(message.bytes.data(), count_of(message.bytes.size(), "message bytes"),
                     MPI_BYTE, r, downlink_tag, mpi_.comm),
            "MPI_Send");
      wire_.payload_sent += message.bytes.size();
      wire_.messages_sent += 1;
    }
  }

  const Vector& sum_groups(std::size_t groups) {
    total_.setZero();
    for (std::size_t g = 0; g < groups; ++g) total_ += group_sum_[g];
    return total_;
  }

  // A History row at the exact θ, from every worker's full loss and gradient, summed in the
  // simulation's order.
  const sim::Record& record() {
    send_command({.kind = Kind::evaluate});
    bcast(theta_.data(), static_cast<std::uint64_t>(theta_.size()) * sizeof(double));
    const Index p = theta_.size();
    const auto stride = static_cast<std::size_t>(p + 1);
    evaluations_.resize(static_cast<std::size_t>(workers_) * stride);
    std::vector<int> counts(static_cast<std::size_t>(ranks_), 0), displs = counts;
    for (int r = 1; r < ranks_; ++r) {
      const Block b = Block::of(r, ranks_, workers_);
      counts[static_cast<std::size_t>(r)] =
          count_of(static_cast<std::uint64_t>(b.size()) * stride, "evaluations");
      displs[static_cast<std::size_t>(r)] =
          count_of(static_cast<std::uint64_t>(b.first) * stride, "evaluations");
    }
    check(MPI_Gatherv(nullptr, 0, MPI_DOUBLE, evaluations_.data(), counts.data(), displs.data(),
                      MPI_DOUBLE, 0, mpi_.comm),
          "MPI_Gatherv");
    wire_.control_received += evaluations_.size() * sizeof(double);

    std::fill(group_loss_.begin(), group_loss_.end(), 0.0);
    const auto count = static_cast<std::size_t>(workers_);
    const std::size_t groups = std::min(count, group_sum_.size());
    for (std::size_t g = 0; g < groups; ++g) {
      group_sum_[g].setZero();
      const std::size_t end = sim::group_begin(g + 1, count, groups);
      for (std::size_t m = sim::group_begin(g, count, groups); m < end; ++m) {
        const double* at = evaluations_.data() + m * stride;
        group_loss_[g] += weights_[m] * at[0];
        group_sum_[g] += weights_[m] * Eigen::Map<const Vector>(at + 1, p);
      }
    }
    double loss = 0;
    for (double l : group_loss_) loss += l;
    const auto workers = static_cast<double>(workers_);
    sim::Record row;
    row.round = round_;
    row.loss = loss / workers;
    row.grad_norm_sq = (sum_groups(groups) / workers).squaredNorm();
    if (options_.test_accuracy && round_ % options_.eval_every == 0) {
      row.test_accuracy = options_.test_accuracy(theta_);
    }
    row.traffic = ledger_.total();
    row.time = time_;
    history_.rows.push_back(row);
    return history_.rows.back();
  }

  // ---------------------------------------------------------------- a worker rank

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
        case Kind::finish: {
          result.message = broadcast_text({});
          bcast(theta_.data(), static_cast<std::uint64_t>(theta_.size()) * sizeof(double));
          result.status = static_cast<sim::Status>(c.status);
          if (result.status == sim::Status::diverged) {
            result.divergence =
                sim::Divergence{c.diverged_round, c.diverged_worker, quantity_name(c.diverged_what),
                                c.diverged_rises, c.diverged_loss,   c.diverged_start};
          }
          result.theta = theta_;
          if (!pending_error_.empty()) throw PeerError(pending_error_);
          return result;
        }
        case Kind::fail: {
          std::string text(c.bytes, '\0');
          bcast(text.data(), text.size());
          if (own_error_) std::rethrow_exception(own_error_);
          throw PeerError(text);
        }
        default:
          throw PeerError(fmt::format("laconic::mpi: rank {} received an unknown command {}", rank_,
                                      static_cast<std::int64_t>(c.kind)));
      }
    }
  }

  // What a worker-side skip rule sees of one hosted worker (the contract in
  // skip/skip_rule.hpp): the same as in sim::Simulation, with the upload encoded into bytes.
  class WorkerProbe final : public skip::Probe {
   public:
    WorkerProbe(Training& t, std::size_t j, Index b, RandomStream& rng)
        : t_(t), j_(j), b_(b), rng_(rng) {}

    const Vector& model() const override { return t_.model_; }
    const Vector& gradient() const override { return t_.gradient_; }
    Vector& gradient_at(const Vector& x) override {
      const sim::Fault fault =
          sim::batch_gradient(t_.local_[j_], worker(), t_.batch(), x, t_.sampler_, b_, t_.extra_);
      if (fault_ == sim::Fault::none) fault_ = fault;
      samples_ += static_cast<std::uint64_t>(b_);
      return t_.extra_;
    }
    // A tentative upload, undone by discard(): what the server would hold after it.
    const Vector& candidate() override {
      if constexpr (side != skip::Side::worker) {
        throw std::logic_error("laconic::mpi: candidate() is for worker-side skip rules");
      }
      if (!sent_) {
        t_.backup_ = t_.up_state_[j_];
        t_.mirror_backup_ = t_.up_mirror_[j_];
        encode();
        sent_ = true;
      }
      return t_.decoded_;
    }
    const Vector& contribution() const override {
      if constexpr (side != skip::Side::worker) {
        throw std::logic_error("laconic::mpi: contribution() is for worker-side skip rules");
      }
      return t_.contribution_[j_];
    }
    Message& commit() {
      if (!sent_) encode();
      sent_ = true;
      return message_;
    }
    void discard() {
      if (!sent_) return;
      std::swap(t_.up_state_[j_], t_.backup_);
      if constexpr (side == skip::Side::worker) std::swap(t_.up_mirror_[j_], t_.mirror_backup_);
    }
    std::uint64_t samples() const { return samples_; }
    sim::Fault fault() const { return fault_; }  // of the gradients the rule asked for

   private:
    Index worker() const { return t_.block_.first + static_cast<Index>(j_); }
    void encode() {
      RandomStream servers = rng_;  // the stream as the server will have it
      message_ = t_.uplink_.encode(t_.up_state_[j_], t_.gradient_, rng_);
      // The server's end of the channel, mirrored, for rules that compare with what it holds.
      if constexpr (side == skip::Side::worker) {
        t_.uplink_.decode(t_.up_mirror_[j_], message_, t_.decoded_, servers);
      }
    }

    Training& t_;
    std::size_t j_;
    Index b_;
    RandomStream& rng_;
    bool sent_ = false;
    Message message_;
    std::uint64_t samples_ = 0;
    sim::Fault fault_ = sim::Fault::none;
  };

  void work_round(const Command& c) {
    const Index k = c.round;
    std::vector<char> mask(static_cast<std::size_t>(workers_), 1);
    if (c.masked != 0) bcast(mask.data(), mask.size());
    const bool everyone = c.masked == 0;
    std::string error;
    std::vector<std::uint8_t> down_bytes;
    std::size_t mine = 0;  // this rank's participants
    for (Index m = block_.first; m < block_.last; ++m)
      mine += mask[static_cast<std::size_t>(m)] != 0;
    if constexpr (!broadcasts_aggregate) {
      const std::vector<char> hosts = ranks_hosting(mask, everyone);
      if (mine > 0) {
        down_bytes.resize(c.bytes);
        if (all_worker_ranks(hosts)) {
          bcast_payload(down_bytes.data(), c.bytes);
        } else {
          check(MPI_Recv(down_bytes.data(), count_of(c.bytes, "message bytes"), MPI_BYTE, 0,
                         downlink_tag, mpi_.comm, MPI_STATUS_IGNORE),
                "MPI_Recv");
          wire_.payload_received += c.bytes;
          wire_.messages_received += 1;
        }
      }
    }

    // This rank's participants, their headers and bytes.
    std::vector<Header> headers;
    std::vector<std::uint8_t> payload;
    try {
      if (!pending_error_.empty()) throw PeerError(pending_error_);
      if constexpr (broadcasts_aggregate) {
        model_ = theta_;
      } else if (mine > 0) {
        Message message;
        message.bytes = std::move(down_bytes);
        try {
          RandomStream servers = stream(k, workers_);
          downlink_.decode(down_state_, message, model_, servers);
        } catch (const DecodeError& e) {
          throw DecodeError(fmt::format("laconic::mpi: rank {}: the downlink of round {}: {}",
                                        rank_, k, e.what()));
        }
      }
      if constexpr (side == skip::Side::worker) {
        if (k > 0) skip_.end_round(c.step_sq);
        skip_.begin_round(k, model_);
      }
      for (Index m = block_.first; m < block_.last; ++m) {
        if (!mask[static_cast<std::size_t>(m)]) continue;
        headers.push_back(compute(static_cast<std::size_t>(m - block_.first), k, payload));
      }
    } catch (const std::exception& e) {
      own_error_ = std::current_exception();
      error = fmt::format("{}", e.what());
      headers.assign(mine, Header{});
      payload.assign(error.begin(), error.end());
    }

    std::int64_t sizes[2] = {error.empty() ? 0 : 1, static_cast<std::int64_t>(payload.size())};
    check(MPI_Gather(sizes, 2, MPI_INT64_T, nullptr, 0, MPI_INT64_T, 0, mpi_.comm), "MPI_Gather");
    check(MPI_Gatherv(headers.data(), count_of(headers.size() * sizeof(Header), "headers"),
                      MPI_BYTE, nullptr, nullptr, nullptr, MPI_BYTE, 0, mpi_.comm),
          "MPI_Gatherv");
    check(MPI_Gatherv(payload.data(), count_of(payload.size(), "uplink bytes"), MPI_BYTE, nullptr,
                      nullptr, nullptr, MPI_BYTE, 0, mpi_.comm),
          "MPI_Gatherv");
    wire_.control_sent += sizeof sizes + headers.size() * sizeof(Header);
    if (error.empty()) wire_.payload_sent += payload.size();

    if constexpr (broadcasts_aggregate) {
      std::uint64_t size = 0;
      bcast(&size, sizeof size);
      if (size == no_aggregate) return;
      Message message;
      message.bytes.resize(size);
      bcast_payload(message.bytes.data(), size);
      try {
        RandomStream servers = stream(k, workers_);
        downlink_.decode(down_state_, message, broadcast_, servers);
        server_.update(k, broadcast_, theta_);
      } catch (const std::exception& e) {
        // Said to the server with the next round's uplink, or raised here at the end.
        pending_error_ = fmt::format("rank {}: the aggregate of round {}: {}", rank_, k, e.what());
      }
    }
  }

  // Hosted worker j's part of round k, as sim::Simulation::work(); appends its bytes.
  Header compute(std::size_t j, Index k, std::vector<std::uint8_t>& payload) {
    const Index m = block_.first + static_cast<Index>(j);
    Header h{.round = static_cast<std::uint64_t>(k)};
    RandomStream batches(options_.seed, Purpose::batch, static_cast<std::uint64_t>(k),
                         static_cast<std::uint64_t>(m));
    RandomStream rng = stream(k, m);
    Obj& w = local_[j];
    Index b = 0;
    sim::Fault fault = sim::Fault::none;
    if constexpr (local_steps) {
      fault = sim::local_change(w, m, server_, k, model_, batches, sampler_, local_model_,
                                gradient_, h.samples);
    } else {
      b = sampler_.draw(batch(), w.size(), batches);
      fault = sim::batch_gradient(w, m, batch(), model_, sampler_, b, gradient_);
    }
    WorkerProbe probe(*this, j, b, rng);
    bool uploaded = false;
    Message* message = nullptr;
    if (fault == sim::Fault::none) {
      try {  // as sim::Simulation::decide_and_send()
        if constexpr (side == skip::Side::worker) {
          uploaded = skip_.upload(m, probe);
        } else {
          uploaded = true;
        }
        fault = probe.fault();
        if (uploaded && fault == sim::Fault::none) message = &probe.commit();
      } catch (const std::domain_error&) {
        fault = sim::Fault::message;
      }
    }
    if constexpr (!local_steps) {
      sampler_.restore(batch(), b);
      h.samples = static_cast<std::uint64_t>(b) + probe.samples();
    }
    h.fault = static_cast<std::uint64_t>(fault);
    if (fault != sim::Fault::none || !uploaded) {
      probe.discard();
      return h;
    }
    h.uploaded = 1;
    if constexpr (side == skip::Side::worker) contribution_[j].swap(decoded_);
    if (mpi_.tamper_upload) mpi_.tamper_upload(k, m, *message);
    h.values = message->bits.values;
    h.indices = message->bits.indices;
    h.metadata = message->bits.metadata;
    h.paper = message->bits.paper;
    h.bytes = message->bytes.size();
    payload.insert(payload.end(), message->bytes.begin(), message->bytes.end());
    wire_.messages_sent += 1;
    return h;
  }

  // Every hosted worker's full loss and gradient at the exact θ, for the server's History.
  void evaluate() {
    bcast(theta_.data(), static_cast<std::uint64_t>(theta_.size()) * sizeof(double));
    const Index p = theta_.size();
    const auto stride = static_cast<std::size_t>(p + 1);
    evaluations_.assign(static_cast<std::size_t>(block_.size()) * stride, 0.0);
    for (std::size_t j = 0; j < local_.size(); ++j) {
      double* at = evaluations_.data() + j * stride;
      at[0] = sim::full_loss_gradient(local_[j], block_.first + static_cast<Index>(j), theta_,
                                      sampler_, gradient_);
      std::copy(gradient_.data(), gradient_.data() + p, at + 1);
    }
    check(MPI_Gatherv(evaluations_.data(), count_of(evaluations_.size(), "evaluations"), MPI_DOUBLE,
                      nullptr, nullptr, nullptr, MPI_DOUBLE, 0, mpi_.comm),
          "MPI_Gatherv");
    wire_.control_sent += evaluations_.size() * sizeof(double);
  }

  static constexpr int downlink_tag = 7;

  Skip skip_;
  Uplink uplink_;
  Server server_;
  Downlink downlink_;
  sim::Options options_;
  Options mpi_;
  Index workers_;
  Vector theta_;  // the server's θ; on a worker rank, its own model under a broadcast aggregate
  int rank_ = 0;
  int ranks_ = 0;
  Block block_;
  std::vector<int> owner_;  // the rank hosting each logical worker
  Wire wire_;

  // Both sides.
  std::vector<typename Uplink::State> up_state_;  // server: M receivers; worker: its senders
  typename Downlink::State down_state_;           // server: sender; worker: receiver
  typename Downlink::State down_mirror_;          // server: its own receiver, for θ^k as decoded
  Vector model_;                                  // θ^k as the workers decode it
  Vector decoded_;
  Vector broadcast_;  // broadcast_aggregate: the aggregate as decoded
  Vector aggregate_;
  Vector total_;
  std::vector<Vector> contribution_;  // server: every worker's; worker: its own (worker side)
  std::vector<double> evaluations_;

  std::vector<double> weights_;  // every rank: M·w_m of each worker (sim::Options::weighting)
  int float_bits_ = 64;          // Method::float_bits, for the skip rule's Setup
  // The server.
  Ledger ledger_;
  sim::History history_;
  Index round_ = 0;
  double time_ = 0;
  double step_sq_ = 0;
  Vector previous_theta_;
  std::vector<Vector> group_sum_;
  std::vector<double> group_loss_;
  std::vector<Index> participants_;
  std::vector<std::string> warnings_;
  std::vector<Header> headers_;
  std::vector<std::uint64_t> offsets_;
  std::vector<std::uint8_t> uplink_bytes_;
  bool aggregate_pending_ = false;

  // A worker rank.
  std::vector<Obj> local_;
  std::vector<typename Uplink::State> up_mirror_;  // the server's end of each hosted uplink
  typename Uplink::State backup_{}, mirror_backup_{};
  sim::Sampler sampler_;
  Vector gradient_, extra_, local_model_;  // the last: the model of local steps
  std::string pending_error_;
  std::exception_ptr own_error_;
};

// make_worker may be any callable: Training(method, M, [&](Index m) { ... }, theta0).
template <class M, class Factory>
Training(const M&, Index, Factory, Vector, sim::Options = {}, Options = {})
    -> Training<M, std::decay_t<std::invoke_result_t<Factory&, Index>>>;

}  // namespace laconic::mpi
