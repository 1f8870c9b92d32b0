#pragma once

// What every server update shares: the shape of its round, step-size schedules and batch
// sizes. The contract, for a server update U (the ServerUpdate concept below, checked where a
// method is run; docs/server-updates.md shows how to write one):
//   struct Params { StepSize step; Batch batch; Participation participation; ... };
//   static constexpr Shape shape;
//   const Params& params() const
//   void update(Index k, const Vector& mean, Vector& theta)
//       mean is the average over the round's participants of what they uploaded, as decoded
//       (under a skip rule, of every worker's latest contribution); for broadcast_aggregate,
//       that average as the workers decoded it from the broadcast
//   local_steps only: double step(Index k, Index t) const, and Params::local_steps (τ)
//   void state(Io&)      its state, for checkpoints (core/archive.hpp)
//   std::string describe() const

#include <laconic/core/archive.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/types.hpp>
#include <laconic/server/participation.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <string>
#include <type_traits>

namespace laconic::server {

// The shape of a round. gradient: the server broadcasts θ^k, participants upload a
// (minibatch) gradient, the server steps θ. local_steps: the server broadcasts θ^k,
// participants upload the change of their model after τ local steps. broadcast_aggregate:
// the workers hold the model; they upload gradients and the server broadcasts their
// aggregate, which every worker applies to its model (CD-Adam).
enum class Shape { gradient, local_steps, broadcast_aggregate };

// η_k as a function of the round k = 0, 1, ...
struct StepSize {
  enum class Kind { constant, inverse_time, strongly_convex };
  Kind kind = Kind::constant;
  double eta = 0.1;  // η (constant) or η₀ (inverse_time)
  double k0 = 1;     // inverse_time: η_k = η₀ / (1 + k/k₀)
  double mu = 1;     // strongly_convex: η_k = 2 / (μ (k + K₀))
  double K0 = 1;

  static StepSize constant(double eta) { return {.kind = Kind::constant, .eta = eta}; }
  static StepSize inverse_time(double eta0, double k0) {
    return {.kind = Kind::inverse_time, .eta = eta0, .k0 = k0};
  }
  static StepSize strongly_convex(double mu, double K0) {
    return {.kind = Kind::strongly_convex, .mu = mu, .K0 = K0};
  }

  // Each parameter by name, for methods chosen by name (runtime/spec.hpp): the kind, with the
  // parameters each kind reads and the kind a bare number chooses (as its first parameter).
  template <class V>
  void fields(V&& v) {
    v.kind(
        kind,
        {{"constant", {"eta"}}, {"inverse_time", {"eta", "k0"}}, {"strongly_convex", {"mu", "K0"}}},
        Kind::constant);
    v("eta", eta);
    v("k0", k0);
    v("mu", mu);
    v("K0", K0);
  }

  void validate() const {
    switch (kind) {
      case Kind::constant:
        require_positive_finite("step.eta", eta);
        break;
      case Kind::inverse_time:
        require_positive_finite("step.eta", eta);
        require_positive_finite("step.k0", k0);
        break;
      case Kind::strongly_convex:
        require_positive_finite("step.mu", mu);
        require_positive_finite("step.K0", K0);
        break;
      default:
        require_param(false, "step.kind", static_cast<int>(kind),
                      "constant, inverse_time or strongly_convex");
    }
  }

  double at(Index k) const {
    const auto kd = static_cast<double>(k);
    switch (kind) {
      case Kind::constant:
        return eta;
      case Kind::inverse_time:
        return eta / (1 + kd / k0);
      case Kind::strongly_convex:
        return 2 / (mu * (kd + K0));
    }
    return eta;
  }

  std::string describe() const {
    switch (kind) {
      case Kind::constant:
        return fmt::format("constant(eta={})", eta);
      case Kind::inverse_time:
        return fmt::format("inverse_time(eta0={}, k0={})", eta, k0);
      case Kind::strongly_convex:
        return fmt::format("strongly_convex(mu={}, K0={})", mu, K0);
    }
    return {};
  }
};

// How many of its samples a worker uses per gradient.
struct Batch {
  enum class Kind { full, samples, fraction };
  Kind kind = Kind::full;
  Index samples = 0;    // Kind::samples: this many, without replacement
  double fraction = 1;  // Kind::fraction: ⌈fraction · n_m⌉

  static Batch full() { return {}; }
  static Batch of(Index samples) { return {.kind = Kind::samples, .samples = samples}; }
  static Batch share(double fraction) { return {.kind = Kind::fraction, .fraction = fraction}; }

  // Each parameter by name, for methods chosen by name (runtime/spec.hpp): the kind, with the
  // parameters each kind reads and the kind a bare number chooses (as its first parameter).
  template <class V>
  void fields(V&& v) {
    v.kind(kind, {{"full", {}}, {"samples", {"samples"}}, {"fraction", {"fraction"}}},
           Kind::samples);
    v("samples", samples);
    v("fraction", fraction);
  }

  void validate() const {
    const int k = static_cast<int>(kind);
    require_param(k >= 0 && k <= 2, "batch.kind", k, "full, samples or fraction");
    if (kind == Kind::samples) require_param(samples >= 1, "batch.samples", samples, ">= 1");
    if (kind == Kind::fraction) {
      require_param(fraction > 0 && fraction <= 1, "batch.fraction", fraction, "in (0, 1]");
    }
  }

  // The batch size for a worker holding n samples; full batches use all of them.
  Index size_for(Index n) const {
    switch (kind) {
      case Kind::full:
        return n;
      case Kind::samples:
        return samples;
      case Kind::fraction:
        return std::max<Index>(1, static_cast<Index>(std::ceil(fraction * static_cast<double>(n))));
    }
    return n;
  }
  bool is_full() const { return kind == Kind::full; }

  std::string describe() const {
    switch (kind) {
      case Kind::full:
        return "full";
      case Kind::samples:
        return fmt::format("{}", samples);
      case Kind::fraction:
        return fmt::format("{}*n", fraction);
    }
    return {};
  }
};

namespace detail {

// Stands in for an update of another shape, so that the local-step requirements are checked
// on U itself (and the compiler names the missing one) only when U takes local steps.
struct AnyShape {
  struct Params {
    Index local_steps;
  };
  const Params& params() const;
  double step(Index, Index) const;
};
template <class U>
using WithLocalSteps = std::conditional_t<U::shape == Shape::local_steps, U, AnyShape>;

}  // namespace detail

// The contract of a server update (above), checked where a method is run.
template <class U>
concept ServerUpdate = requires(U& u, const U& cu, Index k, const Vector& mean, Vector& theta,
                                ArchiveWriter& writer, ArchiveReader& reader,
                                const detail::WithLocalSteps<U>& local) {
  typename U::Params;
  { U::shape } -> std::convertible_to<Shape>;
  { cu.params().step } -> std::convertible_to<StepSize>;
  { cu.params().batch } -> std::convertible_to<Batch>;
  { cu.params().participation } -> std::convertible_to<Participation>;
  u.update(k, mean, theta);
  u.state(writer);
  u.state(reader);
  { cu.describe() } -> std::convertible_to<std::string>;
  { local.step(k, k) } -> std::convertible_to<double>;
  { local.params().local_steps } -> std::convertible_to<Index>;
};

}  // namespace laconic::server
