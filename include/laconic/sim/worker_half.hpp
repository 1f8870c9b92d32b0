#pragma once

// The workers' half of a round, the same in process (sim/simulation.hpp) and over MPI
// (mpi/training.hpp): for each participant hosted here, its minibatches from its own stream
// (seed, k, worker, batch), its gradient or (periodic averaging) the change of its model after
// τ local steps, a skip rule's decision — worker-side (LAG-WK, LAQ, LASG-WK1/WK2) whether it
// uploads, server-side (LAG-PS, LASG-PS/PSE) what it learns of the contacted worker — and its
// upload through its own uplink channel. The server's half is sim/server_half.hpp.
//
// A link's two ends are either one state (in process: the server half's, which this half
// shares; an upload is sent and the server takes what it decodes) or kept apart (MPI: an
// upload is encoded into bytes for the server; under a skip rule, this half keeps a mirror of
// the server's end and of what it holds, for the rule to compare with).

#include <laconic/compress/channel.hpp>
#include <laconic/core/concepts.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/sim/composition.hpp>
#include <laconic/sim/server_half.hpp>
#include <laconic/sim/worker_compute.hpp>
#include <laconic/skip/skip_rule.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace laconic::sim {

template <class M, Objective Obj>
class WorkerHalf {
  using Parts = Composition<M>;
  using Uplink = typename Parts::Uplink;
  using Downlink = typename Parts::Downlink;
  static constexpr skip::Side side = Parts::side;
  static constexpr bool lazy = Parts::lazy;
  static constexpr bool local_steps = Parts::local_steps;
  static constexpr bool broadcasts_aggregate = Parts::broadcasts_aggregate;

 public:
  // Hosts the workers first, first + 1, ... of `workers` in all, whose objectives are given.
  // With `shared` (in process) the links' receiving ends, the contributions and θ^k are that
  // server half's; without (MPI) this half keeps its own, starting from θ^0.
  WorkerHalf(Parts& parts, std::vector<Obj> objectives, Index first, Index workers,
             const Vector& theta0, const Options& options, int threads, ServerHalf<M>* shared)
      : parts_(parts),
        options_(options),
        objectives_(std::move(objectives)),
        first_(first),
        workers_(workers),
        shared_(shared) {
    const Index p = theta0.size();
    Index largest = 0;
    for (const Obj& w : objectives_) largest = std::max(largest, w.size());
    scratch_.resize(static_cast<std::size_t>(threads));
    for (Scratch& s : scratch_) {
      s.gradient = Vector::Zero(p);
      s.decoded = Vector::Zero(p);
      s.extra = Vector::Zero(p);
      if constexpr (local_steps) s.local = Vector::Zero(p);
      s.backup = parts_.uplink.make_state(p);
      if (!shared_ && lazy) s.mirror_backup = parts_.uplink.make_state(p);
      s.sampler.resize(largest);
    }
    if (shared_) {
      verbatim_ = compress::verbatim(parts_.uplink, p);
      const bool exact_model = broadcasts_aggregate || compress::verbatim(parts_.downlink, p);
      if (!local_steps && HasFullGradient<Obj> && batch().is_full() && exact_model) {
        evaluations_.resize(objectives_.size());
      }
      return;
    }
    for (std::size_t j = 0; j < objectives_.size(); ++j) {
      senders_.push_back(parts_.uplink.make_state(p));
      if constexpr (lazy) {
        mirrors_.push_back(parts_.uplink.make_state(p));
        held_.push_back(Vector::Zero(p));
      }
    }
    down_state_ = parts_.downlink.make_state(p);
    model_ = Vector::Zero(p);
    theta_ = theta0;
    if constexpr (broadcasts_aggregate) broadcast_ = Vector::Zero(p);
  }

