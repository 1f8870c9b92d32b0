#pragma once

// LAG — lazily aggregated gradient (Chen, Giannakis, Sun, Yin, NeurIPS 2018;
// docs/skip-rules.md).
// The server steps along the mean of each worker's latest contribution; a worker refreshes
// its contribution only when it has changed enough relative to the recent model steps.
//
//   LagWk (worker side, after computing ∇f_m(θ^k)) skips iff
//       ‖∇f_m(θ^k) − ∇f_m(θ̂_m)‖² ≤ c · Σ_{d=1}^{D} ξ ‖θ^{k+1−d} − θ^{k−d}‖²
//   LagPs (server side, before sending θ^k) leaves m out iff
//       L_m² ‖θ^k − θ̂_m‖² ≤ c · Σ_{d=1}^{D} ξ ‖θ^{k+1−d} − θ^{k−d}‖²
//
// with θ̂_m the model at m's last upload and c = 1/η² (LAG's 1/(α²M²) in its sum convention).
// Neither forces an upload after many skips, as in the paper and its code; ties skip. With
// minibatch gradients LagWk is LASG's "stochastic LAG-WK" (LASG eq. 7, threshold c/d_max).
// Through a compressing uplink, LagWk compares what the server would hold after the upload
// with what it holds now (with Identity, the two gradients above).

#include <laconic/skip/skip_rule.hpp>

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace laconic::skip {

// The threshold shared by LAG and LAQ: c · ξ · (sum of the last D squared steps).
struct LagThreshold {
  Index D = 10;                    // steps in the window
  std::optional<double> xi{};      // weight ξ_d of each step; default per rule
  std::optional<double> c{};       // scale; default c_eta2/η₀²
  std::optional<double> c_eta2{};  // c·η₀², a scale that follows the step; default 1

  // Each parameter by name, for methods chosen by name (runtime/spec.hpp).
  template <class V>
  void fields(V&& v) {
    v("D", D);
    v("xi", xi);
    v("c", c);
    v("c_eta2", c_eta2);
  }

  void validate() const {
    require_param(D >= 1, "D", D, ">= 1");
    if (xi) require_param(std::isfinite(*xi) && *xi >= 0, "xi", *xi, ">= 0 and finite");
    require_scale(c, c_eta2);
  }

  struct Resolved {  // NaN until the rule starts
    double c = std::numeric_limits<double>::quiet_NaN();
    double xi = std::numeric_limits<double>::quiet_NaN();
  };
  // ξ defaults to xi_times_D / D.
  Resolved resolve(const Setup& setup, double xi_times_D) const {
    return {resolve_scale(c, c_eta2, setup), xi.value_or(xi_times_D / static_cast<double>(D))};
  }
  // "D=…, xi=…, c=…": resolved once the rule has started, else as given.
  std::string describe(const Resolved& r) const {
    const std::string xi_text = !std::isnan(r.xi) ? fmt::format("{}", r.xi)
                                : xi              ? fmt::format("{}", *xi)
                                                  : std::string("auto");
    return fmt::format("D={}, xi={}, {}", D, xi_text, describe_scale(r.c, c, c_eta2));
  }
};

class LagWk {
 public:
  using Params = LagThreshold;  // ξ defaults to 1/D, as in the LAG code
  static constexpr Side side = Side::worker;

  LagWk() : LagWk(Params{}) {}
  explicit LagWk(const Params& params) : params_(params) { params_.validate(); }

  void start(const Setup& setup) {
    scale_ = params_.resolve(setup, 1.0);
    window_ = Window(params_.D);
    thresholds_.start(setup);
  }
  void begin_round(Index, const Vector&) { rhs_ = scale_.c * scale_.xi * window_.sum(); }
  void end_round(double step_sq) { window_.push(step_sq); }

  bool upload(Index m, Probe& p) const {
    return (p.candidate() - p.contribution()).squaredNorm() > thresholds_(m, rhs_);
  }

  double threshold() const { return rhs_; }
  template <class Io>
  void state(Io& io) {
    io(window_);
  }
  template <class Io>
  void worker_state(Index, Io&) {}  // none: the rule compares what the probe shows
  std::string describe() const { return fmt::format("lag_wk({})", params_.describe(scale_)); }

 private:
  Params params_;
  LagThreshold::Resolved scale_;
  Window window_;
  WorkerThresholds thresholds_;
  double rhs_ = 0;
};

class LagPs : public RecordsUploads {
 public:
  struct Params {
    LagThreshold threshold{};          // ξ defaults to 10/D, as in the LAG code
    std::vector<double> smoothness{};  // L_m; empty: each objective's smoothness()
    template <class V>
    void fields(V&& v) {
      threshold.fields(v);
      v("smoothness", smoothness);
    }
  };
  static constexpr Side side = Side::server;

  LagPs() : LagPs(Params{}) {}
  explicit LagPs(const Params& params) : params_(params) {
    params_.threshold.validate();
    require_smoothness(params_.smoothness);
  }

  void start(const Setup& setup) {
    scale_ = params_.threshold.resolve(setup, 10.0);
    smoothness_ = resolve_smoothness(params_.smoothness, setup, "LagPs");
    window_ = Window(params_.threshold.D);
    last_.start(setup);
    thresholds_.start(setup);
  }
  void begin_round(Index, const Vector&) { rhs_ = scale_.c * scale_.xi * window_.sum(); }
  void end_round(double step_sq) { window_.push(step_sq); }

  // A worker that has never uploaded is always contacted.
  bool contact(Index m, const Vector& theta) const {
    const double l = smoothness_[static_cast<std::size_t>(m)];
    return last_.never(m) || l * l * last_.distance_sq(m, theta) > thresholds_(m, rhs_);
  }
  double threshold() const { return rhs_; }
  template <class Io>
  void state(Io& io) {
    io(window_);
    io(last_);
  }
  std::string describe() const {
    return fmt::format("lag_ps({})", params_.threshold.describe(scale_));
  }

 private:
  Params params_;
  LagThreshold::Resolved scale_;
  std::vector<double> smoothness_;
  Window window_;
  WorkerThresholds thresholds_;
  double rhs_ = 0;
};

}  // namespace laconic::skip
