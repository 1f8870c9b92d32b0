#pragma once

// Simulated wall-clock time of a round (FedPAQ §5; docs/simulation.md). A participant that
// evaluates s per-sample gradients computes for s·shift + Exp(mean s·exp_mean), drawn from the
// (seed, cost, round, worker) stream; a message of b bits takes b / bandwidth + latency in its
// direction. The round then lasts, with
//   parallel links (every worker its own):  max over participants of download + compute +
//                                           upload (+ the aggregate's broadcast afterwards,
//                                           for CD-Adam's shape);
//   one shared link (FedPAQ's base station): the broadcast once, the slowest computation,
//                                           then every upload one after the other.
// Times are in whatever unit shift, exp_mean, 1/bandwidth and latency share. All zero (the
// default) leaves time at 0.

#include <laconic/core/bits.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace laconic::sim {

struct CostModel {
  enum class Links { parallel, shared };
  double shift = 0;     // deterministic compute time per sample gradient
  double exp_mean = 0;  // mean of the exponential compute time per sample gradient
  double bandwidth_up = std::numeric_limits<double>::infinity();    // bits per time unit
  double bandwidth_down = std::numeric_limits<double>::infinity();  // bits per time unit
  double latency = 0;                                               // per message
  Links links = Links::parallel;

  // Each parameter by name, for experiments chosen at run time (runtime/experiment.hpp).
  template <class V>
  void fields(V&& v) {
    v("shift", shift);
    v("exp_mean", exp_mean);
    v("bandwidth_up", bandwidth_up);
    v("bandwidth_down", bandwidth_down);
    v("latency", latency);
    v("links", links, {"parallel", "shared"});
  }

  void validate() const {
    auto non_negative = [](std::string_view name, double v) {
      require_param(std::isfinite(v) && v >= 0, name, v, ">= 0 and finite");
    };
    non_negative("cost.shift", shift);
    non_negative("cost.exp_mean", exp_mean);
    non_negative("cost.latency", latency);
    require_param(bandwidth_up > 0, "cost.bandwidth_up", bandwidth_up, "> 0 (may be infinite)");
    require_param(bandwidth_down > 0, "cost.bandwidth_down", bandwidth_down,
                  "> 0 (may be infinite)");
    const int l = static_cast<int>(links);
    require_param(l == 0 || l == 1, "cost.links", l, "parallel or shared");
  }

  double compute(std::uint64_t seed, Index round, Index worker, std::uint64_t samples) const {
    const auto s = static_cast<double>(samples);
    double t = s * shift;
    if (exp_mean > 0 && samples > 0) {
      RandomStream rng(seed, Purpose::cost, static_cast<std::uint64_t>(round),
                       static_cast<std::uint64_t>(worker));
      t += rng.exponential(s * exp_mean);
    }
    return t;
  }
  double upload(const Bits& bits) const {
    return static_cast<double>(bits.total()) / bandwidth_up + latency;
  }
  double download(const Bits& bits) const {
    return static_cast<double>(bits.total()) / bandwidth_down + latency;
  }

  // Accumulates one round's participants, then says how long the round took.
  class Round {
   public:
    explicit Round(const CostModel& model) : model_(model) {}
    // A participant that downloaded `down` (if it did), computed `samples` gradients and
    // uploaded `up` (if it did).
    void participant(double down, double compute, double up) {
      slowest_path_ = std::max(slowest_path_, down + compute + up);
      slowest_compute_ = std::max(slowest_compute_, compute);
      broadcast_ = std::max(broadcast_, down);
      uploads_ += up;
    }
    double seconds(double broadcast_after) const {
      const double base = model_.links == Links::parallel
                              ? slowest_path_
                              : broadcast_ + slowest_compute_ + uploads_;
      return base + broadcast_after;
    }

   private:
    const CostModel& model_;
    double slowest_path_ = 0, slowest_compute_ = 0, broadcast_ = 0, uploads_ = 0;
  };

  std::string describe() const {
    return fmt::format(
        "cost(shift={}, exp_mean={}, bandwidth_up={}, bandwidth_down={}, latency={}, links={})",
        shift, exp_mean, bandwidth_up, bandwidth_down, latency,
        links == Links::parallel ? "parallel" : "shared");
  }
};

}  // namespace laconic::sim
