#pragma once

// What every skip rule (lazy aggregation) shares: its side, what it learns when a run starts,
// the window of recent model steps its thresholds are built from, and the contract the round
// engine calls it through (the SkipRule concept below; docs/skip-rules.md shows how to write
// one).
//
// Conventions (docs/skip-rules.md): the objective is the average f = (1/M) Σ f_m and the server
// steps θ ← θ − η ∇ with ∇ the mean of the workers' latest contributions. LAG's threshold
// 1/(α²M²) in the papers' sum convention is then 1/η², LASG's c = 1/η², and every rule
// compares a squared distance with
//
//   RHS^k = c · Σ_{d=1}^{D} ξ_d ‖θ^{k+1−d} − θ^{k−d}‖²,   θ^{−d} = θ^0 (missing steps are 0).
//
// The contract, for a rule R:
//   struct Params {...};  static constexpr Side side;
//   void start(const Setup&)                       allocates the per-worker state
//   void begin_round(Index k, const Vector& theta) once per round, before any worker
//   worker side:  bool upload(Index m, Probe& p)    decides after m's fresh gradient and
//                                                  records the outcome in m's state
//                 void worker_state(Index m, Io&)   m's own part of state(): over MPI the
//                                                  rank hosting m keeps it, and a checkpoint
//                                                  collects it from there
//   server side:  bool contact(Index m, const Vector& theta) const
//                 Bits serve(Index m, Probe& p)     m was contacted and computed; returns the
//                                                  bits it uploads beside its message. Runs
//                                                  where m's data is: in process, or on the
//                                                  MPI rank hosting m (that rank's copy)
//                 double report(Index m) const      what serve() learned of m that the server
//                                                  needs (LASG-PSE's L̂_m; 0 if nothing)
//                 Bits receive(Index m, const Vector& theta, double report)
//                                                  the server's side of serve() over MPI: the
//                                                  same state change and bits, from the report
//                 void pass(Index m)                m was not contacted
//   void end_round(double step_sq)                 ‖θ^{k+1} − θ^k‖² after the update
//   void state(Io&)                                its state, for checkpoints (core/archive.hpp)
//   std::string describe() const
// Calls for different workers may run concurrently; each touches only its worker's state.

#include <laconic/core/archive.hpp>
#include <laconic/core/bits.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/types.hpp>

#include <cmath>
#include <concepts>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace laconic::skip {

// What a rule may look at of worker m while it decides; the round engine provides it.
class Probe {
 public:
  // θ^k as the worker received it.
  virtual const Vector& model() const = 0;
  // Its fresh gradient ∇ℓ(θ^k; ξ_m^k).
  virtual const Vector& gradient() const = 0;
  // ∇ℓ(x; ξ_m^k) on the same minibatch, counted in the ledger (valid until the next call).
  virtual Vector& gradient_at(const Vector& x) = 0;
  // What the server would hold for m after an upload, compressed and decoded: a tentative
  // send through m's uplink, kept if the rule uploads and undone if it does not.
  virtual const Vector& candidate() = 0;
  // What the server holds for m now: its last decoded upload (worker-side rules).
  virtual const Vector& contribution() const = 0;

 protected:
  ~Probe() = default;
};

// Who evaluates the rule: nobody (every worker uploads), the worker after computing its
// gradient (saves uploads), or the server before sending θ (saves downloads and computation).
enum class Side { none, worker, server };

// What a rule learns about the run when it starts.
struct Setup {
  Index workers = 0;
  Index dim = 0;
  double step = 0;                   // η₀, the server's first step size
  std::vector<double> smoothness{};  // L_m of each worker when the objective knows it
  // M·w_m of each worker, w_m its weight in f = Σ_m w_m f_m (sim::Weighting); empty or all
  // 1 for the plain mean.
  std::vector<double> weights{};
  int float_bits = 64;  // the width of a float on the method's links (Method::float_bits)
};

// What a rule compares worker m's own quantity with. Worker m's share of the aggregate is
// w_m δ_m, so the rules bound (M·w_m)²‖δ_m‖² by their RHS, as LAG's sum form does with shards
// of unequal sizes: ‖δ_m‖² against RHS/(M·w_m)², the RHS itself for the plain mean.
class WorkerThresholds {
 public:
  void start(const Setup& setup) {
    inverse_sq_.clear();
    for (const double w : setup.weights) inverse_sq_.push_back(1 / (w * w));
  }
  double operator()(Index m, double rhs) const {
    return inverse_sq_.empty() ? rhs : rhs * inverse_sq_[static_cast<std::size_t>(m)];
  }

