#pragma once

// The in-process simulated server/worker loop. One round k:
//   1. the participants are chosen: all workers, or those the server update's participation
//      policy draws (r of n, or each available with probability q); a server-side skip rule
//      (LAG-PS, LASG-PS/PSE) keeps only those it contacts — the others neither download nor
//      compute;
//   2. the server broadcasts θ^k through the downlink channel (encoded once, counted per
//      recipient); participants compute at the decoded model;
//   3. each draws its minibatches from its own stream (seed, k, worker, batch) and computes
//      its gradient — or, for periodic averaging, the change of its model after τ local steps;
//   4. a worker-side skip rule (LAG-WK, LAQ, LASG-WK1/WK2) decides whether it uploads;
//   5. an upload goes through the worker's own uplink channel (counted per worker);
//   6. the server averages what it decoded and updates θ. Under a skip rule it steps along
//      ∇^k, the mean of every worker's latest contribution (what it decoded from that worker's
//      last upload): ∇^k = ∇^{k−1} + (1/M) Σ_{m uploaded} δ_m^k.
// When the server update broadcasts its aggregate instead (CD-Adam's AMSGrad), the workers
// hold θ, step 2 sends nothing, and after step 6 the aggregate goes down through the downlink
// channel to every worker, which applies the update to its own model.
// A link is a channel (compress/channel.hpp): a plain compressor, or one with memory on both
// ends such as Markov (then a contribution is the worker's estimate ŵ_m, EF21's g_m^k, or
// LAQ's last quantized gradient) or ErrorFeedback.
// Workers run on a thread pool. Their decoded gradients are summed in fixed groups of
// consecutive workers, each in worker order, and then the groups in order, so the result is
// bit-identical for every thread count.

#include <laconic/compress/channel.hpp>
#include <laconic/compress/identity.hpp>
#include <laconic/core/archive.hpp>
#include <laconic/core/concepts.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/ledger.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/server/server_update.hpp>
#include <laconic/sim/checkpoint.hpp>
#include <laconic/sim/cost_model.hpp>
#include <laconic/sim/history.hpp>
#include <laconic/sim/method.hpp>
#include <laconic/sim/run.hpp>
#include <laconic/sim/thread_pool.hpp>
#include <laconic/sim/worker_compute.hpp>
#include <laconic/skip/never.hpp>
#include <laconic/skip/skip_rule.hpp>
#include <laconic/version.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <functional>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace laconic::sim {

template <class M, Objective Obj>
class Simulation {
  using Parts = Composition<M>;
  using Skip = typename Parts::Skip;
  using Uplink = typename Parts::Uplink;
  using Server = typename Parts::Server;
  using Downlink = typename Parts::Downlink;
  static constexpr skip::Side side = Parts::side;
  static constexpr bool lazy = Parts::lazy;
  static constexpr bool local_steps = Parts::local_steps;
  static constexpr bool broadcasts_aggregate = Parts::broadcasts_aggregate;

 public:
  Simulation(const M& method, std::vector<Obj> workers, Vector theta0, Options options = {})
      : skip_(Parts::skip(method)),
        uplink_(Parts::uplink(method)),
        server_(Parts::server(method)),
        downlink_(Parts::downlink(method)),
        workers_(std::move(workers)),
        theta_(std::move(theta0)),
        options_(std::move(options)),
        ledger_(static_cast<Index>(workers_.size())),
        pool_((options_.validate(), options_.threads)) {  // validated before threads start
    std::vector<WorkerShape> shapes;
    for (Obj& w : workers_) {
      shapes.push_back({w.dim(), w.size()});
      if constexpr (HasSmoothness<Obj>) shapes.back().smoothness = w.smoothness();
    }
    check_setup<M>(shapes, theta_, uplink_, server_, downlink_);
    weights_ = worker_weights(shapes, options_.weighting);
    float_bits_ = method.float_bits;
    warnings_ = step_warnings(server_, shapes, weights_);
    const Index p = theta_.size();
    Index largest = 0;
    for (const Obj& w : workers_) largest = std::max(largest, w.size());
    const server::Participation& participation = server_.params().participation;

    const auto groups = std::min<std::size_t>(workers_.size(), max_groups);
    group_sum_.assign(groups, Vector::Zero(p));
    group_loss_.assign(groups, 0.0);
    scratch_.resize(static_cast<std::size_t>(pool_.threads()));
    for (auto& s : scratch_) {
      s.gradient = Vector::Zero(p);
      s.decoded = Vector::Zero(p);
      s.extra = Vector::Zero(p);
      if constexpr (local_steps) s.local = Vector::Zero(p);
      s.backup = uplink_.make_state(p);
      s.sampler.resize(largest);
    }
    participants_.reserve(workers_.size());
    outcome_.reserve(participation.is_all() ? workers_.size() : 0);
    if constexpr (side == skip::Side::server) contacted_.assign(workers_.size(), 0);
    up_state_.reserve(workers_.size());
    for (std::size_t m = 0; m < workers_.size(); ++m) up_state_.push_back(uplink_.make_state(p));
    down_state_ = downlink_.make_state(p);
    model_ = Vector::Zero(p);
    if constexpr (broadcasts_aggregate) broadcast_ = Vector::Zero(p);
    aggregate_ = Vector::Zero(p);
    total_ = Vector::Zero(p);
    if constexpr (lazy) {
      contribution_.assign(workers_.size(), Vector::Zero(p));
      previous_theta_ = Vector::Zero(p);
    }
    within("skip", [&] { skip_.start(skip_setup()); });
    history_.description = describe();
  }

