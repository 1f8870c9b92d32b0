#pragma once

// FedPAQ's logistic-regression experiment (Reisizadeh et al., AISTATS 2020, §5.1): the
// problem — L2-regularized logistic regression on MNIST digits 0 vs 8 across n = 50 nodes,
// batch B = 10, T local iterations in all — with the paper's time model as a sim::CostModel,
// and a runner for a list of curves: each curve's constant step size is tuned on a grid by
// its mean final loss over tuning seeds, then the curve runs on seeds 1..S; the table gives
// the medians over those seeds of the uplink bits, the simulated time, the final relative
// loss gap (f − f*)/(f(0) − f*) and the time to bring that gap below a target. Used by
// examples/fedpaq_mnist and examples/compositions.

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
#include <string>
#include <vector>

namespace laconic::examples::fedpaq {

using Logistic = objective::Logistic;

inline constexpr Index nodes = 50;
inline constexpr Index batch = 10;                  // B
inline constexpr double comm_over_comp = 100;       // C_comm / C_comp
inline constexpr std::uint64_t tuning_seed = 1000;  // tuning runs use seeds 1001, 1002, ...
inline constexpr int tuning_seeds = 3;
// The step sizes tried for every curve: √2 apart from 0.05 to 3.2, i.e. 1.6/L to 100/L for the
// largest L_m ≈ 33 of MNIST 0 vs 8.
inline const std::vector<double> step_grid = {0.05, 0.07, 0.1, 0.14, 0.2, 0.28, 0.4,
                                              0.57, 0.8,  1.1, 1.6,  2.3, 3.2};

struct Settings {
  Index iterations = 100;  // T, local iterations in all
  int seeds = 5;
  Index per_node = 200;
  double lambda = 1e-3;  // the paper does not state it: our choice
  double target = 0.05;  // relative loss gap for the "time to target" column
  double eta = 0;        // when positive, this step for every curve instead of the grid
  // The links' floats. The paper's time model prices a vector of p floats at pF/BW = 100 with
  // F = 32 and its quantizer's norm at 32 bits, so the links carry 32-bit floats (the library's
  // default, 64, would make an unquantized upload cost 200 and top-k's values twice as long).
  int float_bits = 32;
  int threads = 1;
  std::filesystem::path data_dir{};  // where mnist/ is (examples::data_dir)
};

struct Experiment {
  Settings settings;
  Problem<Logistic> problem{};
  Loaded loaded{};
  double f_star = 0;
  double f0 = 0;