 private:
  std::vector<double> inverse_sq_;
};

// The squared lengths of the last `length` model steps; older ones count as 0. The sum is
// kept incrementally, O(1) per round, and recomputed exactly each time the ring wraps so
// that rounding cannot accumulate.
class Window {
 public:
  explicit Window(Index length = 1) : steps_(static_cast<std::size_t>(length), 0.0) {
    require_param(length >= 1, "window length (D or d_max)", length, ">= 1");
  }

  void push(double step_sq) {
    sum_ += step_sq - steps_[next_];
    steps_[next_] = step_sq;
    if (++next_ == steps_.size()) {
      next_ = 0;
      sum_ = 0;
      for (double s : steps_) sum_ += s;
    }
    if (filled_ < length()) ++filled_;
  }

  // Σ_{d=1}^{length} ‖θ^{k+1−d} − θ^{k−d}‖².
  double sum() const { return sum_; }
  Index length() const { return static_cast<Index>(steps_.size()); }
  Index filled() const { return filled_; }  // steps pushed so far, at most length()

  template <class Io>
  void state(Io& io) {
    const Index length = this->length();
    io(steps_);
    io(next_);
    io(sum_);
    io(filled_);
    // Reading (an Io that can fail): the length is the rule's parameter, and a ring position
    // beyond it would index past the steps.
    if constexpr (requires { io.fail(""); }) {
      if (this->length() != length || next_ >= steps_.size() || filled_ < 0 || filled_ > length) {
        io.fail(fmt::format("a window of length {} (next {}, filled {}), this rule's has {}",
                            this->length(), next_, filled_, length));
      }
    }
  }

 private:
  std::vector<double> steps_;  // a ring; steps_[next_] is the oldest, replaced next
  std::size_t next_ = 0;
  double sum_ = 0;
  Index filled_ = 0;
};

// The threshold scale c: given, or c_eta2/η₀² (default 1/η₀²; docs/skip-rules.md, Conventions).
inline void require_scale(const std::optional<double>& c, const std::optional<double>& c_eta2) {
  if (c) require_param(std::isfinite(*c) && *c >= 0, "c", *c, ">= 0 and finite");
  if (c_eta2) {
    require_param(std::isfinite(*c_eta2) && *c_eta2 >= 0, "c_eta2", *c_eta2, ">= 0 and finite");
    require_param(!c, "c_eta2", *c_eta2, "unset when c is given (c = c_eta2/eta^2)");
  }
}
// The scale as a rule describes itself: resolved once it has started (NaN before), else as
// given.
inline std::string describe_scale(double resolved, const std::optional<double>& c,
                                  const std::optional<double>& c_eta2) {
  if (!std::isnan(resolved)) return fmt::format("c={}", resolved);
  if (c) return fmt::format("c={}", *c);
  return c_eta2 ? fmt::format("c_eta2={}", *c_eta2) : "c=auto";
}
inline double resolve_scale(const std::optional<double>& c, const std::optional<double>& c_eta2,
                            const Setup& setup) {
  if (c) return *c;
  require_param(std::isfinite(setup.step) && setup.step > 0,
                "server step size (for c = c_eta2/eta^2)", setup.step,
                "positive; or give the skip rule's c explicitly");
  return c_eta2.value_or(1) / (setup.step * setup.step);
}

// Each given L_m is finite and non-negative (their count is checked once n is known).
inline void require_smoothness(const std::vector<double>& l) {
  for (std::size_t m = 0; m < l.size(); ++m) {
    require_param(std::isfinite(l[m]) && l[m] >= 0, fmt::format("smoothness[{}]", m), l[m],
                  ">= 0 and finite");
  }
}

// L_m for every worker, from the rule's parameters or else from the objectives.
inline std::vector<double> resolve_smoothness(const std::vector<double>& given, const Setup& setup,
                                              std::string_view rule) {
  const std::vector<double>& l = given.empty() ? setup.smoothness : given;
  if (l.empty()) {
    throw std::invalid_argument(fmt::format(
        "{} needs each worker's smoothness constant L_m: set Params::smoothness or use an "
        "objective with smoothness()",
        rule));
  }
  require_param(static_cast<Index>(l.size()) == setup.workers, "smoothness.size()", l.size(),
                fmt::format("equal to the number of workers, {}", setup.workers));
  require_smoothness(l);
  return l;
}