  // Apart: θ^k from the server's message of round k (under a broadcast aggregate, the
  // workers' own model, and `message` is not read).
  void receive_model(Index k, const Message& message) {
    if constexpr (broadcasts_aggregate) {
      model_ = theta_;
    } else {
      RandomStream rng = link_stream(options_.seed, k, workers_);
      parts_.downlink.decode(down_state_, message, model_, rng);
    }
  }
  // Apart, under a broadcast aggregate: round k's aggregate, applied to this rank's own model.
  void apply_aggregate(Index k, const Message& message) {
    RandomStream rng = link_stream(options_.seed, k, workers_);
    parts_.downlink.decode(down_state_, message, broadcast_, rng);
    parts_.server.update(k, broadcast_, theta_);
  }

  // Participant m's part of round k on thread t: its gradient and skip decision, or its local
  // steps; then its upload. In process, what the server decodes is left in decoded(t).
  void work(Index m, Index k, int t, Upload& out) {
    Scratch& s = scratch_[static_cast<std::size_t>(t)];
    const auto j = static_cast<std::size_t>(m - first_);
    out.fault = Fault::none;
    out.uploaded = false;
    out.bits = {};
    out.gradients = 0;
    out.report = 0;
    RandomStream batches(options_.seed, Purpose::batch, static_cast<std::uint64_t>(k),
                         static_cast<std::uint64_t>(m));
    RandomStream rng = link_stream(options_.seed, k, m);
    Obj& w = objectives_[j];
    Index b = 0;
    if constexpr (local_steps) {
      out.fault = local_change(w, m, parts_.server, options_.seed, k, model(), batches, s.sampler,
                               s.local, s.gradient, out.gradients);
    } else {
      b = s.sampler.draw(batch(), w.size(), batches);
      if constexpr (HasRandomness<Obj>) w.draw_from(objective_stream(options_.seed, k, m));
      out.fault = round_gradient(j, k, b, s);
    }
    Probe probe(*this, j, b, s, rng, out.message);
    if (out.fault == Fault::none) out.fault = decide_and_send(m, probe, out);
    if constexpr (!local_steps) {
      s.sampler.restore(batch(), b);
      out.gradients = 1 + probe.gradients();
    }
    if (out.fault != Fault::none || !out.uploaded) {
      probe.discard();
      out.uploaded = false;
      return;
    }
    if constexpr (lazy) {
      if (!shared_) held(j).swap(s.decoded);  // in process, ServerHalf::accept() keeps it
    }
  }
  Vector& decoded(int t) { return scratch_[static_cast<std::size_t>(t)].decoded; }

  // f_m(θ) and ∇f_m(θ) of hosted worker m over all its samples, on thread t, for the History.
  // In process, θ is θ^k of the coming round k: where that round computes the same full
  // gradient at the same θ^k, it takes this one instead (evaluations_).
  std::pair<double, const Vector&> evaluate(Index m, const Vector& theta, int t, Index k = -1) {
    Scratch& s = scratch_[static_cast<std::size_t>(t)];
    const auto j = static_cast<std::size_t>(m - first_);
    if (k < 0 || evaluations_.empty()) {
      return {full_loss_gradient(objectives_[j], m, theta, s.sampler, s.gradient), s.gradient};
    }
    Evaluation& e = evaluations_[j];
    e.loss = full_loss_gradient(objectives_[j], m, theta, s.sampler, e.gradient);
    e.round = k;
    return {e.loss, e.gradient};
  }
  // Drops what evaluate() kept (θ^k changed under it: a checkpoint was loaded).
  void forget_evaluations() {
    for (Evaluation& e : evaluations_) e.round = -1;
  }

  // Apart: hosted worker m's part of the run's state that only this half holds
  // (Composition::worker_part), for the server's checkpoint.
  template <class Io>
  void worker_part(Index m, Io& io) {
    parts_.worker_part(m, senders_[static_cast<std::size_t>(m - first_)], io);
  }
  // Apart: this half's state from `whole`, a server half restored from a checkpoint with the
  // same parts (which then hold the skip rule's and the server update's state): each hosted
  // worker's sending end (and, under a skip rule, the mirror of the server's end and what
  // the server holds), the downlink's receiving end and the workers' own model.
  void restore(const ServerHalf<M>& whole) {
    for (std::size_t j = 0; j < senders_.size(); ++j) {
      const Index m = first_ + static_cast<Index>(j);
      senders_[j] = whole.receiver(m);
      if constexpr (lazy) {
        mirrors_[j] = whole.receiver(m);
        held_[j] = whole.contribution(m);
      }
    }
    down_state_ = whole.downlink_state();
    model_ = whole.model();
    theta_ = whole.theta();
    if constexpr (broadcasts_aggregate) broadcast_ = whole.broadcast();
  }

