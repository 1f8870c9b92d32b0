#pragma once

// LAQ — lazily aggregated quantized gradients (Sun, Chen, Giannakis, Yang, NeurIPS 2019;
// docs/skip-rules.md). Used with the Markov<Uniform{b}> uplink, whose candidate message is the
// quantized innovation δQ_m = Q_m(θ^k) − Q_m(θ̂_m) against the last uploaded quantized
// gradient. Worker m skips iff both
//
//   (7a) ‖δQ_m‖² ≤ c · Σ_{d=1}^{D} ξ ‖θ^{k+1−d} − θ^{k−d}‖² + 3 (‖ε_m^k‖² + ‖ε̂_m‖²)
//   (7b) t_m ≤ t̄,
//
// where ε_m^k = ∇f_m(θ^k) − Q_m(θ^k) is this round's quantization error, ε̂_m the one at m's
// last upload, and t_m the rounds since that upload (1 right after it). After t̄ skips in a
// row the next round uploads. With an exact uplink the ε-terms vanish and (7a) is LAG-WK.
//
// Warm-up: the LAQ code averages over the steps available, ξ = 0.8/min(k, D), while the
// papers pad the missing steps with zeros; `average_warmup` selects the code's reading.

#include <laconic/skip/lag.hpp>
#include <laconic/skip/skip_rule.hpp>

#include <fmt/format.h>

#include <string>
#include <vector>

namespace laconic::skip {

class Laq {
 public:
  struct Params {
    LagThreshold threshold{};    // ξ defaults to 0.8/D, as in the LAQ code
    Index t_bar = 100;           // the most consecutive skips
    double error_weight = 3;     // the 3 in (7a)
    bool average_warmup = true;  // the code's ξ = 0.8/min(k, D) in the first D rounds
    template <class V>
    void fields(V&& v) {
      threshold.fields(v);
      v("t_bar", t_bar);
      v("error_weight", error_weight);
      v("average_warmup", average_warmup);
    }
  };
  static constexpr Side side = Side::worker;

  Laq() : Laq(Params{}) {}
  explicit Laq(const Params& params) : params_(params) {
    params_.threshold.validate();
    require_param(params_.t_bar >= 0, "t_bar", params_.t_bar, ">= 0");
    require_param(std::isfinite(params_.error_weight) && params_.error_weight >= 0, "error_weight",
                  params_.error_weight, ">= 0 and finite");
  }

  void start(const Setup& setup) {
    scale_ = params_.threshold.resolve(setup, 0.8);
    window_ = Window(params_.threshold.D);
    thresholds_.start(setup);
    const auto workers = static_cast<std::size_t>(setup.workers);
    last_error_.assign(workers, 0.0);
    since_upload_.assign(workers, 1);
  }
  void begin_round(Index, const Vector&) {
    const Index filled = window_.filled();
    const double warmup = params_.average_warmup && filled > 0
                              ? static_cast<double>(window_.length()) / static_cast<double>(filled)
                              : 1.0;
    rhs_ = scale_.c * scale_.xi * warmup * window_.sum();
  }
  void end_round(double step_sq) { window_.push(step_sq); }

  bool upload(Index m, Probe& p) {
    const auto w = static_cast<std::size_t>(m);
    const Vector& quantized = p.candidate();
    const double error = (p.gradient() - quantized).squaredNorm();
    const bool up = since_upload_[w] > params_.t_bar ||
                    (quantized - p.contribution()).squaredNorm() >
                        thresholds_(m, rhs_) + params_.error_weight * (error + last_error_[w]);
    if (up) {
      last_error_[w] = error;
      since_upload_[w] = 1;
    } else {
      ++since_upload_[w];
    }
    return up;
  }

  double threshold() const { return rhs_; }
  template <class Io>
  void state(Io& io) {
    io(window_);
    io(last_error_);
    io(since_upload_);
  }
  template <class Io>
  void worker_state(Index m, Io& io) {
    io(last_error_[static_cast<std::size_t>(m)]);
    io(since_upload_[static_cast<std::size_t>(m)]);
  }
  std::string describe() const {
    return fmt::format("laq({}, t_bar={}, error_weight={}, warmup={})",
                       params_.threshold.describe(scale_), params_.t_bar, params_.error_weight,
                       params_.average_warmup ? "average" : "zero");
  }

 private:
  Params params_;
  LagThreshold::Resolved scale_;
  Window window_;
  WorkerThresholds thresholds_;
  double rhs_ = 0;
  std::vector<double> last_error_;   // ‖ε̂_m‖²
  std::vector<Index> since_upload_;  // t_m
};

}  // namespace laconic::skip