  // "laconic 0.1.0; label; method; workers; dim; seed" — the CSV header line.
  std::string describe() const {
    return fmt::format(
        "laconic {}.{}.{}; label={}; skip={}; uplink={}; server={}; downlink={}; workers={}; "
        "dim={}; seed={}; {}",
        version_major, version_minor, version_patch, options_.label, skip_.describe(),
        uplink_.describe(), server_.describe(), downlink_.describe(), workers_.size(),
        theta_.size(), options_.seed, options_.cost.describe());
  }

  // Runs options.rounds rounds (or until a callback stops it or a number diverges).
  RunResult run(const Callback& on_round = {}) {
    const auto start = std::chrono::steady_clock::now();
    RunResult result;
    result.warnings = warnings_;
    run_rounds(
        options_, history_, round_, theta_, ledger_, [&] { return step(); },
        [&]() -> const Record& { return record(); }, on_round, result);
    result.theta = theta_;
    result.ledger = ledger_;
    result.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  }

  // Writes the whole state of the run — θ, every policy's state on both ends of every link,
  // the skip rule's window and per-worker memories, the server's state, the ledger and the
  // history — to a checkpoint (sim/checkpoint.hpp). Random streams are keyed by round, so
  // the round is all they need. A simulation built with the same method, parameters, data
  // and seed that load()s it continues exactly as this one would.
  void save(const std::filesystem::path& path) const {
    ArchiveWriter writer;
    const_cast<Simulation&>(*this).state(writer);  // state() only reads when given a writer
    write_checkpoint(path, describe(), writer.bytes());
  }

  // Restores a checkpoint written by save() of a run with the same description; throws
  // CheckpointError saying why otherwise, and then leaves this simulation unchanged.
  void load(const std::filesystem::path& path) {
    const std::string bytes = read_checkpoint(path, describe());
    ArchiveWriter backup;
    state(backup);
    const ArchiveShape shape = fixed_shape();
    try {
      ArchiveReader reader(bytes, path.string());
      state(reader);
      if (!reader.at_end()) reader.fail("trailing bytes after the state");
      if (round_ < 0 || round_ > max_round) {
        reader.fail(fmt::format("round {} outside 0..2^40", round_));
      }
      if (fixed_shape() != shape) {
        reader.fail("its vectors and lists differ in length from this run's workers and dimension");
      }
    } catch (...) {
      ArchiveReader undo(backup.bytes(), "the state before load()");
      state(undo);
      throw;
    }
  }

  Index round() const { return round_; }
  // What is legal but likely wrong in the method's parameters (sim::step_warnings).
  const std::vector<std::string>& warnings() const { return warnings_; }
  const Vector& theta() const { return theta_; }
  const Ledger& ledger() const { return ledger_; }
  const History& history() const { return history_; }
  const std::vector<Obj>& workers() const { return workers_; }
  const Skip& skip_rule() const { return skip_; }
  // ∇ of the last round: the mean of the workers' latest contributions.
  const Vector& aggregate() const { return aggregate_; }
  // What the server holds for worker m under a skip rule: its last decoded upload.
  const Vector& contribution(Index m) const requires lazy {
    return contribution_.at(static_cast<std::size_t>(m));
  }