  Index first() const { return first_; }
  Index size() const { return static_cast<Index>(objectives_.size()); }
  const std::vector<Obj>& objectives() const { return objectives_; }
  const Vector& model() const { return shared_ ? shared_->model() : model_; }

 private:
  struct Scratch {
    Vector gradient;
    Vector decoded;
    Vector extra;                            // a skip rule's second gradient
    Vector local;                            // the model of a worker's local steps
    typename Uplink::State backup{};         // the sending end before a tentative send
    typename Uplink::State mirror_backup{};  // apart: the mirrored receiving end before it
    Sampler sampler;
  };

  // What a skip rule sees of hosted worker j while it decides (skip/skip_rule.hpp).
  class Probe final : public skip::Probe {
   public:
    Probe(WorkerHalf& half, std::size_t j, Index b, Scratch& s, RandomStream& rng, Message& message)
        : half_(half), j_(j), b_(b), s_(s), rng_(rng), message_(message) {}

    const Vector& model() const override { return half_.model(); }
    const Vector& gradient() const override { return handed_over_ ? s_.decoded : s_.gradient; }
    Vector& gradient_at(const Vector& x) override {
      const Fault fault = half_.batch_gradient(j_, x, b_, s_, s_.extra);
      if (fault_ == Fault::none) fault_ = fault;
      ++gradients_;
      return s_.extra;
    }
    // A tentative send: undone by discard() if the worker does not upload after all.
    const Vector& candidate() override {
      if (!sent_) {
        s_.backup = half_.sender(j_);
        if constexpr (lazy) {
          if (!half_.shared_) s_.mirror_backup = half_.mirrors_[j_];
        }
        send();
      }
      return s_.decoded;
    }
    const Vector& contribution() const override {
      if constexpr (!lazy) {
        throw std::logic_error("contribution(): no skip rule keeps one");
      } else {
        return half_.held(j_);
      }
    }

    Bits commit() {
      if (!sent_) send();
      return bits_;
    }
    void discard() {
      if (!sent_) return;
      std::swap(half_.sender(j_), s_.backup);
      if constexpr (lazy) {
        if (!half_.shared_) std::swap(half_.mirrors_[j_], s_.mirror_backup);
      }
    }
    std::uint64_t gradients() const { return gradients_; }  // those the rule asked for
    Fault fault() const { return fault_; }                  // of the gradients the rule asked for

   private:
    // Through the shared state (in process); or encoded, and decoded by the mirror of the
    // server's end with the stream as the server will have it.
    void send() {
      sent_ = true;
      const Uplink& uplink = half_.parts_.uplink;
      if (half_.shared_ && half_.verbatim_) {
        // The server takes the sender's vector itself. A gradient was found finite when it
        // was computed; a local model's change was not checked yet.
        if constexpr (local_steps)
          compress::require_finite_input(all_finite(s_.gradient), "uplink");
        bits_ = *half_.verbatim_;
        s_.gradient.swap(s_.decoded);
        handed_over_ = true;
        return;
      }
      if (half_.shared_) {
        bits_ = uplink.send(half_.sender(j_), s_.gradient, s_.decoded, rng_);
        return;
      }
      RandomStream receivers = rng_;
      message_ = uplink.encode(half_.sender(j_), s_.gradient, rng_);
      bits_ = message_.bits;
      if constexpr (lazy) uplink.decode(half_.mirrors_[j_], message_, s_.decoded, receivers);
    }