  double gap(double loss) const { return (loss - f_star) / (f0 - f_star); }
};

// MNIST digits 0 (label −1) and 8 (+1) from the test set (980 + 974 = 1954 images), the first
// n · per_node of them, split contiguously; says so when there are fewer. Synthetic data of
// the same shape stands in when the files are absent. f* comes from the reference solver.
inline Experiment make_experiment(const Settings& settings) {
  const std::filesystem::path dir = data_dir(settings.data_dir) / "mnist";
  const auto images = dir / "t10k-images-idx3-ubyte.gz";
  const auto labels = dir / "t10k-labels-idx1-ubyte.gz";
  const Index wanted = nodes * settings.per_node;
  Experiment e;
  e.settings = settings;
  e.loaded = load_or_stand_in(
      "MNIST", {images, labels},
      [&] {
        return data::first_rows(data::two_classes(data::read_mnist(images, labels), 0, 8), wanted);
      },
      // Features scaled toward the size of pixels in [0, 1].
      [&] { return synthetic_binary(std::min<Index>(wanted, 1954), 784, 0.1); });
  const auto& data = e.loaded.data;
  if (data->rows() < wanted) {
    fmt::print("{} samples, fewer than {} x {} = {}: {} per node (the last takes {})\n",
               data->rows(), nodes, settings.per_node, wanted, data->rows() / nodes,
               data->rows() - (nodes - 1) * (data->rows() / nodes));
  }
  const Index p = data->cols();
  e.problem.float_bits = settings.float_bits;
  e.problem.options = {.rounds = settings.iterations,
                       .threads = settings.threads,
                       .record_every = 1,
                       // C_comp = shift + 1/scale = 1 per sample gradient, C_comm = pF/BW = 100
                       // with F = 32 bits.
                       .cost = {.shift = 0.5,
                                .exp_mean = 0.5,
                                .bandwidth_up = 32.0 * static_cast<double>(p) / comm_over_comp,
                                .links = sim::CostModel::Links::shared}};
  double smoothness = 0;
  for (const data::Shard& shard : data::partition(data, {.workers = nodes})) {
    e.problem.workers.emplace_back(shard, Logistic::Params{.lambda = settings.lambda});
    smoothness = std::max(smoothness, e.problem.workers.back().smoothness());
  }
  const sim::Reference reference =
      sim::reference_minimum(e.problem.workers, p, settings.lambda, smoothness, settings.threads);
  e.f_star = reference.minimum;
  Vector g;
  for (Logistic& w : e.problem.workers) e.f0 += w.full_gradient(Vector::Zero(p), g);
  e.f0 /= static_cast<double>(nodes);
  fmt::print(
      "logistic regression on MNIST 0 vs 8 ({}): n = {} nodes, {} samples per node, p = {}, "
      "lambda = {}, B = {}, T = {} iterations, C_comm/C_comp = {}, {}-bit floats on the links\n"
      "f(0) = {:.6f}, f* = {:.10f} (certified to {:.1e}); largest L_m = {:.3g}\n",
      e.loaded.source, nodes, e.problem.workers.front().size(), p, settings.lambda, batch,
      settings.iterations, comm_over_comp, settings.float_bits, e.f0, e.f_star, reference.bound,
      smoothness);
  if (settings.eta > 0) {
    fmt::print("every curve with step size {} (--eta); curves run on seeds 1..{}\n", settings.eta,
               settings.seeds);
  } else {
    fmt::print("step sizes tuned on {{{}}} over seeds {}..{}; curves run on seeds 1..{}\n",
               fmt::join(step_grid, ", "), tuning_seed + 1, tuning_seed + tuning_seeds,
               settings.seeds);
  }
  return e;
}

// One curve: a method configuration whose step size is still to be chosen.
struct Curve {
  std::string id;
  std::string name;
  Index tau;  // local iterations per round
  std::function<Entry<Logistic>(double eta)> make;
};

inline server::Participation participants(Index r) {
  return r >= nodes ? server::Participation::all() : server::Participation::sample(r);
}

// The periodic-averaging round with step eta, period tau and r of the n nodes.
inline server::PeriodicAverage::Params averaging(double eta, Index tau, Index r) {
  return {.step = server::StepSize::constant(eta),
          .batch = server::Batch::of(batch),
          .local_steps = tau,
          .participation = participants(r)};
}

// FedPAQ's quantizer with s levels, sent in the fixed-length form 2 + F + p(1 + ⌈log₂(s+1)⌉)
// bits, F = float_bits (the norm): with F = 32 the paper's |Q(p, s)| = 32 + p(1 + ⌈log₂(s+1)⌉)
// and our 2-bit header.
inline compress::Qsgd::Params levels(int s) {
  return {.levels = s, .encoding = compress::Qsgd::Encoding::fixed};
}

// A periodic-averaging curve: `method(eta)` makes the method (its server update
// averaging(eta, tau, r)).
template <class F>
Curve local_curve(std::string id, std::string name, Index tau, F method) {
  return {id, name, tau, [=](double eta) { return entry<Logistic>(id, name, method(eta), tau); }};
}

inline Curve fedpaq(int s, Index tau, Index r, std::string id, std::string name) {
  return local_curve(id, name, tau, [=](double eta) {
    return FedPaq{.uplink = levels(s), .server = averaging(eta, tau, r)};
  });
}

inline Curve fedavg(Index tau, Index r, std::string id, std::string name) {
  return local_curve(id, name, tau,
                     [=](double eta) { return FedAvg{.server = averaging(eta, tau, r)}; });
}

// QSGD: every node uploads its quantized minibatch gradient every iteration (τ = 1).
inline Curve qsgd(int s, std::string id, std::string name) {
  return {id, name, 1, [=](double eta) {
            return entry<Logistic>(id, name,
                                   Qsgd{.uplink = levels(s),
                                        .server = {.step = server::StepSize::constant(eta),
                                                   .batch = server::Batch::of(batch)}});
          }};
}

inline double median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 == 1 ? v[h] : (v[h - 1] + v[h]) / 2;
}