// Per worker: the model at its last upload and τ_m, the rounds since (1 right after an
// upload, as LASG counts it after its eq. 6; 0 before the first). O(M·p), as the papers' servers
// keep.
class LastUploads {
 public:
  void start(const Setup& setup) {
    models_.assign(static_cast<std::size_t>(setup.workers), Vector::Zero(setup.dim));
    staleness_.assign(static_cast<std::size_t>(setup.workers), 0);
  }

  bool never(Index m) const { return staleness(m) == 0; }
  Index staleness(Index m) const { return staleness_[static_cast<std::size_t>(m)]; }
  const Vector& model(Index m) const { return models_[static_cast<std::size_t>(m)]; }
  double distance_sq(Index m, const Vector& theta) const {
    return (theta - model(m)).squaredNorm();
  }

  void uploaded(Index m, const Vector& theta) {
    models_[static_cast<std::size_t>(m)] = theta;
    staleness_[static_cast<std::size_t>(m)] = 1;
  }
  void skipped(Index m) {
    Index& tau = staleness_[static_cast<std::size_t>(m)];
    if (tau > 0) ++tau;
  }

  template <class Io>
  void state(Io& io) {
    io(models_);
    io(staleness_);
  }
  template <class Io>
  void worker_state(Index m, Io& io) {
    io(models_[static_cast<std::size_t>(m)]);
    io(staleness_[static_cast<std::size_t>(m)]);
  }

 private:
  std::vector<Vector> models_;
  std::vector<Index> staleness_;
};

// The server side of a rule that learns nothing of a contacted worker but that it computed at
// θ^k (LAG-PS, LASG-PS): the SkipRule members serve(), report(), receive() and pass() over the
// models of the workers' last uploads.
class RecordsUploads {
 public:
  Bits serve(Index m, Probe& p) { return receive(m, p.model(), 0); }
  double report(Index) const { return 0; }
  Bits receive(Index m, const Vector& theta, double /*report*/) {
    last_.uploaded(m, theta);
    return {};
  }
  void pass(Index m) { last_.skipped(m); }

 protected:
  LastUploads last_;  // θ^{k−τ_m} and τ_m, kept by the server
};

namespace detail {

// Stands in for a rule on the other side, so that a side's requirements are checked on R
// itself (and the compiler names the missing expression) only when R is on that side.
struct AnySide {
  bool upload(Index, Probe&);
  template <class Io>
  void worker_state(Index, Io&);
  bool contact(Index, const Vector&) const;
  Bits serve(Index, Probe&);
  double report(Index) const;
  Bits receive(Index, const Vector&, double);
  void pass(Index);
};
template <class R, Side S>
using OnSide = std::conditional_t<R::side == S, R, AnySide>;

}  // namespace detail

// The contract of a skip rule (above), checked where a method is run.
template <class R>
concept SkipRule = requires(R& r, const R& cr, const Setup& setup, Index k, Index m,
                            const Vector& theta, double step_sq, ArchiveWriter& writer,
                            ArchiveReader& reader, Probe& p,
                            detail::OnSide<R, Side::worker>& worker,
                            detail::OnSide<R, Side::server>& server,
                            const detail::OnSide<R, Side::server>& cserver) {
  typename R::Params;
  { R::side } -> std::convertible_to<Side>;
  r.start(setup);
  r.begin_round(k, theta);
  r.end_round(step_sq);
  r.state(writer);
  r.state(reader);
  { cr.describe() } -> std::convertible_to<std::string>;
  { worker.upload(m, p) } -> std::convertible_to<bool>;
  worker.worker_state(m, writer);
  worker.worker_state(m, reader);
  { cserver.contact(m, theta) } -> std::convertible_to<bool>;
  { server.serve(m, p) } -> std::same_as<Bits>;
  { cserver.report(m) } -> std::convertible_to<double>;
  { server.receive(m, theta, step_sq) } -> std::same_as<Bits>;
  server.pass(m);
};

}  // namespace laconic::skip
