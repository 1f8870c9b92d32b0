#pragma once

// What a worker computes in a round — its minibatch, its gradient, its local steps — and the
// fixed order in which the server sums per-worker quantities (sim/worker_half.hpp and
// sim/server_half.hpp, the round engine under both transports).

#include <laconic/core/concepts.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>
#include <laconic/server/server_update.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

namespace laconic::sim {

// Consecutive workers are summed in at most this many groups, each in worker order, then the
// groups in order; a constant, so that the order does not depend on the number of threads or
// of MPI ranks.
inline constexpr std::size_t max_groups = 64;

// The first item of group g when `count` items are split into `groups` groups.
inline std::size_t group_begin(std::size_t g, std::size_t count, std::size_t groups) {
  return g * count / groups;
}

// Draws minibatches: the first b entries of `order` after a partial Fisher–Yates shuffle from
// the worker's stream, undone by restore(), so that one Sampler serves every worker in turn
// with no per-worker state.
class Sampler {
 public:
  Sampler() = default;
  explicit Sampler(Index largest) { resize(largest); }

  void resize(Index largest) {
    order_.resize(static_cast<std::size_t>(largest));
    std::iota(order_.begin(), order_.end(), Index{0});
    swaps_.resize(static_cast<std::size_t>(largest));
  }

  // Draws the next minibatch of a worker with n samples and returns its size b (all n, in
  // order, for a full batch).
  Index draw(const server::Batch& batch, Index n, RandomStream& rng) {
    if (batch.is_full()) return n;
    const Index b = batch.size_for(n);
    for (Index i = 0; i < b; ++i) {
      const auto j = i + static_cast<Index>(rng.below(static_cast<std::uint64_t>(n - i)));
      swaps_[static_cast<std::size_t>(i)] = j;
      std::swap(order_[static_cast<std::size_t>(i)], order_[static_cast<std::size_t>(j)]);
    }
    return b;
  }
  void restore(const server::Batch& batch, Index b) {
    if (batch.is_full()) return;
    for (Index i = b - 1; i >= 0; --i) {
      std::swap(order_[static_cast<std::size_t>(i)],
                order_[static_cast<std::size_t>(swaps_[static_cast<std::size_t>(i)])]);
    }
  }
  // The drawn minibatch (between draw() and restore()), or 0..b−1 otherwise.
  std::span<const Index> first(Index b) const {
    return {order_.data(), static_cast<std::size_t>(b)};
  }

 private:
  std::vector<Index> order_;  // 0..n−1 between draws
  std::vector<Index> swaps_;
};

// What stops a worker's part of a round: a non-finite loss (where the objective computed
// one) or gradient, or an upload its compressor cannot carry (a finite vector whose norm or
// values overflow the wire, std::domain_error). The run then ends as diverged, naming the
// worker.
enum class Fault : std::uint8_t { none, loss, gradient, message };

inline const char* to_string(Fault fault) {
  switch (fault) {
    case Fault::none:
      return "none";
    case Fault::loss:
      return "loss";
    case Fault::gradient:
      return "gradient";
    case Fault::message:
      return "message";
  }
  return "?";
}

// Refuses a gradient of another size than the objective's dim(): a mistake in an objective
// (core/concepts.hpp's contract), named with its worker rather than read past a vector's end.
template <Objective Obj>
void require_gradient_size(const Obj& w, const Vector& g, Index worker) {
  if (g.size() != w.dim()) {
    throw std::logic_error(
        fmt::format("the objective of worker {} wrote a gradient of size {}, but its dim() is {}",
                    worker, g.size(), w.dim()));
  }
}

// What of a computed loss and gradient is not finite, if anything.
inline Fault fault_of(double loss, const Vector& g) {
  if (!std::isfinite(loss)) return Fault::loss;
  return all_finite(g) ? Fault::none : Fault::gradient;
}

// The mean gradient of worker m's objective w at x over the drawn batch of b samples, written
// to g (the minibatch loss is not needed, so it is not computed where the objective can skip
// it). Returns what was not finite, if anything.
template <Objective Obj>
Fault batch_gradient(Obj& w, Index m, const server::Batch& batch, const Vector& x,
                     const Sampler& sampler, Index b, Vector& g) {
  double loss = 0;  // finite unless computed and not
  if constexpr (HasFullGradient<Obj>) {
    if (batch.is_full()) {
      if constexpr (HasFullGradientOnly<Obj>) {
        w.full_gradient_only(x, g);
      } else {
        loss = w.full_gradient(x, g);
      }
    }
  }
  if (!HasFullGradient<Obj> || !batch.is_full()) {
    if constexpr (HasGradientOnly<Obj>) {
      w.gradient_only(x, sampler.first(b), g);
    } else {
      loss = w.gradient(x, sampler.first(b), g);
    }
  }
  require_gradient_size(w, g, m);
  return fault_of(loss, g);
}

// The stream worker m's objective draws from (HasRandomness) for its minibatch of round k, or
// of local step t: one stream per (seed, k, m), from word t·2³² on.
inline RandomStream objective_stream(std::uint64_t seed, Index k, Index m, Index t = 0) {
  RandomStream stream(seed, Purpose::objective, static_cast<std::uint64_t>(k),
                      static_cast<std::uint64_t>(m));
  stream.seek(static_cast<std::uint64_t>(t) << 32);
  return stream;
}

// τ local SGD steps of worker m from `model` in round k of a run with this seed, each on its
// next minibatch; leaves the model's change in `change` and the local model in `local`, and
// counts the minibatch gradients in `gradients`. Returns what was not finite, if anything.
template <Objective Obj, class Server>
Fault local_change(Obj& w, Index m, const Server& server, std::uint64_t seed, Index k,
                   const Vector& model, RandomStream& batches, Sampler& sampler, Vector& local,
                   Vector& change, std::uint64_t& gradients) {
  const server::Batch& batch = server.params().batch;
  local = model;
  for (Index t = 0; t < server.params().local_steps; ++t) {
    const Index b = sampler.draw(batch, w.size(), batches);
    if constexpr (HasRandomness<Obj>) w.draw_from(objective_stream(seed, k, m, t));
    const Fault fault = batch_gradient(w, m, batch, local, sampler, b, change);
    sampler.restore(batch, b);
    ++gradients;
    if (fault != Fault::none) return fault;
    local.noalias() -= server.step(k, t) * change;
  }
  change = local - model;
  return Fault::none;
}

// f_m(θ) and ∇f_m(θ) over all of worker m's samples, for the History (measurement, not
// training: never charged to the ledger). `sampler` must be between draws.
template <Objective Obj>
double full_loss_gradient(Obj& w, Index m, const Vector& theta, const Sampler& sampler, Vector& g) {
  double loss = 0;
  if constexpr (HasFullGradient<Obj>) {
    loss = w.full_gradient(theta, g);
  } else {
    loss = w.gradient(theta, sampler.first(w.size()), g);
  }
  require_gradient_size(w, g, m);
  return loss;
}

}  // namespace laconic::sim
