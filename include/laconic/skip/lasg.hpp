#pragma once

// LASG — lazily aggregated stochastic gradients (Chen, Sun, Yin, IEEE TSP 2021;
// docs/skip-rules.md). Each worker's contribution is its last uploaded stochastic gradient
// ∇ℓ(θ^{k−τ_m}; ξ_m^{k−τ_m}); the rules compare a quantity that, unlike LAG's, is not
// dominated by minibatch noise with
//
//   RHS^k = (c/d_max) Σ_{d=1}^{d_max} ‖θ^{k+1−d} − θ^{k−d}‖²,   c = 1/η² by default,
//
// and an upload is forced when a worker's contribution gets D rounds old. Ties skip.
//
//   LasgWk1 (eq. 9, worker)   ‖δ̃_m^k − δ̃_m^{k−τ}‖² with δ̃_m^k = ∇ℓ(θ^k; ξ^k) − ∇ℓ(θ̃; ξ^k), the
//                             snapshot θ̃ refreshed, and every worker forced, when k mod D = 0
//   LasgWk2 (eq. 12, worker)  ‖∇ℓ(θ^k; ξ^k) − ∇ℓ(θ^{k−τ}; ξ^k)‖², one fresh sample at both points
//   LasgPs  (eq. 14, server)  L_m² ‖θ^k − θ^{k−τ}‖² with known smoothness L_m
//   LasgPse (eqs. 16–17)      L̂_m² ‖θ^k − θ^{k−τ}‖², L̂_m the largest ratio
//                             ‖∇ℓ(θ^k; ξ) − ∇ℓ(θ^{k−τ}; ξ)‖ / ‖θ^k − θ^{k−τ}‖ seen so far,
//                             measured and uploaded (32 bits) by the worker when contacted
// Forcing at τ_m ≥ D also covers k = 0 (τ_m^0 = D, so every worker starts by uploading).
// WK1 and WK2 evaluate a second gradient only when not forced; the ledger counts it.

#include <laconic/skip/skip_rule.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace laconic::skip {

struct LasgThreshold {
  Index D = 100;                   // forced upload at staleness D (WK1: every D rounds)
  Index d_max = 10;                // steps in the window
  std::optional<double> c{};       // scale; default c_eta2/η₀²
  std::optional<double> c_eta2{};  // c·η₀², a scale that follows the step; default 1

  // Each parameter by name, for methods chosen by name (runtime/spec.hpp).
  template <class V>
  void fields(V&& v) {
    v("D", D);
    v("d_max", d_max);
    v("c", c);
    v("c_eta2", c_eta2);
  }

  void validate() const {
    require_param(D >= 1, "D", D, ">= 1");
    require_param(d_max >= 1, "d_max", d_max, ">= 1");
    require_scale(c, c_eta2);
  }
  double weight(const Setup& setup) const {
    return resolve_scale(c, c_eta2, setup) / static_cast<double>(d_max);
  }
  std::string describe(double weight) const {  // weight: NaN before the rule starts
    return fmt::format("D={}, d_max={}, {}", D, d_max,
                       describe_scale(weight * static_cast<double>(d_max), c, c_eta2));
  }
};

// The window and threshold every LASG rule keeps.
class LasgWindow {
 public:
  void start(const LasgThreshold& t, const Setup& setup) {
    weight_ = t.weight(setup);
    window_ = Window(t.d_max);
    thresholds_.start(setup);
  }
  void begin_round() { rhs_ = weight_ * window_.sum(); }
  void end_round(double step_sq) { window_.push(step_sq); }
  double rhs() const { return rhs_; }
  double rhs(Index m) const { return thresholds_(m, rhs_); }  // what worker m's is compared with
  double weight() const { return weight_; }
  template <class Io>
  void state(Io& io) {
    io(window_);
  }

 private:
  double weight_ = std::numeric_limits<double>::quiet_NaN();  // c / d_max, once started
  Window window_;
  WorkerThresholds thresholds_;
  double rhs_ = 0;
};

