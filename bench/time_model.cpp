// What the heterogeneous time model costs (docs/simulation.md#simulated-time): SGD on M = 1000
// workers of synthetic logistic regression (50 samples of 200 features each, batch 10), with
// the cost model off against every part of it on — log-normal devices with exponential compute
// times, an availability trace (every worker always online, so that the same workers take part)
// and a deadline no upload misses (so that the same uploads count, through the path that holds
// them until the round's end). Both runs train identically; the ratio of their times per round
// is the model's own cost (target: at most 1.02). Also printed, without a target: over-selection
// keeping every upload (keep = M), whose uploads wait decoded until all have arrived.
//
// Usage: bench_time_model [repetitions, default 7]

#include <laconic/laconic.hpp>

#include <fmt/format.h>

#include "timing.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

using namespace laconic;

namespace {

constexpr Index workers = 1000, samples_per_worker = 50, features = 200, rounds = 40;

std::vector<objective::Logistic> make_workers() {
  const auto synthetic = data::make_logistic(
      {.samples = workers * samples_per_worker, .features = features, .seed = 1});
  std::vector<objective::Logistic> out;
  out.reserve(static_cast<std::size_t>(workers));
  for (const data::Shard& shard : data::partition(synthetic.data, {.workers = workers})) {
    out.emplace_back(shard, objective::Logistic::Params{.lambda = 1e-4});
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const int repetitions = argc > 1 ? std::atoi(argv[1]) : 7;
  const auto trace = std::filesystem::temp_directory_path() / "laconic_bench_online.csv";
  {
    std::ofstream out(trace);
    out << "worker,start,end\n";
    for (Index m = 0; m < workers; ++m) out << m << ",0,1e300\n";
  }
  sim::CostModel model{
      .shift = 1e-3, .exp_mean = 1e-3, .bandwidth_up = 1e6, .bandwidth_down = 1e7, .latency = 0.01};
  model.devices = {.compute_sigma = 1, .bandwidth_sigma = 1};
  model.availability.trace = trace.string();
  model.deadline = 1e300;

  const std::vector<objective::Logistic> data = make_workers();
  const Sgd method{
      .server = {.step = server::StepSize::constant(0.5), .batch = server::Batch::of(10)}};
  const auto per_round = [&](const sim::CostModel& cost) {
    sim::Simulation simulation(method, data, Vector::Zero(features),
                               {.seed = 3, .rounds = rounds, .record_every = rounds, .cost = cost});
    return bench::seconds_per_inner_round(simulation, rounds);
  };
  sim::CostModel keeping = model;
  keeping.keep = workers;
  // Interleaved, so that a change of the machine's load falls on both.
  std::vector<double> off, on, kept;
  for (int r = 0; r < repetitions; ++r) {
    off.push_back(per_round({}));
    on.push_back(per_round(model));
    kept.push_back(per_round(keeping));
  }
  const auto median = [](std::vector<double>& v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double base = median(off), timed = median(on), held = median(kept);
  // The same training either way.
  sim::Simulation a(method, data, Vector::Zero(features), {.seed = 3, .rounds = 5});
  sim::Simulation b(method, data, Vector::Zero(features), {.seed = 3, .rounds = 5, .cost = model});
  sim::Simulation c(method, data, Vector::Zero(features),
                    {.seed = 3, .rounds = 5, .cost = keeping});
  const Vector theta = a.run().theta;
  const bool same = b.run().theta == theta && c.run().theta == theta;
  std::filesystem::remove(trace);

  fmt::print("SGD, M = {} workers, {} samples x {} features each, batch 10 ({} runs)\n", workers,
             samples_per_worker, features, repetitions);
  fmt::print("  per round, cost model off: {:.3f} ms\n", base * 1e3);
  fmt::print("  per round, devices + availability trace + deadline: {:.3f} ms\n", timed * 1e3);
  fmt::print("  ratio {:.3f} (target <= 1.02); same theta: {}\n", timed / base, same);
  fmt::print("  with over-selection keeping all {} uploads: {:.3f} ms, ratio {:.3f}\n", workers,
             held * 1e3, held / base);
  return same ? 0 : 1;
}
