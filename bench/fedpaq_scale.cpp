// FedPAQ at scale: n simulated workers with 20 samples of 50 features each (synthetic logistic
// regression), r = 100 participants per round, τ = 5 local steps of batch 10, QSGD s = 1,
// 100 rounds, for n = 10^4 and 10^5. Prints the per-round time at both sizes and their ratio
// (target: within 20%, i.e. the round costs O(r), not O(n)), and the peak resident memory
// against the dataset's own size (target: at most 1.5 × dataset + 100 MB, i.e. no O(n·p)
// per-worker state).
//
// Usage: bench_fedpaq_scale [largest n, default 100000]

#include <laconic/laconic.hpp>

#include <fmt/format.h>

#include "timing.hpp"

#include <sys/resource.h>

#include <cstdlib>
#include <vector>

using namespace laconic;

namespace {

constexpr Index samples_per_worker = 20, features = 50, participants = 100, rounds = 100;

double peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;  // Linux reports kilobytes
}

struct Measured {
  double seconds_per_round = 0;
  double dataset_bytes = 0;
};

Measured measure(Index n) {
  const auto synthetic =
      data::make_logistic({.samples = n * samples_per_worker, .features = features, .seed = 1});
  Measured out;
  out.dataset_bytes = static_cast<double>(synthetic.data->rows()) *
                      static_cast<double>(features + 1) * sizeof(double);
  std::vector<objective::Logistic> workers;
  workers.reserve(static_cast<std::size_t>(n));
  for (const data::Shard& shard : data::partition(synthetic.data, {.workers = n})) {
    workers.emplace_back(shard, objective::Logistic::Params{.lambda = 1e-4});
  }
  const FedPaq method{.uplink = {.levels = 1},
                      .server = {.step = server::StepSize::constant(0.1),
                                 .batch = server::Batch::of(10),
                                 .local_steps = 5,
                                 .participation = server::Participation::sample(participants)}};
  sim::Simulation simulation(method, std::move(workers), Vector::Zero(features),
                             {.seed = 2, .rounds = rounds, .record_every = rounds});
  // The first and last rounds' rows evaluate the loss on all n workers: O(n) by nature.
  out.seconds_per_round = bench::seconds_per_inner_round(simulation, rounds);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const Index largest = argc > 1 ? std::atol(argv[1]) : 100'000;
  const Index smaller = std::max<Index>(participants, largest / 10);
  const Measured small = measure(smaller);
  const Measured large = measure(largest);
  const double rss = peak_rss_bytes();
  const double budget = 1.5 * large.dataset_bytes + 100e6;
  fmt::print("FedPAQ, r = {}, tau = 5, B = 10, QSGD s = 1, {} features, {} samples per worker\n",
             participants, features, samples_per_worker);
  fmt::print("  per round, n = {:>7}: {:.3f} ms\n", smaller, small.seconds_per_round * 1e3);
  fmt::print("  per round, n = {:>7}: {:.3f} ms\n", largest, large.seconds_per_round * 1e3);
  fmt::print("  ratio {:.2f} (target <= 1.20)\n",
             large.seconds_per_round / small.seconds_per_round);
  fmt::print(
      "  peak RSS {:.0f} MB, dataset {:.0f} MB: {:.2f} of the budget 1.5 x dataset + 100 MB "
      "(target <= 1.00)\n",
      rss / 1e6, large.dataset_bytes / 1e6, rss / budget);
  return 0;
}