 private:
  struct Scratch {
    Vector gradient;
    Vector decoded;
    Vector extra;                     // a skip rule's second gradient
    Vector local;                     // the model of a worker's local steps
    typename Uplink::State backup{};  // the uplink state before a tentative send
    Sampler sampler;
  };
  struct Outcome {
    Fault fault = Fault::none;
    bool uploaded = false;
    Bits up;
    std::uint64_t samples = 0;  // per-sample gradients evaluated
  };

  // What a skip rule sees of worker m while it decides (contract in skip/skip_rule.hpp).
  class Probe final : public skip::Probe {
   public:
    Probe(Simulation& sim, std::size_t m, Index batch, Scratch& s, RandomStream& rng)
        : sim_(sim), m_(m), batch_(batch), s_(s), rng_(rng) {}

    const Vector& model() const override { return sim_.model_; }
    const Vector& gradient() const override { return s_.gradient; }
    Vector& gradient_at(const Vector& x) override {
      const Fault fault = sim_.batch_gradient(m_, x, batch_, s_, s_.extra);
      if (fault_ == Fault::none) fault_ = fault;
      samples_ += static_cast<std::uint64_t>(batch_);
      return s_.extra;
    }
    // A tentative send: undone by discard() if the worker does not upload after all.
    const Vector& candidate() override {
      if (!sent_) {
        s_.backup = state();
        bits_ = sim_.uplink_.send(state(), s_.gradient, s_.decoded, rng_);
        sent_ = true;
      }
      return s_.decoded;
    }
    const Vector& contribution() const override {
      if constexpr (!lazy) throw std::logic_error("contribution(): no skip rule keeps one");
      return sim_.contribution_[m_];
    }

    Bits commit() {
      return sent_ ? bits_ : sim_.uplink_.send(state(), s_.gradient, s_.decoded, rng_);
    }
    void discard() {
      if (sent_) std::swap(state(), s_.backup);
    }
    std::uint64_t samples() const { return samples_; }
    Fault fault() const { return fault_; }  // of the gradients the rule asked for

   private:
    typename Uplink::State& state() { return sim_.up_state_[m_]; }

    Simulation& sim_;
    std::size_t m_;
    Index batch_;
    Scratch& s_;
    RandomStream& rng_;
    bool sent_ = false;
    Bits bits_;
    std::uint64_t samples_ = 0;
    Fault fault_ = Fault::none;
  };

  template <class Io>
  void state(Io& io) {
    io(round_);
    io(time_);
    io(theta_);
    io(model_);
    io(aggregate_);
    io(broadcast_);
    io(previous_theta_);
    io(contribution_);
    io(up_state_);
    io(down_state_);
    io(skip_);
    io(server_);
    io(ledger_);
    io(history_.rows);
  }

  // The lengths in the state that the workers and the dimension fix, i.e. all but the History
  // and the server update's (AMSGrad sizes its moments at its first step and checks them).
  ArchiveShape fixed_shape() {
    ArchiveShape shape;
    for (Vector* v : {&theta_, &model_, &aggregate_, &broadcast_, &previous_theta_}) shape(*v);
    shape(contribution_);
    shape(up_state_);
    shape(down_state_);
    shape(skip_);
    shape(ledger_);
    return shape;
  }

  skip::Setup skip_setup() const {
    skip::Setup setup{.workers = static_cast<Index>(workers_.size()),
                      .dim = theta_.size(),
                      .step = server_.params().step.at(0),
                      .weights = weights_,
                      .float_bits = float_bits_};
    if constexpr (side == skip::Side::server && HasSmoothness<Obj>) {
      for (const Obj& w : workers_) setup.smoothness.push_back(w.smoothness());
    }
    return setup;
  }

  const server::Batch& batch() const { return server_.params().batch; }

  // The mean gradient of worker m at x over the b samples just drawn, written to g.
  Fault batch_gradient(std::size_t m, const Vector& x, Index b, Scratch& s, Vector& g) {
    return sim::batch_gradient(workers_[m], static_cast<Index>(m), batch(), x, s.sampler, b, g);
  }