class LasgWk1 {
 public:
  using Params = LasgThreshold;
  static constexpr Side side = Side::worker;

  LasgWk1() : LasgWk1(Params{}) {}
  explicit LasgWk1(const Params& params) : params_(params) { params_.validate(); }

  void start(const Setup& setup) {
    window_.start(params_, setup);
    snapshot_ = Vector::Zero(setup.dim);
    stored_.assign(static_cast<std::size_t>(setup.workers), Vector::Zero(setup.dim));
  }
  // `model` is θ^k as the workers received it.
  void begin_round(Index k, const Vector& model) {
    window_.begin_round();
    refresh_ = k % params_.D == 0;
    if (refresh_) snapshot_ = model;
  }
  void end_round(double step_sq) { window_.end_round(step_sq); }

  bool upload(Index m, Probe& p) {
    Vector& stored = stored_[static_cast<std::size_t>(m)];
    if (refresh_) {  // θ̃ = θ^k, so δ̃_m^k = 0
      stored.setZero();
      return true;
    }
    Vector& innovation = p.gradient_at(snapshot_);
    innovation = p.gradient() - innovation;  // δ̃_m^k
    const bool up = (innovation - stored).squaredNorm() > window_.rhs(m);
    if (up) stored = innovation;
    return up;
  }

  double threshold() const { return window_.rhs(); }
  std::string describe() const {
    return fmt::format("lasg_wk1({})", params_.describe(window_.weight()));
  }
  template <class Io>
  void state(Io& io) {
    io(window_);
    io(snapshot_);
    io(stored_);
  }
  template <class Io>
  void worker_state(Index m, Io& io) {
    io(stored_[static_cast<std::size_t>(m)]);
  }

 private:
  Params params_;
  LasgWindow window_;
  Vector snapshot_;             // θ̃
  bool refresh_ = false;        // this round refreshes θ̃ and forces every upload
  std::vector<Vector> stored_;  // δ̃_m at m's last upload
};

class LasgWk2 {
 public:
  using Params = LasgThreshold;
  static constexpr Side side = Side::worker;

  LasgWk2() : LasgWk2(Params{}) {}
  explicit LasgWk2(const Params& params) : params_(params) { params_.validate(); }

  void start(const Setup& setup) {
    window_.start(params_, setup);
    last_.start(setup);
  }
  void begin_round(Index, const Vector&) { window_.begin_round(); }
  void end_round(double step_sq) { window_.end_round(step_sq); }

  bool upload(Index m, Probe& p) {
    const bool up = last_.never(m) || last_.staleness(m) >= params_.D ||
                    (p.gradient() - p.gradient_at(last_.model(m))).squaredNorm() > window_.rhs(m);
    if (up) {
      last_.uploaded(m, p.model());
    } else {
      last_.skipped(m);
    }
    return up;
  }

  double threshold() const { return window_.rhs(); }
  const LastUploads& last_uploads() const { return last_; }
  std::string describe() const {
    return fmt::format("lasg_wk2({})", params_.describe(window_.weight()));
  }
  template <class Io>
  void state(Io& io) {
    io(window_);
    io(last_);
  }
  template <class Io>
  void worker_state(Index m, Io& io) {
    last_.worker_state(m, io);
  }

 private:
  Params params_;
  LasgWindow window_;
  LastUploads last_;  // θ^{k−τ_m} and τ_m, kept by each worker
};

class LasgPs : public RecordsUploads {
 public:
  struct Params {
    LasgThreshold threshold{};
    std::vector<double> smoothness{};  // L_m; empty: each objective's smoothness()
    template <class V>
    void fields(V&& v) {
      threshold.fields(v);
      v("smoothness", smoothness);
    }
  };
  static constexpr Side side = Side::server;

  LasgPs() : LasgPs(Params{}) {}
  explicit LasgPs(const Params& params) : params_(params) {
    params_.threshold.validate();
    require_smoothness(params_.smoothness);
  }