    WorkerHalf& half_;
    std::size_t j_;
    Index b_;
    Scratch& s_;
    RandomStream& rng_;
    Message& message_;
    bool sent_ = false;
    bool handed_over_ = false;  // the gradient was sent verbatim: it is in s_.decoded now
    Bits bits_;
    std::uint64_t gradients_ = 0;
    Fault fault_ = Fault::none;
  };

  // The skip rule's decision for worker m and, if it uploads, its message; a message its
  // compressor cannot carry is a fault, not an exception.
  Fault decide_and_send(Index m, Probe& probe, Upload& out) {
    try {
      if constexpr (side == skip::Side::worker) {
        out.uploaded = parts_.skip.upload(m, probe);
      } else if constexpr (side == skip::Side::server) {
        out.bits = parts_.skip.serve(m, probe);
        out.report = parts_.skip.report(m);
        out.uploaded = true;
      } else {
        out.uploaded = true;
      }
      if (probe.fault() != Fault::none) return probe.fault();
      if (out.uploaded) out.bits += probe.commit();
    } catch (const std::domain_error&) {
      return Fault::message;
    }
    return Fault::none;
  }

  const server::Batch& batch() const { return parts_.server.params().batch; }

  // Round k's gradient of hosted worker j at model() into s.gradient: the History's at θ^k if
  // evaluate() kept it for round k (the same full gradient at the same point, bit for bit),
  // else computed over the b samples just drawn.
  Fault round_gradient(std::size_t j, Index k, Index b, Scratch& s) {
    if (!evaluations_.empty() && evaluations_[j].round == k) {
      Evaluation& e = evaluations_[j];
      e.round = -1;
      s.gradient.swap(e.gradient);
      // The round's own gradient would skip the loss where the objective can.
      return fault_of(HasFullGradientOnly<Obj> ? 0.0 : e.loss, s.gradient);
    }
    return batch_gradient(j, model(), b, s, s.gradient);
  }

  // The mean gradient of hosted worker j at x over the b samples just drawn, written to g.
  Fault batch_gradient(std::size_t j, const Vector& x, Index b, Scratch& s, Vector& g) {
    return sim::batch_gradient(objectives_[j], first_ + static_cast<Index>(j), batch(), x,
                               s.sampler, b, g);
  }

  typename Uplink::State& sender(std::size_t j) {
    return shared_ ? shared_->receiver(first_ + static_cast<Index>(j)) : senders_[j];
  }
  const Vector& held(std::size_t j) const {
    return shared_ ? shared_->contribution(first_ + static_cast<Index>(j)) : held_[j];
  }
  Vector& held(std::size_t j) {
    return shared_ ? shared_->contribution(first_ + static_cast<Index>(j)) : held_[j];
  }

  Parts& parts_;
  const Options& options_;
  std::vector<Obj> objectives_;
  Index first_;
  Index workers_;  // M, all workers of the run
  ServerHalf<M>* shared_;
  std::vector<Scratch> scratch_;  // one per thread
  std::optional<Bits> verbatim_;  // in process, an uplink decoding to the sent vector: its bits
  // In process, where a full-batch round computes its gradients at the exact θ^k (no local
  // steps, the objectives' own full gradient, θ^k reaching the workers unchanged): each hosted
  // worker's full gradient at θ^round from the History's row, until round `round` takes it.
  // A p-vector per worker, so that the row costs no gradient of its own.
  struct Evaluation {
    Index round = -1;
    double loss = 0;
    Vector gradient;
  };
  std::vector<Evaluation> evaluations_;

  // Apart (MPI): this half's own ends.
  std::vector<typename Uplink::State> senders_;  // each hosted worker's sending end
  std::vector<typename Uplink::State> mirrors_;  // under a skip rule: the server's end, mirrored
  std::vector<Vector> held_;                     // and what the server holds from the worker
  typename Downlink::State down_state_;          // the broadcast's receiving end
  Vector model_;                                 // θ^k as decoded
  Vector theta_;      // under a broadcast aggregate: the workers' own model
  Vector broadcast_;  // and the aggregate as decoded
};

}  // namespace laconic::sim
