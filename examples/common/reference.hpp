#pragma once

// The minimum f* of a strongly convex average objective f = (1/M) Σ_m f_m, certified to a
// tolerance, for the reproductions that plot a loss gap f − f* (LAQ, FedPAQ). This is
// measurement: it runs outside the simulated training and is not counted in any ledger.

#include <laconic/core/concepts.hpp>
#include <laconic/core/types.hpp>
#include <laconic/sim/thread_pool.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

namespace laconic::examples {

struct Reference {
  double minimum = 0;
  Index iterations = 0;
  double bound = 0;  // f(y) − f* ≤ bound at the returned point
};

namespace detail {

// f(x) and ∇f(x) for the average objective, the parts evaluated on the pool.
template <HasFullGradient Obj>
double average_gradient(std::vector<Obj>& parts, const Vector& x, Vector& g, sim::ThreadPool& pool,
                        std::vector<Vector>& scratch, std::vector<double>& losses) {
  pool.parallel_for(static_cast<std::int64_t>(parts.size()), [&](std::int64_t m, int) {
    const auto i = static_cast<std::size_t>(m);
    losses[i] = parts[i].full_gradient(x, scratch[i]);
  });
  g.setZero(x.size());
  double loss = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    g += scratch[i];
    loss += losses[i];
  }
  const auto count = static_cast<double>(parts.size());
  g /= count;
  return loss / count;
}

}  // namespace detail

// f* = min (1/M) Σ f_m for a μ-strongly convex f: f(y) − f* ≤ ‖∇f(y)‖²/(2μ), and Nesterov's
// accelerated gradient (step 1/L with L found by backtracking from `smoothness_guess`,
// momentum (√κ − 1)/(√κ + 1), restarted whenever the loss rises) runs until that bound is
// below `tolerance` (or `max_iterations`). Returns the best certified point.
template <HasFullGradient Obj>
Reference reference_minimum(std::vector<Obj> parts, Index dim, double mu, double smoothness_guess,
                            int threads, double tolerance = 1e-12, Index max_iterations = 100000) {
  sim::ThreadPool pool(threads);
  std::vector<Vector> scratch(parts.size(), Vector::Zero(dim));
  std::vector<double> losses(parts.size());
  Vector x = Vector::Zero(dim), previous = x, y = x, g(dim), g_next(dim);
  double smoothness = smoothness_guess;
  double fx = detail::average_gradient(parts, x, g, pool, scratch, losses);
  Reference best{fx, 0, g.squaredNorm() / (2 * mu)};
  for (Index k = 1; k <= max_iterations && best.bound > tolerance; ++k) {
    const double fy = detail::average_gradient(parts, y, g, pool, scratch, losses);
    const double bound = g.squaredNorm() / (2 * mu);
    if (bound < best.bound) best = {fy, k, bound};
    Vector next = y - g / smoothness;
    double f_next = detail::average_gradient(parts, next, g_next, pool, scratch, losses);
    // Backtracking: the step must decrease f by at least ‖∇f(y)‖²/(2L).
    while (f_next > fy - g.squaredNorm() / (2 * smoothness)) {
      smoothness *= 2;
      next = y - g / smoothness;
      f_next = detail::average_gradient(parts, next, g_next, pool, scratch, losses);
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

}  // namespace laconic::examples
