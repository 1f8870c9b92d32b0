// Load tests of sim/simulation.hpp: long and wide runs of LASG-WK2 with QSGD uploads. The
// resident set must not grow once the run is warm, and the server's lazy aggregate, kept by
// adding innovations round after round, must stay equal to the mean of what it holds for
// each worker, summed afresh.

#include <laconic/data/partition.hpp>
#include <laconic/data/synthetic.hpp>
#include <laconic/methods.hpp>
#include <laconic/objective/logistic.hpp>
#include <laconic/sim/simulation.hpp>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <unistd.h>
#include <algorithm>
#include <fstream>

using namespace laconic;

namespace {

// Resident set size in bytes, from /proc/self/statm; 0 where there is no /proc.
double resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

struct Soak {
  Index rounds, workers, samples_per_worker, threads;
};

void soak(const Soak& s) {
  if (resident_bytes() == 0) {
    WARN("SKIPPED: no /proc/self/statm to sample the resident set from");
    return;
  }
  const auto data =
      data::make_logistic(
          {.samples = s.workers * s.samples_per_worker, .features = 5, .noise = 0.1, .seed = 3})
          .data;
  std::vector<objective::Logistic> workers;
  for (const data::Shard& shard : data::partition(data, {.workers = s.workers}))
    workers.emplace_back(shard, objective::Logistic::Params{.lambda = 1e-3});
  const Laqsg<skip::LasgWk2> method{
      .skip = {.D = 10},
      .uplink = {.levels = 7},
      .server = {.step = server::StepSize::constant(0.05), .batch = server::Batch::of(2)}};
  const Index samples = 10;
  sim::Simulation sim(method, std::move(workers), Vector::Zero(5),
                      {.seed = 11,
                       .rounds = s.rounds,
                       .threads = static_cast<int>(s.threads),
                       .record_every = s.rounds / samples});

  double warm = 0, highest = 0, worst_gap = 0;
  Vector recomputed(5);
  const auto check = [&](const sim::RoundView& view) {
    if (view.round % (s.rounds / samples) != 0) return sim::Control::proceed;
    recomputed.setZero();
    for (Index m = 0; m < s.workers; ++m) recomputed += sim.contribution(m);
    recomputed /= static_cast<double>(s.workers);
    const double scale = std::max(1.0, recomputed.lpNorm<Eigen::Infinity>());
    worst_gap =
        std::max(worst_gap, (sim.aggregate() - recomputed).lpNorm<Eigen::Infinity>() / scale);
    const double rss = resident_bytes();
    if (view.round == s.rounds / samples) warm = rss;
    highest = std::max(highest, rss);
    return sim::Control::proceed;
  };
  const auto result = sim.run(check);
  fmt::print(
      "soak: {} rounds x {} workers in {:.1f} s; resident {:.1f} MiB after the first "
      "tenth, at most {:.1f} MiB after; lazy aggregate within {:.1e} of the sum\n",
      s.rounds, s.workers, result.wall_seconds, warm / (1 << 20), highest / (1 << 20), worst_gap);
  CHECK(result.status == sim::Status::completed);
  CHECK(sim.round() == s.rounds);
  // Every round counted; LASG-WK2 skipped some uploads, and QSGD sent fewer bits than fp32.
  const auto total = result.ledger.total();
  CHECK(total.uploads > 0);
  CHECK(total.uploads < static_cast<std::uint64_t>(s.rounds * s.workers));
  CHECK(total.up.total() < total.uploads * 32 * 5);
  CHECK(worst_gap <= 1e-9);
  CHECK(highest - warm <= 1 << 20);  // no growth beyond a MiB once warm
  // The run learned: the loss at θ = 0 is log 2, the best about 0.6 on these noisy labels.
  CHECK(result.history.rows.back().loss < 0.92 * result.history.rows.front().loss);
}

}  // namespace

TEST_CASE("a million rounds of LASG-WK2 with QSGD hold memory and the lazy sum", "[sim][slow]") {
  soak({.rounds = 1'000'000, .workers = 4, .samples_per_worker = 20, .threads = 1});
}

TEST_CASE("ten thousand rounds of 1000 workers hold memory and the lazy sum", "[sim][slow]") {
  soak({.rounds = 10'000, .workers = 1000, .samples_per_worker = 10, .threads = 2});
}
