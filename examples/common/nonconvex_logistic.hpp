#pragma once

// The nonconvex logistic-regression problem of the EF21 and CD-Adam experiments (EF21's
// setup; CD-Adam §7.1): f(x) = (1/N) Σ log(1 + exp(−y_i a_iᵀx)) + λ Σ_j x_j²/(1 + x_j²),
// λ = 0.1, on a LIBSVM set split into n = 20 equal contiguous parts, full-batch gradients,
// x⁰ ~ N(0, I) (as the EF21 code draws it) from the (seed, init) stream. And a comparison of
// methods on it: each takes the step size of a grid with the smallest final ‖∇f‖², and the
// table gives its final ‖∇f‖², its bits per worker (both directions, exact and as the paper
// counts them) and the iterations and bits it needed to bring ‖∇f‖² down by 10², 10⁴ and 10⁶.
// Used by examples/cdadam_logistic and examples/compositions.

#include <laconic/laconic.hpp>

#include "common/data.hpp"
#include "common/experiment.hpp"

#include <fmt/format.h>
#include <fmt/os.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace laconic::examples::nonconvex {

using Logistic = objective::Logistic;

inline constexpr Index workers = 20;
inline constexpr double lambda = 0.1;
// CD-Adam §7.1: "the best step size starting from 0.001 and increase it by adding 0.002 till
// achieving 0.01".
inline const std::vector<double> step_grid = {0.001, 0.003, 0.005, 0.007, 0.009};
// The gradient-norm levels of the table, relative to ‖∇f(x⁰)‖².
inline const std::vector<double> levels = {1e-2, 1e-4, 1e-6};

struct Setting {
  std::string id;
  Index rows, features;
  double synthetic_scale;  // of the stand-in's features, toward the real ones' size
};

// The four LIBSVM sets of the EF21 and CD-Adam experiments.
inline const std::vector<Setting> settings = {
    {"phishing", 11055, 68, 0.15},
    {"mushrooms", 8124, 112, 0.3},
    {"a9a", 32561, 123, 0.3},
    {"w8a", 49749, 300, 0.2},
};

inline const Setting& setting(const std::string& id) {
  for (const Setting& s : settings) {
    if (s.id == id) return s;
  }
  throw std::invalid_argument(fmt::format("unknown dataset {}", id));
}

// The dataset from dir/<id>/<id>, or a synthetic stand-in of its shape when it is absent.
inline Loaded load(const Setting& s, const std::filesystem::path& dir) {
  const auto file = dir / s.id / s.id;
  return load_or_stand_in(
      s.id, {file}, [&] { return data::read_libsvm(file, {.num_features = s.features}); },
      [&] { return synthetic_binary(s.rows, s.features, s.synthetic_scale); });
}

// x⁰ ~ N(0, I) from the (seed, init) stream, or x⁰ = 0 when `zero_start`.
inline Problem<Logistic> make_problem(const Loaded& loaded, Index iterations, Index seed,
                                      int threads, bool zero_start = false) {
  Problem<Logistic> problem{.options = {.seed = static_cast<std::uint64_t>(seed),
                                        .rounds = iterations,
                                        .threads = threads,
                                        .record_every = std::max<Index>(1, iterations / 500)}};
  for (const data::Shard& shard : data::partition(loaded.data, {.workers = workers})) {
    problem.workers.emplace_back(
        shard,
        Logistic::Params{.lambda = lambda, .regularizer = objective::Regularizer::nonconvex});
  }
  const Index d = loaded.data->cols();
  problem.theta0 = Vector::Zero(d);
  RandomStream init(static_cast<std::uint64_t>(seed), Purpose::init);
  if (!zero_start) {
    for (Index j = 0; j < d; ++j) problem.theta0[j] = init.normal();
  }
  return problem;
}

// A method whose step size is still to be chosen.
struct Candidate {
  std::string id;
  std::string name;
  std::function<Entry<Logistic>(double eta)> make;
};

// `method(eta)` makes the method with step size eta.
template <class F>
Candidate candidate(std::string id, std::string name, F method) {
  return {id, name, [=](double eta) { return entry<Logistic>(id, name, method(eta)); }};
}

inline server::Amsgrad::Params adam(double eta) {
  return {.step = server::StepSize::constant(eta)};
}

struct Outcome {
  const Candidate* candidate;
  double eta;
  sim::RunResult result;