  void start(const Setup& setup) {
    window_.start(params_.threshold, setup);
    smoothness_ = resolve_smoothness(params_.smoothness, setup, "LasgPs");
    last_.start(setup);
  }
  void begin_round(Index, const Vector&) { window_.begin_round(); }
  void end_round(double step_sq) { window_.end_round(step_sq); }

  bool contact(Index m, const Vector& model) const {
    const double l = smoothness_[static_cast<std::size_t>(m)];
    return last_.never(m) || last_.staleness(m) >= params_.threshold.D ||
           l * l * last_.distance_sq(m, model) > window_.rhs(m);
  }
  double threshold() const { return window_.rhs(); }
  std::string describe() const {
    return fmt::format("lasg_ps({})", params_.threshold.describe(window_.weight()));
  }
  template <class Io>
  void state(Io& io) {
    io(window_);
    io(last_);
  }

 private:
  Params params_;
  LasgWindow window_;
  std::vector<double> smoothness_;
};

class LasgPse {
 public:
  struct Params {
    LasgThreshold threshold{};
    double initial_estimate = 0;  // L̂_m^0 (the paper leaves it open)
    template <class V>
    void fields(V&& v) {
      threshold.fields(v);
      v("initial_estimate", initial_estimate);
    }
  };
  static constexpr Side side = Side::server;

  LasgPse() : LasgPse(Params{}) {}
  explicit LasgPse(const Params& params) : params_(params) {
    params_.threshold.validate();
    require_param(std::isfinite(params_.initial_estimate) && params_.initial_estimate >= 0,
                  "initial_estimate", params_.initial_estimate, ">= 0 and finite");
  }

  void start(const Setup& setup) {
    window_.start(params_.threshold, setup);
    estimate_.assign(static_cast<std::size_t>(setup.workers), params_.initial_estimate);
    last_.start(setup);
    estimate_bits_ = setup.float_bits;
  }
  void begin_round(Index, const Vector&) { window_.begin_round(); }
  void end_round(double step_sq) { window_.end_round(step_sq); }

  bool contact(Index m, const Vector& model) const {
    const double l = estimate(m);
    return last_.never(m) || last_.staleness(m) >= params_.threshold.D ||
           l * l * last_.distance_sq(m, model) > window_.rhs(m);
  }
  // (17): the ratio is measured only when the worker has moved since its last upload.
  Bits serve(Index m, Probe& p) {
    double l = estimate(m);
    if (!last_.never(m)) {
      const double moved = last_.distance_sq(m, p.model());
      if (moved > 0) {
        const double change = (p.gradient() - p.gradient_at(last_.model(m))).squaredNorm();
        l = std::max(l, std::sqrt(change / moved));
        if (estimate_bits_ == 32) l = static_cast<float>(l);  // what the server receives
      }
    }
    return receive(m, p.model(), l);
  }
  // L̂_m, sent beside the upload.
  double report(Index m) const { return estimate(m); }
  Bits receive(Index m, const Vector& theta, double report) {
    if (!(std::isfinite(report) && report >= 0)) {
      throw DecodeError(
          fmt::format("lasg_pse: a smoothness estimate L̂ = {} is not finite and >= 0", report));
    }
    estimate_[static_cast<std::size_t>(m)] = report;
    last_.uploaded(m, theta);
    return Bits{.metadata = static_cast<std::uint64_t>(estimate_bits_), .paper = 32};
  }
  void pass(Index m) { last_.skipped(m); }

  double estimate(Index m) const { return estimate_[static_cast<std::size_t>(m)]; }
  double threshold() const { return window_.rhs(); }
  std::string describe() const {
    return fmt::format("lasg_pse({}, initial_estimate={})",
                       params_.threshold.describe(window_.weight()), params_.initial_estimate);
  }
  template <class Io>
  void state(Io& io) {
    io(window_);
    io(estimate_);
    io(last_);
  }

 private:
  Params params_;
  LasgWindow window_;
  int estimate_bits_ = 64;        // L̂_m travels as one float of the links' width
  std::vector<double> estimate_;  // L̂_m
  LastUploads last_;
};

}  // namespace laconic::skip
