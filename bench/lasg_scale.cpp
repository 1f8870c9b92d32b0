// LASG-WK2 with many workers: M ∈ {250, 500, 1000} on dense synthetic logistic regression
// with p = 10^4 features and 2 samples per worker (batch 1, η = 0.1, λ = 1e-4, D = 100,
// d_max = 10). Prints the per-round time at each M with the least-squares line through them
// (target: linear in M, i.e. a constant time per worker: the fitted line explains the points
// and the per-worker times agree), and the memory the simulation holds beyond the data, per
// worker, in units of p doubles (target: O(M·p) with a small constant; LASG-WK2 keeps, per
// worker, its last upload and the model it was computed at, plus a p-vector of scratch).
//
// Usage: bench_lasg_scale [rounds, default 20]

#include <laconic/laconic.hpp>

#include <fmt/format.h>

#include "timing.hpp"

#include <unistd.h>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

using namespace laconic;

namespace {

constexpr Index features = 10'000, samples_per_worker = 2;

// The resident set now (not the peak), from /proc/self/statm.
double rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

struct Measured {
  double seconds_per_round = 0;
  double state_bytes = 0;  // resident after the run minus resident with the data alone
};

Measured measure(Index workers, Index rounds) {
  const auto synthetic = data::make_logistic(
      {.samples = workers * samples_per_worker, .features = features, .seed = 1});
  std::vector<objective::Logistic> w;
  w.reserve(static_cast<std::size_t>(workers));
  for (const data::Shard& shard : data::partition(synthetic.data, {.workers = workers})) {
    w.emplace_back(shard, objective::Logistic::Params{.lambda = 1e-4});
  }
  const double with_data = rss_bytes();
  const LasgWk2 method{
      .skip = {.D = 100, .d_max = 10},
      .server = {.step = server::StepSize::constant(0.1), .batch = server::Batch::of(1)}};
  sim::Simulation simulation(method, std::move(w), Vector::Zero(features),
                             {.seed = 2, .rounds = rounds, .record_every = rounds});
  Measured out;
  out.seconds_per_round = bench::seconds_per_inner_round(simulation, rounds);
  out.state_bytes = rss_bytes() - with_data;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const Index rounds = argc > 1 ? std::atol(argv[1]) : 20;
  const std::vector<Index> sizes = {250, 500, 1000};
  std::vector<Measured> measured;
  for (const Index m : sizes) measured.push_back(measure(m, rounds));

  // Least squares t = a + b·M.
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const auto n = static_cast<double>(sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const auto x = static_cast<double>(sizes[i]);
    const double y = measured[i].seconds_per_round;
    sx += x, sy += y, sxx += x * x, sxy += x * y;
  }
  const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  const double intercept = (sy - slope * sx) / n;
  double residual = 0, total = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const double y = measured[i].seconds_per_round;
    const double fit = intercept + slope * static_cast<double>(sizes[i]);
    residual += (y - fit) * (y - fit);
    total += (y - sy / n) * (y - sy / n);
  }

  fmt::print("LASG-WK2, p = {}, {} samples per worker, batch 1, {} rounds\n", features,
             samples_per_worker, rounds);
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const auto m = static_cast<double>(sizes[i]);
    fmt::print(
        "  M = {:4}: {:8.3f} ms per round, {:6.2f} us per worker; state {:7.1f} MB = "
        "{:.2f} p-vectors of doubles per worker\n",
        sizes[i], measured[i].seconds_per_round * 1e3, measured[i].seconds_per_round / m * 1e6,
        measured[i].state_bytes / 1e6,
        measured[i].state_bytes / (m * static_cast<double>(features) * sizeof(double)));
  }
  fmt::print(
      "  fitted: {:.2f} us per worker per round + {:.3f} ms; R^2 = {:.4f} "
      "(target: linear, R^2 >= 0.99)\n",
      slope * 1e6, intercept * 1e3, 1 - residual / total);
  fmt::print("  per-worker time at M = {} over M = {}: {:.2f} (target: 1 +- 0.2)\n", sizes.back(),
             sizes.front(),
             measured.back().seconds_per_round / static_cast<double>(sizes.back()) /
                 (measured.front().seconds_per_round / static_cast<double>(sizes.front())));
  return 0;
}
