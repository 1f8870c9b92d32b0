#pragma once

// The server's half of a round, the same in process (sim/simulation.hpp) and over MPI
// (mpi/training.hpp). Round k:
//   open():    θ^k through the downlink (encoded once, counted per recipient), the skip
//              rule's round, and the participants: those the server update's participation
//              policy draws (all workers, r of n, or each with probability q), of which a
//              server-side skip rule (LAG-PS, LASG-PS/PSE) keeps those it contacts;
//   accept():  each participant's decoded upload added to its group's sum — under a skip rule
//              the change of that worker's contribution, what the server holds from its last
//              upload: ∇^k = ∇^{k−1} + (1/M) Σ_{m uploaded} w_m δ_m^k;
//   account(): the ledger and the simulated time of the participants, and which of their
//              uploads count (the cost model's deadline and over-selection drop late ones);
//   close():   the aggregate, the update of θ, and (CD-Adam's AMSGrad) the aggregate through
//              the downlink to every worker, which applies the update to its own model.
// record() makes a History row at the exact θ from every worker's full loss and gradient.
// The workers' half (sim/worker_half.hpp) computes and uploads. Per-worker quantities are
// summed in fixed groups of consecutive workers, each in worker order, then the groups in
// order, so that the sums are bit-identical for every thread count and every MPI layout.

#include <laconic/compress/channel.hpp>
#include <laconic/core/archive.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/ledger.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/sim/composition.hpp>
#include <laconic/sim/cost_model.hpp>
#include <laconic/sim/history.hpp>
#include <laconic/sim/run.hpp>
#include <laconic/sim/thread_pool.hpp>
#include <laconic/sim/worker_compute.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace laconic::sim {

// What one participant's part of a round leaves for the server.
struct Upload {
  Fault fault = Fault::none;
  bool uploaded = false;
  Bits bits;                    // its message's, and a server-side skip rule's extra bits
  std::uint64_t gradients = 0;  // minibatch gradients evaluated, b_m samples each
  double report = 0;            // a server-side skip rule's report (SkipRule::report)
  Message message;              // the encoded upload, where the link's ends are apart (MPI)
};

// The compressors' stream of round k on worker m's uplink (the downlink's when m = M), as the
// sender starts it; a receiver decodes with the same stream.
inline RandomStream link_stream(std::uint64_t seed, Index k, Index m) {
  return {seed, Purpose::compress, static_cast<std::uint64_t>(k), static_cast<std::uint64_t>(m)};
}

template <class M>
class ServerHalf {
  using Parts = Composition<M>;
  using Uplink = typename Parts::Uplink;
  using Downlink = typename Parts::Downlink;
  static constexpr skip::Side side = Parts::side;
  static constexpr bool lazy = Parts::lazy;
  static constexpr bool broadcasts_aggregate = Parts::broadcasts_aggregate;

 public:
  // `parts` has been start()ed for these workers. `apart`: the links' two ends are kept apart
  // (MPI): open() and close() are then given a message to encode into, and the server decodes
  // θ^k with its own copy of the downlink's receiving end.
  ServerHalf(Parts& parts, Vector theta0, const Options& options, Index workers, ThreadPool& pool,
             bool apart)
      : parts_(parts),
        options_(options),
        pool_(pool),
        workers_(workers),
        apart_(apart),
        ledger_(workers),
        theta_(std::move(theta0)),
        clock_(options.cost, workers, options.seed) {
    const Index p = theta_.size();
    const auto groups = std::min<std::size_t>(static_cast<std::size_t>(workers), max_groups);
    group_sum_.assign(groups, GroupSum{Vector::Zero(p)});
    group_loss_.assign(groups, 0.0);
    up_state_.reserve(static_cast<std::size_t>(workers));
    for (Index m = 0; m < workers; ++m) up_state_.push_back(parts_.uplink.make_state(p));
    down_state_ = parts_.downlink.make_state(p);
    if (apart) down_mirror_ = parts_.downlink.make_state(p);
    if (!apart && !broadcasts_aggregate) down_verbatim_ = compress::verbatim(parts_.downlink, p);
    model_ = Vector::Zero(p);
    aggregate_ = Vector::Zero(p);
    total_ = Vector::Zero(p);
    if constexpr (broadcasts_aggregate) broadcast_ = Vector::Zero(p);
    if constexpr (lazy) {
      contribution_.assign(static_cast<std::size_t>(workers), Vector::Zero(p));
      previous_theta_ = Vector::Zero(p);
    }
    if constexpr (side == skip::Side::server)
      contacted_.assign(static_cast<std::size_t>(workers), 0);
    participants_.reserve(static_cast<std::size_t>(workers));
    legs_.reserve(static_cast<std::size_t>(workers));
    counts_.reserve(static_cast<std::size_t>(workers));
    if (!options.cost.availability.always()) online_.reserve(static_cast<std::size_t>(workers));
    history_.description = parts_.describe(options_, workers, p);
  }