inline double final_loss(const sim::RunResult& r) {
  return r.status == sim::Status::diverged ? std::numeric_limits<double>::infinity()
                                           : r.history.rows.back().loss;
}

inline sim::RunResult run(const Experiment& e, const Curve& curve, double eta, std::uint64_t seed) {
  Problem<Logistic> problem = e.problem;
  problem.options.seed = seed;
  return curve.make(eta).run(problem);
}

// The step of the grid with the lowest mean final loss over the tuning seeds.
inline double tune(const Experiment& e, const Curve& curve) {
  if (e.settings.eta > 0) return e.settings.eta;
  double best = step_grid.front(), best_loss = std::numeric_limits<double>::infinity();
  for (double eta : step_grid) {
    double sum = 0;
    for (int i = 1; i <= tuning_seeds; ++i) sum += final_loss(run(e, curve, eta, tuning_seed + i));
    if (sum / tuning_seeds < best_loss) {
      best_loss = sum / tuning_seeds;
      best = eta;
    }
  }
  return best;
}

// The simulated time at which a run's relative gap first falls to the target, or NaN.
inline double time_to(const Experiment& e, const sim::RunResult& r) {
  for (const sim::Record& row : r.history.rows) {
    if (e.gap(row.loss) <= e.settings.target) return row.time;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

// Tunes and runs every curve, prints the table, and writes dir/<id>.seed<seed>.csv for every
// seed.
inline void run_curves(const Experiment& e, const std::vector<Curve>& curves,
                       const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const int seeds = e.settings.seeds;
  fmt::print("{:<26} {:>5} {:>6} {:>9} {:>9} {:>10} {:>14} {:>8}\n", "method", "eta", "rounds",
             "Mbit up", "time", "final gap", "time to target", "reached");
  for (const Curve& curve : curves) {
    const double eta = tune(e, curve);
    std::vector<double> times, gaps, to_target, bits;
    int reached = 0;
    Index rounds = 0;
    for (int seed = 1; seed <= seeds; ++seed) {
      const sim::RunResult r = run(e, curve, eta, static_cast<std::uint64_t>(seed));
      r.history.write_csv(dir / fmt::format("{}.seed{}.csv", curve.id, seed));
      const sim::Record& last = r.history.rows.back();
      rounds = last.round;
      times.push_back(last.time);
      gaps.push_back(e.gap(final_loss(r)));
      bits.push_back(static_cast<double>(last.traffic.up.total()));
      const double t = time_to(e, r);
      if (!std::isnan(t)) ++reached;
      to_target.push_back(std::isnan(t) ? std::numeric_limits<double>::infinity() : t);
    }
    // The median time to the target is finite when more than half of the seeds reach it.
    const double t_target = median(to_target);
    fmt::print("{:<26} {:>5} {:>6} {:>9.3f} {:>9.0f} {:>10.4f} {:>14} {:>6}/{}\n", curve.name, eta,
               rounds, median(bits) / 1e6, median(times), median(gaps),
               std::isfinite(t_target) ? fmt::format("{:.0f}", t_target) : "not reached", reached,
               seeds);
    std::fflush(stdout);
  }
}

}  // namespace laconic::examples::fedpaq