  // Participant i's part of round k: its gradient and skip decision, or its local steps;
  // then its upload. Adds what the server gains from it to `sum` (its message, or under a
  // skip rule the change of its contribution).
  void work(std::size_t i, Index k, Scratch& s, Vector& sum) {
    const auto m = static_cast<std::size_t>(participants_[i]);
    Outcome& out = outcome_[i];
    out = {};
    RandomStream batches(options_.seed, Purpose::batch, static_cast<std::uint64_t>(k), m);
    RandomStream rng(options_.seed, Purpose::compress, static_cast<std::uint64_t>(k), m);
    Index b = 0;
    if constexpr (local_steps) {
      out.fault = local_change(workers_[m], static_cast<Index>(m), server_, k, model_, batches,
                               s.sampler, s.local, s.gradient, out.samples);
    } else {
      b = s.sampler.draw(batch(), workers_[m].size(), batches);
      out.fault = batch_gradient(m, model_, b, s, s.gradient);
    }
    Probe probe(*this, m, b, s, rng);
    if (out.fault == Fault::none) out.fault = decide_and_send(static_cast<Index>(m), probe, out);
    if constexpr (!local_steps) {
      s.sampler.restore(batch(), b);
      out.samples = static_cast<std::uint64_t>(b) + probe.samples();
    }
    if (out.fault != Fault::none || !out.uploaded) {
      probe.discard();
      out.uploaded = false;
      return;
    }
    if constexpr (lazy) {
      Vector& held = contribution_[m];
      sum += weights_[m] * (s.decoded - held);
      held.swap(s.decoded);
    } else {
      sum += weights_[m] * s.decoded;
    }
  }

  // The skip rule's decision for worker m and, if it uploads, its message (into the scratch's
  // decoded vector); a message its compressor cannot carry is a fault, not an exception.
  Fault decide_and_send(Index m, Probe& probe, Outcome& out) {
    try {
      if constexpr (side == skip::Side::worker) {
        out.uploaded = skip_.upload(m, probe);
      } else if constexpr (side == skip::Side::server) {
        out.up = skip_.serve(m, probe);
        out.uploaded = true;
      } else {
        out.uploaded = true;
      }
      if (probe.fault() != Fault::none) return probe.fault();
      if (out.uploaded) out.up += probe.commit();
    } catch (const std::domain_error&) {
      return Fault::message;
    }
    return Fault::none;
  }

  // Runs body(i, scratch, g) for i in 0..count-1 on the pool, in min(count, max_groups) fixed
  // groups g of consecutive i whose group_sum_[g] starts at zero. Returns the number of groups.
  template <class Body>
  std::size_t for_each_in_groups(std::size_t count, Body&& body) {
    const std::size_t groups = std::min(count, group_sum_.size());
    pool_.parallel_for(static_cast<std::int64_t>(groups), [&](std::int64_t gi, int t) {
      const auto g = static_cast<std::size_t>(gi);
      Scratch& s = scratch_[static_cast<std::size_t>(t)];
      group_sum_[g].setZero();
      const std::size_t end = group_begin(g + 1, count, groups);
      for (std::size_t i = group_begin(g, count, groups); i < end; ++i) body(i, s, g);
    });
    return groups;
  }

  // The round's participants, ascending: those the participation policy draws, and of them
  // those a server-side skip rule contacts (the others are told they were passed over).
  void choose_participants(Index k) {
    server_.params().participation.draw(options_.seed, k, static_cast<Index>(workers_.size()),
                                        participants_);
    if constexpr (side == skip::Side::server) {
      for_each_in_groups(workers_.size(), [&](std::size_t m, Scratch&, std::size_t) {
        const auto w = static_cast<Index>(m);
        contacted_[m] = skip_.contact(w, model_);
        if (!contacted_[m]) skip_.pass(w);
      });
      std::erase_if(participants_,
                    [&](Index m) { return !contacted_[static_cast<std::size_t>(m)]; });
    }
    outcome_.resize(participants_.size());
  }