  // Opens round k = round(): θ^k through the downlink — into `message` when the ends are
  // apart, else decoded straight into model() — the skip rule's round and the participants.
  // A θ^k its compressor cannot carry ends the run as diverged.
  std::optional<Divergence> open(Message* message) {
    const Index k = round_;
    if constexpr (broadcasts_aggregate) {
      model_ = theta_;  // the workers' own model
    } else if (!send_down(theta_, model_, message)) {
      return Divergence{k, -1, "message"};
    }
    parts_.skip.begin_round(k, model_);
    draw_participants(k);
    if constexpr (side == skip::Side::server) {
      // Every worker is asked, so that the rounds since its last upload count on.
      for_each_in_groups(static_cast<std::size_t>(workers_), [&](std::size_t m, int, std::size_t) {
        const auto w = static_cast<Index>(m);
        contacted_[m] = parts_.skip.contact(w, model_);
        if (!contacted_[m]) parts_.skip.pass(w);
      });
      std::erase_if(participants_,
                    [&](Index m) { return !contacted_[static_cast<std::size_t>(m)]; });
    }
    legs_.resize(participants_.size());
    counts_.resize(participants_.size());
    return std::nullopt;
  }

  // Runs body(i, thread, g) for i in 0..count−1 on the pool, in min(count, max_groups) fixed
  // groups g of consecutive i, each with its sum emptied. Returns the number of groups.
  template <class Body>
  std::size_t for_each_in_groups(std::size_t count, Body&& body) {
    const std::size_t groups = std::min(count, group_sum_.size());
    pool_.parallel_for(static_cast<std::int64_t>(groups), [&](std::int64_t gi, int t) {
      const auto g = static_cast<std::size_t>(gi);
      group_sum_[g].empty = true;
      const std::size_t end = group_begin(g + 1, count, groups);
      for (std::size_t i = group_begin(g, count, groups); i < end; ++i) body(i, t, g);
    });
    return groups;
  }

  // Adds what the server gains from worker m's decoded upload to the sum of group g;
  // `decoded` is left as scratch.
  void accept(Index m, Vector& decoded, std::size_t g) {
    const auto i = static_cast<std::size_t>(m);
    GroupSum& group = group_sum_[g];
    if constexpr (lazy) {
      Vector& held = contribution_[i];
      group.add(parts_.weights[i], decoded - held);
      held.swap(decoded);
    } else if (group.empty && parts_.weights[i] == 1) {
      group.sum.swap(decoded);  // the group's first upload, taken as it is
      group.empty = false;
    } else {
      group.add(parts_.weights[i], decoded);
    }
  }

  // Apart: decodes worker m's upload of this round, `message`, with the server's end of its
  // uplink (into `decoded`, scratch) and accepts it into the sum of group g.
  void receive(Index m, const Message& message, Vector& decoded, std::size_t g) {
    try {
      RandomStream senders = link_stream(options_.seed, round_, m);
      parts_.uplink.decode(receiver(m), message, decoded, senders);
    } catch (const DecodeError& e) {
      throw DecodeError(
          fmt::format("the upload of worker {} in round {}: {}", m, round_, e.what()));
    }
    accept(m, decoded, g);
  }

  // The simulated times of participant i (in participants()) whose part of the round left
  // `up`: called for each participant, in any order and from any thread, before account().
  // Returns whether its upload counts when that is known already, i.e. unless the server
  // keeps the first r uploads to arrive (then account() decides, and this returns true).
  bool arrive(std::size_t i, const Upload& up) {
    const Index m = participants_[i];
    const Device& device = clock_.device(m);
    Leg& leg = legs_[i];
    leg.down = broadcasts_aggregate ? 0 : device.download(down_);
    leg.compute = device.compute(options_.seed, round_, m, samples(m, up));
    leg.up = up.uploaded ? device.upload(up.bits) : 0;
    return clock_.counts_on_arrival(leg);
  }