  // ‖∇f‖² at the end of the run, as the geometric mean over the last 10% of the recorded
  // rows: compressed AMSGrad oscillates near its floor, so the last row alone is luck.
  double final_norm() const {
    if (result.status == sim::Status::diverged) return std::numeric_limits<double>::infinity();
    const auto& rows = result.history.rows;
    const std::size_t count = std::max<std::size_t>(1, rows.size() / 10);
    double log_sum = 0;
    for (std::size_t i = rows.size() - count; i < rows.size(); ++i) {
      log_sum += std::log(rows[i].grad_norm_sq);
    }
    return std::exp(log_sum / static_cast<double>(count));
  }
};

// Bits per worker, both directions, of a row: exact or as the paper counts them.
inline double bits_per_worker(const sim::Record& row, bool paper) {
  const Traffic& t = row.traffic;
  const auto bits = paper ? t.up.paper + t.down.paper : t.up.total() + t.down.total();
  return static_cast<double>(bits) / workers;
}

// The first recorded row with ‖∇f‖² ≤ target, or null.
inline const sim::Record* first_at(const sim::RunResult& r, double target) {
  for (const sim::Record& row : r.history.rows) {
    if (row.grad_norm_sq <= target) return &row;
  }
  return nullptr;
}

// "1.3x", or "2.1e+13x" for ratios too large to read in fixed notation.
inline std::string ratio(double numerator, double denominator) {
  const double r = numerator / denominator;
  if (!std::isfinite(r)) return "-";
  return r < 1e4 ? fmt::format("{:.1f}x", r) : fmt::format("{:.1e}x", r);
}

// Runs every candidate with each step of `grid` on the problem, keeps the step with the
// smallest final ‖∇f‖², prints the table (the first candidate is the baseline of the ratios)
// and writes dir/<id>.csv for each.
inline std::vector<Outcome> compare(const Problem<Logistic>& problem,
                                    const std::vector<Candidate>& candidates,
                                    const std::vector<double>& grid,
                                    const std::filesystem::path& dir) {
  std::vector<Outcome> outcomes;
  for (const Candidate& c : candidates) {
    std::optional<Outcome> best;
    for (double eta : grid) {
      Outcome o{&c, eta, c.make(eta).run(problem)};
      if (!best || o.final_norm() < best->final_norm()) best = std::move(o);
    }
    outcomes.push_back(std::move(*best));
  }

  const Outcome& base = outcomes.front();
  const double start = base.result.history.rows.front().grad_norm_sq;  // the same for all
  std::string header = fmt::format("{:<30} {:>5} {:>10} {:>9} {:>7} {:>9} {:>9}", "method", "eta",
                                   "final|g|^2", "vs base", "uploads", "kbit/wkr", "paper");
  for (double level : levels) {
    header += fmt::format(" {:>6} {:>16}", fmt::format("it@{:.0e}", level),
                          fmt::format("kbit@{:.0e}", level));
  }
  fmt::print("{}\n", header);
  std::filesystem::create_directories(dir);
  for (const Outcome& o : outcomes) {
    const sim::Record& last = o.result.history.rows.back();
    std::string line = fmt::format(
        "{:<30} {:>5} {:>10.3e} {:>9} {:>7} {:>9.1f} {:>9.1f}", o.candidate->name, o.eta,
        o.final_norm(), ratio(o.final_norm(), base.final_norm()), last.traffic.uploads,
        bits_per_worker(last, false) / 1e3, bits_per_worker(last, true) / 1e3);
    for (double level : levels) {
      const sim::Record* at = first_at(o.result, level * start);
      const sim::Record* base_at = first_at(base.result, level * start);
      if (at == nullptr) {
        line += fmt::format(" {:>6} {:>16}", "-", "not reached");
        continue;
      }
      const double bits = bits_per_worker(*at, false);
      const std::string saving =
          base_at != nullptr ? ratio(bits_per_worker(*base_at, false), bits) : "-";
      line +=
          fmt::format(" {:>6} {:>16}", at->round, fmt::format("{:.1f} ({})", bits / 1e3, saving));
    }
    fmt::print("{}\n", line);
    if (o.result.status == sim::Status::diverged) fmt::print("  {}\n", o.result.message);
    o.result.history.write_csv(dir / (o.candidate->id + ".csv"));
  }
  std::fflush(stdout);
  return outcomes;
}

}  // namespace laconic::examples::nonconvex
