#pragma once

// The minimum f* of a strongly convex objective f = Σ_m w_m f_m over the workers, certified to
// a tolerance: what a loss gap f − f* and the target Options::target_loss_gap are measured
// against (the LAQ and FedPAQ reproductions; `solve_optimum` in an experiment file). This is
// measurement: it runs outside the simulated training and is not counted in any ledger.

#include <laconic/core/concepts.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/types.hpp>
#include <laconic/sim/thread_pool.hpp>

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace laconic::sim {

struct Reference {
  double minimum = 0;
  Index iterations = 0;
  double bound = 0;  // f(y) − f* ≤ bound at the returned point
};

namespace detail {

// f(x) and ∇f(x) for the weighted objective, the parts evaluated on the pool.
template <HasFullGradient Obj>
double average_gradient(std::vector<Obj>& parts, const std::vector<double>& weights,
                        const Vector& x, Vector& g, ThreadPool& pool, std::vector<Vector>& scratch,
                        std::vector<double>& losses) {
  pool.parallel_for(static_cast<std::int64_t>(parts.size()), [&](std::int64_t m, int) {
    const auto i = static_cast<std::size_t>(m);
    losses[i] = parts[i].full_gradient(x, scratch[i]);
  });
  g.setZero(x.size());
  double loss = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    g += weights[i] * scratch[i];
    loss += weights[i] * losses[i];
  }
  return loss;
}

}  // namespace detail

// f* = min Σ w_m f_m for a μ-strongly convex f: f(y) − f* ≤ ‖∇f(y)‖²/(2μ), and Nesterov's
// accelerated gradient (step 1/L with L found by backtracking from `smoothness_guess`,
// momentum (√κ − 1)/(√κ + 1), restarted whenever the loss rises) runs until that bound is
// below `tolerance` (or `max_iterations`). Returns the best certified point. `weights` are the
// w_m (Weighting's; empty: 1/M each).
template <HasFullGradient Obj>
Reference reference_minimum(std::vector<Obj> parts, Index dim, double mu, double smoothness_guess,
                            int threads, double tolerance = 1e-12, Index max_iterations = 100000,
                            std::vector<double> weights = {}) {
  require_param(mu > 0 && std::isfinite(mu), "mu", mu, "positive and finite: f strongly convex");
  require_param(smoothness_guess > 0 && std::isfinite(smoothness_guess), "smoothness_guess",
                smoothness_guess, "positive and finite");
  require_param(tolerance > 0, "tolerance", tolerance, "positive");
  if (weights.empty()) weights.assign(parts.size(), 1.0 / static_cast<double>(parts.size()));
  require_param(weights.size() == parts.size(), "weights.size()", weights.size(),
                fmt::format("the number of parts, {}", parts.size()));
  ThreadPool pool(threads);
  std::vector<Vector> scratch(parts.size(), Vector::Zero(dim));
  std::vector<double> losses(parts.size());
  Vector x = Vector::Zero(dim), previous = x, y = x, g(dim), g_next(dim);
  double smoothness = smoothness_guess;
  double fx = detail::average_gradient(parts, weights, x, g, pool, scratch, losses);
  Reference best{fx, 0, g.squaredNorm() / (2 * mu)};
  for (Index k = 1; k <= max_iterations && best.bound > tolerance; ++k) {
    const double fy = detail::average_gradient(parts, weights, y, g, pool, scratch, losses);
    const double bound = g.squaredNorm() / (2 * mu);
    if (bound < best.bound) best = {fy, k, bound};
    Vector next = y - g / smoothness;
    double f_next = detail::average_gradient(parts, weights, next, g_next, pool, scratch, losses);
    // Backtracking: the step must decrease f by at least ‖∇f(y)‖²/(2L).
    while (f_next > fy - g.squaredNorm() / (2 * smoothness)) {
      smoothness *= 2;
      next = y - g / smoothness;
      f_next = detail::average_gradient(parts, weights, next, g_next, pool, scratch, losses);
    }
    const double root_kappa = std::sqrt(smoothness / mu);
    const double momentum = f_next > fx ? 0.0 : (root_kappa - 1) / (root_kappa + 1);
    previous = x;
    x = next;
    fx = f_next;
    y = x + momentum * (x - previous);
  }
  return best;
}

}  // namespace laconic::sim