  // The ledger and simulated time of round k's participants, whose uploads are `uploads` (in
  // the order of participants(), each arrive()d), and which uploads count (counts()); a
  // participant's fault ends the run as diverged.
  std::optional<Divergence> account(std::span<const Upload> uploads) {
    for (std::size_t i = 0; i < participants_.size(); ++i) {
      const Upload& up = uploads[i];
      const Index m = participants_[i];
      if constexpr (!broadcasts_aggregate) ledger_.download(m, down_);
      ledger_.gradient_samples(m, samples(m, up));
      if (up.fault != Fault::none) return Divergence{round_, m, to_string(up.fault)};
      if (up.uploaded) ledger_.upload(m, up.bits);
    }
    TimeParts parts;
    seconds_ = idle_ + clock_.round(legs_, counts_, parts);
    parts.wait += idle_;
    time_parts_ += parts;
    for (std::size_t i = 0; i < participants_.size(); ++i) {
      if (uploads[i].uploaded && !counts_[i]) {
        const Index m = participants_[i];
        ledger_.dropped(m, uploads[i].bits, samples(m, uploads[i]));
      }
    }
    return std::nullopt;
  }
  // Whether the upload of participant i (in participants()) counts, after account().
  bool counts(std::size_t i) const { return counts_[i] != 0; }

  // Closes round k with the first `groups` group sums: the aggregate, the update of θ and,
  // for a broadcast aggregate, its message (into `message` when the ends are apart).
  std::optional<Divergence> close(std::size_t groups, Message* message) {
    const Index k = round_;
    if constexpr (lazy) {
      aggregate_ += sum_groups(groups) / static_cast<double>(workers_);
      previous_theta_ = theta_;
    } else {
      double weight = 0;  // the counted participants' Σ M·w_m: their count for the plain mean
      for (std::size_t i = 0; i < participants_.size(); ++i) {
        if (counts_[i]) weight += parts_.weights[static_cast<std::size_t>(participants_[i])];
      }
      if (weight == 0) {
        aggregate_.setZero();
      } else {
        aggregate_ = sum_groups(groups) / weight;
      }
    }
    if constexpr (broadcasts_aggregate) {
      if (!send_down(aggregate_, broadcast_, message)) return Divergence{k, -1, "message"};
      for (Index m = 0; m < workers_; ++m) ledger_.download(m, down_);
      parts_.server.update(k, broadcast_, theta_);
      const double broadcast = clock_.slowest_download(down_);  // every worker receives it
      time_ += seconds_ + broadcast;
      time_parts_.down += broadcast;
    } else {
      parts_.server.update(k, aggregate_, theta_);
      time_ += seconds_;
    }
    ++round_;
    if (!all_finite(theta_)) return Divergence{k, -1, "model"};
    step_sq_ = 0;
    if constexpr (lazy) {
      step_sq_ = (theta_ - previous_theta_).squaredNorm();
      parts_.skip.end_round(step_sq_);
    }
    return std::nullopt;
  }

  // Appends the History row for the current θ: the loss and gradient of f = Σ w_m f_m from
  // every worker's full loss and gradient, evaluate(m, thread) → {f_m(θ), ∇f_m(θ)} (not
  // counted in the ledger: this is measurement, not training).
  template <class Evaluate>
  const Record& record(Evaluate&& evaluate) {
    std::fill(group_loss_.begin(), group_loss_.end(), 0.0);
    const std::size_t groups = for_each_in_groups(
        static_cast<std::size_t>(workers_), [&](std::size_t m, int t, std::size_t g) {
          const auto [loss, gradient] = evaluate(static_cast<Index>(m), t);
          group_loss_[g] += parts_.weights[m] * loss;
          group_sum_[g].add(parts_.weights[m], gradient);
        });
    double loss = 0;
    for (double l : group_loss_) loss += l;
    const auto workers = static_cast<double>(workers_);
    Record row;
    row.round = round_;
    row.loss = loss / workers;
    row.grad_norm_sq = (sum_groups(groups) / workers).squaredNorm();
    if (options_.test_accuracy && round_ % options_.eval_every == 0) {
      row.test_accuracy = options_.test_accuracy(theta_);
    }
    row.traffic = ledger_.total();
    row.time = time_;
    row.time_parts = time_parts_;
    history_.rows.push_back(row);
    return history_.rows.back();
  }

