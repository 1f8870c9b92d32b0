#pragma once

// Small problems for the skip-rule tests, and a plain loop to hold the library's runs against.

#include <laconic/data/partition.hpp>
#include <laconic/data/synthetic.hpp>
#include <laconic/objective/logistic.hpp>
#include <laconic/sim/simulation.hpp>

#include <algorithm>
#include <deque>
#include <numeric>
#include <vector>

namespace laconic::test {

// M workers sharing n synthetic logistic-regression samples in p features, contiguous shards,
// λ = 1e-3.
inline std::vector<objective::Logistic> logistic_workers(Index M, Index n, Index p,
                                                         std::uint64_t seed = 3) {
  const auto synthetic = data::make_logistic({.samples = n, .features = p, .seed = seed});
  std::vector<objective::Logistic> workers;
  for (const data::Shard& shard : data::partition(synthetic.data, {.workers = M})) {
    workers.emplace_back(shard, objective::Logistic::Params{.lambda = 1e-3});
  }
  return workers;
}

inline double largest_smoothness(const std::vector<objective::Logistic>& workers) {
  double l = 0;
  for (const auto& w : workers) l = std::max(l, w.smoothness());
  return l;
}

// The server side of a lazily aggregated run written out plainly: ∇ += (1/M) Σ δ_m, θ −= η∇,
// and the window of the last steps (newest first).
struct PlainServer {
  PlainServer(Index M, Index p, Index window, double eta)
      : nabla(Vector::Zero(p)),
        theta(Vector::Zero(p)),
        steps(static_cast<std::size_t>(window), 0.0),
        eta(eta),
        workers(M) {}

  double window_sum() const { return std::accumulate(steps.begin(), steps.end(), 0.0); }
  void update(const Vector& sum_of_deltas) {
    nabla += sum_of_deltas / static_cast<double>(workers);
    const Vector before = theta;
    theta -= eta * nabla;
    steps.push_front((theta - before).squaredNorm());
    steps.pop_back();
  }

  Vector nabla, theta;
  std::deque<double> steps;
  double eta;
  Index workers;
};

// Runs `sim` one round at a time, calling check() after each.
template <class Sim, class Check>
void each_round(Sim& sim, Index rounds, Check&& check) {
  for (Index k = 0; k < rounds; ++k) {
    sim.run();
    check();
  }
}

}  // namespace laconic::test
