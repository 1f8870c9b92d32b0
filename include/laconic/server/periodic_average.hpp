#pragma once

// Periodic averaging (FedPAQ, Reisizadeh et al., AISTATS 2020, Algorithm 1;
// docs/server-updates.md): in round k the participants S_k each start from x_k, take τ local SGD
// steps
//
//   x_{k,t+1} = x_{k,t} − η_{kτ+t} ∇̃f_i(x_{k,t}),   t = 0, …, τ−1,
//
// each on a fresh minibatch, and upload Q(x_{k,τ} − x_k) through their uplink; the server sets
// x_{k+1} = x_k + (1/r) Σ_{i∈S_k} Q(x_{k,τ} − x_k). By default the step size is indexed by
// the local iteration kτ + t, so a schedule means the same thing for every τ; indexed by the
// period k instead (StepIndex::period), it is constant over the τ local steps of a period, as
// in FedPAQ's Theorem 1, η_{k,t} = η_k = 4μ⁻¹/(kτ + 1): StepSize::inverse_time(4/μ, 1/τ)
// indexed by period. With an exact uplink
// and all workers it is local SGD / FedAvg; with τ = 1 it is parallel SGD (its model change
// is −η∇, the gradient step); with Qsgd on the uplink and r of n workers it is FedPAQ.
// Workers keep nothing between rounds, so non-participants cost no memory.

#include <laconic/server/server_update.hpp>

#include <string>

namespace laconic::server {

class PeriodicAverage {
 public:
  // What the step size schedule is a function of: the local iteration kτ + t, or the period k.
  enum class StepIndex { iteration, period };
  struct Params {
    StepSize step{};                // η of the local steps
    Batch batch{};                  // B, per local step
    Index local_steps = 1;          // τ
    Participation participation{};  // S_k
    StepIndex step_index = StepIndex::iteration;
    template <class V>
    void fields(V&& v) {
      v("step", step);
      v("batch", batch);
      v("local_steps", local_steps);
      v("participation", participation);
      v("step_index", step_index, {"iteration", "period"});
    }
  };
  static constexpr Shape shape = Shape::local_steps;

  PeriodicAverage() : PeriodicAverage(Params{}) {}
  explicit PeriodicAverage(const Params& params) : params_(params) {
    params_.step.validate();
    params_.batch.validate();
    params_.participation.validate();
    // Bounded so that the step index k·τ + t of any reachable round k (sim::max_round) fits.
    require_param(params_.local_steps >= 1 && params_.local_steps <= Index{1} << 20, "local_steps",
                  params_.local_steps, "in 1..2^20");
    const int index = static_cast<int>(params_.step_index);
    require_param(index == 0 || index == 1, "step_index", index, "iteration or period");
  }

  const Params& params() const { return params_; }
  template <class Io>
  void state(Io&) {}  // none: the model is the simulation's
  std::string describe() const {
    return fmt::format(
        "periodic_average(step={}{}, batch={}, local_steps={}, participation={})",
        params_.step.describe(), params_.step_index == StepIndex::period ? " per period" : "",
        params_.batch.describe(), params_.local_steps, params_.participation.describe());
  }

  // The step of local iteration t of round (period) k.
  double step(Index k, Index t) const {
    return params_.step.at(params_.step_index == StepIndex::period ? k
                                                                   : k * params_.local_steps + t);
  }

  // x_{k+1} = x_k + the participants' mean model change.
  void update(Index /*k*/, const Vector& mean_change, Vector& theta) const { theta += mean_change; }

 private:
  Params params_;
};

}  // namespace laconic::server