  // The run's whole state, as a checkpoint holds it (sim/checkpoint.hpp): θ, every policy's
  // state on both ends of every link, the skip rule's window and per-worker memories, the
  // server's state, the ledger and the History. Random streams are keyed by round, so the
  // round is all they need.
  std::string saved_state() const {
    ArchiveWriter writer;
    const_cast<ServerHalf&>(*this).state(writer);  // state() only reads when given a writer
    return writer.bytes();
  }
  // Restores a state saved by saved_state() of a run of the same shape, read from `source`
  // (named in errors); throws CheckpointError saying why otherwise, and then leaves this half,
  // and the policies it shares, unchanged.
  void restore(std::string_view bytes, const std::string& source) {
    ArchiveWriter backup;
    state(backup);
    const ArchiveShape shape = fixed_shape();
    try {
      ArchiveReader reader(bytes, source);
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
    if (apart_) down_mirror_ = down_state_;
  }
  // The lengths in the state that the workers and the dimension fix, i.e. all but the History
  // and the server update's (AMSGrad sizes its moments at its first step and checks them).
  ArchiveShape fixed_shape() {
    ArchiveShape shape;
    for (Vector* v : {&theta_, &model_, &aggregate_, &broadcast_, &previous_theta_}) shape(*v);
    shape(contribution_);
    shape(up_state_);
    shape(down_state_);
    shape(parts_.skip);
    shape(ledger_);
    return shape;
  }

  const Index& round() const { return round_; }
  Index workers() const { return workers_; }
  const Vector& theta() const { return theta_; }
  const Vector& model() const { return model_; }  // θ^k as the workers decode it
  // Under a broadcast aggregate: the last aggregate as the workers decoded it.
  const Vector& broadcast() const { return broadcast_; }
  const Vector& aggregate() const { return aggregate_; }
  const Ledger& ledger() const { return ledger_; }
  History& history() { return history_; }
  const History& history() const { return history_; }
  double step_sq() const { return step_sq_; }  // ‖θ^{k+1} − θ^k‖² of the last round (lazy)
  const std::vector<Index>& participants() const { return participants_; }  // ascending
  // Under a server-side skip rule: whether worker m was contacted this round.
  bool contacted(Index m) const { return contacted_[static_cast<std::size_t>(m)] != 0; }
  // The server's end of worker m's uplink, and what it holds from m (under a skip rule).
  typename Uplink::State& receiver(Index m) { return up_state_[static_cast<std::size_t>(m)]; }
  const typename Uplink::State& receiver(Index m) const {
    return up_state_[static_cast<std::size_t>(m)];
  }
  // The downlink's sending end, whose state is the link's.
  const typename Downlink::State& downlink_state() const { return down_state_; }
  Vector& contribution(Index m) { return contribution_[static_cast<std::size_t>(m)]; }
  const Vector& contribution(Index m) const {
    return contribution_.at(static_cast<std::size_t>(m));
  }

 private:
  template <class Io>
  void state(Io& io) {
    io(round_);
    io(time_);
    io(time_parts_);
    io(theta_);
    io(model_);
    io(aggregate_);
    io(broadcast_);
    io(previous_theta_);
    io(contribution_);
    io(up_state_);
    io(down_state_);
    io(parts_.skip);
    io(parts_.server);
    io(ledger_);
    io(history_.rows);
  }

  // Sends v through the downlink into `decoded`, and into `message` when the ends are apart
  // (it is null in process); false if its compressor cannot carry it.
  bool send_down(const Vector& v, Vector& decoded, Message* message) {
    RandomStream rng = link_stream(options_.seed, round_, workers_);
    if (message == nullptr && down_verbatim_) {
      // θ^k itself (found finite when it was made, θ⁰ when the run was set up).
      decoded = v;
      down_ = *down_verbatim_;
      return true;
    }
    try {
      if (message != nullptr) {
        *message = parts_.downlink.encode(down_state_, v, rng);
        RandomStream receivers = link_stream(options_.seed, round_, workers_);
        parts_.downlink.decode(down_mirror_, *message, decoded, receivers);
        down_ = message->bits;
      } else {
        down_ = parts_.downlink.send(down_state_, v, decoded, rng);
      }
    } catch (const std::domain_error&) {
      return false;
    }
    return true;
  }

  // The sample gradients worker m evaluated for `up`: b_m for each minibatch gradient.
  std::uint64_t samples(Index m, const Upload& up) const {
    return up.gradients *
           static_cast<std::uint64_t>(parts_.batch_sizes[static_cast<std::size_t>(m)]);
  }

  // Round k's participants: those the participation policy draws among the workers online
  // when the round starts (all workers, unless the cost model has them come and go). When
  // none is, the round starts when the first comes online, idle until then.
  void draw_participants(Index k) {
    const server::Participation& participation = parts_.server.params().participation;
    idle_ = 0;
    if (options_.cost.availability.always()) {
      participation.draw(options_.seed, k, workers_, participants_);
      return;
    }
    const auto find_online = [&](double t) {
      online_.clear();
      for (Index m = 0; m < workers_; ++m) {
        if (clock_.online(m, t)) online_.push_back(m);
      }
    };
    find_online(time_);
    if (online_.empty()) {
      const double next = clock_.next_online(time_);
      if (next < infinite_time) {
        idle_ = next - time_;
        find_online(next);
      }
    }
    server::Participation among_online = participation;  // r of those online, at most all
    among_online.count = std::min(participation.count, static_cast<Index>(online_.size()));
    participants_.clear();
    if (!online_.empty()) {
      among_online.draw(options_.seed, k, static_cast<Index>(online_.size()), participants_);
    }
    for (Index& i : participants_) i = online_[static_cast<std::size_t>(i)];
  }

  // The first `groups` groups' sums added in group order: one group's own sum, or their total
  // (into scratch), the first assigned rather than added to zeros (as within a group).
  const Vector& sum_groups(std::size_t groups) {
    if (groups == 1 && !group_sum_[0].empty) return group_sum_[0].sum;
    bool first = true;
    for (std::size_t g = 0; g < groups; ++g) {
      if (group_sum_[g].empty) continue;
      if (first) {
        total_ = group_sum_[g].sum;
      } else {
        total_ += group_sum_[g].sum;
      }
      first = false;
    }
    if (first) total_.setZero();
    return total_;
  }

  Parts& parts_;
  const Options& options_;
  ThreadPool& pool_;
  Index workers_;
  bool apart_;
  Ledger ledger_;
  History history_;
  Vector theta_;
  Index round_ = 0;
  double time_ = 0;            // simulated time so far
  double step_sq_ = 0;         // ‖θ^{k+1} − θ^k‖² of the last round, under a skip rule
  TimeParts time_parts_;       // where the simulated time went
  Bits down_;                  // this round's downlink message
  Clock clock_;                // the cost model, resolved for these workers
  std::vector<Leg> legs_;      // this round's participants' times
  std::vector<char> counts_;   // whether each participant's upload counts
  double seconds_ = 0;         // this round's time, before a broadcast of the aggregate
  double idle_ = 0;            // of it, waiting for a worker to come online
  std::vector<Index> online_;  // the workers online when the round starts

  std::vector<typename Uplink::State> up_state_;  // the server's end of each worker's uplink
  typename Downlink::State down_state_;           // the broadcast channel's sending end
  typename Downlink::State down_mirror_;          // apart: the server's own receiving end
  std::optional<Bits> down_verbatim_;  // in process, a θ broadcast decoding to θ: its bits
  Vector model_;                       // θ^k as the workers decode it
  Vector broadcast_;  // broadcast_aggregate: the aggregate as the workers decoded it
  Vector aggregate_;  // ∇: the mean of the workers' latest contributions
  Vector total_;      // sum_groups()' scratch
  std::vector<Vector> contribution_;  // under a skip rule: each worker's last decoded upload
  Vector previous_theta_;             // under a skip rule: θ before the update
  // A group's weighted sum. Its first term is assigned rather than added to zeros: only the
  // sign of a zero can differ (−0 stays −0, where 0 + (−0) is +0), which no comparison of
  // numbers sees.
  struct GroupSum {
    Vector sum;
    bool empty = true;
    template <class V>
    void add(double weight, const V& v) {
      if (empty) {
        sum = weight * v;
      } else {
        sum += weight * v;
      }
      empty = false;
    }
  };
  std::vector<GroupSum> group_sum_;
  std::vector<double> group_loss_;
  std::vector<Index> participants_;  // this round's, ascending
  std::vector<char> contacted_;      // under a server-side skip rule: this round's decisions
};

}  // namespace laconic::sim