  // One round; returns where a non-finite number appeared, or a message could not be sent, if
  // either happened.
  std::optional<Divergence> step() {
    const Index k = round_;
    RandomStream down_rng(options_.seed, Purpose::compress, static_cast<std::uint64_t>(k),
                          workers_.size());
    Bits down;  // θ^k to each participant; or, for broadcast_aggregate, nothing before the round
    if constexpr (broadcasts_aggregate) {
      model_ = theta_;  // the workers' own model
    } else if (!broadcast(down, theta_, model_, down_rng)) {
      return Divergence{k, -1, "message"};
    }
    skip_.begin_round(k, model_);
    choose_participants(k);
    const std::size_t groups = for_each_in_groups(
        participants_.size(),
        [&](std::size_t i, Scratch& s, std::size_t g) { work(i, k, s, group_sum_[g]); });

    const CostModel& cost = options_.cost;
    CostModel::Round timing(cost);
    const double down_time = broadcasts_aggregate ? 0 : cost.download(down);
    for (std::size_t i = 0; i < participants_.size(); ++i) {
      const Outcome& out = outcome_[i];
      const Index m = participants_[i];
      if constexpr (!broadcasts_aggregate) ledger_.download(m, down);
      ledger_.gradient_samples(m, out.samples);
      if (out.fault != Fault::none) return Divergence{k, m, to_string(out.fault)};
      if (out.uploaded) ledger_.upload(m, out.up);
      timing.participant(down_time, cost.compute(options_.seed, k, m, out.samples),
                         out.uploaded ? cost.upload(out.up) : 0);
    }
    if constexpr (lazy) {
      aggregate_ += sum_groups(groups) / static_cast<double>(workers_.size());
      previous_theta_ = theta_;
    } else if (participants_.empty()) {
      aggregate_.setZero();
    } else {
      double weight = 0;  // the participants' Σ M·w_m: their count for the plain mean
      for (const Index m : participants_) weight += weights_[static_cast<std::size_t>(m)];
      aggregate_ = sum_groups(groups) / weight;
    }
    if constexpr (broadcasts_aggregate) {
      if (!broadcast(down, aggregate_, broadcast_, down_rng)) return Divergence{k, -1, "message"};
      for (Index m = 0; m < static_cast<Index>(workers_.size()); ++m) ledger_.download(m, down);
      server_.update(k, broadcast_, theta_);
      time_ += timing.seconds(cost.download(down));
    } else {
      server_.update(k, aggregate_, theta_);
      time_ += timing.seconds(0);
    }
    ++round_;
    if (!all_finite(theta_)) return Divergence{k, -1, "model"};
    if constexpr (lazy) skip_.end_round((theta_ - previous_theta_).squaredNorm());
    return std::nullopt;
  }

  // Sends v through the downlink; false if its compressor cannot carry it.
  bool broadcast(Bits& bits, const Vector& v, Vector& decoded, RandomStream& rng) {
    try {
      bits = downlink_.send(down_state_, v, decoded, rng);
    } catch (const std::domain_error&) {
      return false;
    }
    return true;
  }

  // The first `groups` groups' sums added in group order (into scratch).
  const Vector& sum_groups(std::size_t groups) {
    total_.setZero();
    for (std::size_t g = 0; g < groups; ++g) total_ += group_sum_[g];
    return total_;
  }

  // Appends the History row for the current θ: loss and gradient of f = Σ w_m f_m, computed
  // from full local gradients (not counted in the ledger: this is measurement, not training).
  const Record& record() {
    std::fill(group_loss_.begin(), group_loss_.end(), 0.0);
    const std::size_t groups =
        for_each_in_groups(workers_.size(), [&](std::size_t m, Scratch& s, std::size_t g) {
          const double loss =
              full_loss_gradient(workers_[m], static_cast<Index>(m), theta_, s.sampler, s.gradient);
          group_loss_[g] += weights_[m] * loss;
          group_sum_[g] += weights_[m] * s.gradient;
        });
    double loss = 0;
    for (double l : group_loss_) loss += l;
    const auto workers = static_cast<double>(workers_.size());
    Record row;
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

  Skip skip_;
  Uplink uplink_;
  Server server_;
  Downlink downlink_;
  std::vector<typename Uplink::State> up_state_;  // one uplink channel per worker
  typename Downlink::State down_state_;           // the broadcast channel
  std::vector<Obj> workers_;
  Vector theta_;
  Options options_;
  Ledger ledger_;
  ThreadPool pool_;
  History history_;
  std::vector<double> weights_;        // M·w_m of each worker (Options::weighting)
  int float_bits_ = 64;                // Method::float_bits, for the skip rule's Setup
  std::vector<std::string> warnings_;  // step_warnings()
  Index round_ = 0;
  double time_ = 0;  // simulated time so far

  Vector broadcast_;  // broadcast_aggregate: the aggregate as the workers decoded it
  Vector model_;      // θ as the workers decode it
  Vector aggregate_;  // ∇: the mean of the workers' latest contributions
  Vector total_;      // sum_groups()' scratch
  std::vector<Vector> contribution_;  // under a skip rule: each worker's last decoded upload
  Vector previous_theta_;             // under a skip rule: θ before the update, for the window
  std::vector<Vector> group_sum_;
  std::vector<double> group_loss_;
  std::vector<Scratch> scratch_;
  std::vector<Index> participants_;  // this round's, ascending
  std::vector<Outcome> outcome_;     // one per participant
  std::vector<char> contacted_;      // under a server-side skip rule: this round's decisions
};

}  // namespace laconic::sim
